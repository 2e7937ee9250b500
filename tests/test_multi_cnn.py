"""Several CNNs in one TRANSFER: a plan per CNN, one result table, the numbers of each alone."""

from __future__ import annotations

import pytest

from vista_sql.errors import VistaBindError
from vista_sql.execution.runner import BASELINE

# Twelve images: whether several CNNs give each one's numbers does not depend on how many.
FEW = "CREATE OR REPLACE TEMPORARY VIEW multi_images AS SELECT * FROM images WHERE id <= 12"
TAIL = """
  LAYERS TOP 2
  ON multi_images AS i (id, content) JOIN products AS p USING (id)
  TRAIN logistic_regression (LABEL is_popular, max_iter = 5)
  EVALUATE SPLIT 0.25
  OPTIONS (preprocess = 'torch')
"""
# Two small CNNs of different runtimes, so that one statement plans and runs both: the ONNX
# block (tests/onnx_models.py) and AlexNet (Keras, with a WEIGHTS clause of its own). What is
# checked is how a statement treats several CNNs, which no CNN's FLOPs change.
METRICS = ("feature_dim", "n_train", "n_test", "accuracy", "f1", "auc")
LAYERS = {"block": ["/Flatten_output_0", "logits"], "alexnet": ["fc6", "fc7"]}  # LAYERS TOP 2


def _rows(frame) -> dict:
    return {r.layer: tuple(getattr(r, m) for m in METRICS) for r in frame.collect()}


@pytest.fixture(scope="module", autouse=True)
def multi_images(vista, demo_views):
    vista.sql(FEW)


@pytest.fixture(scope="module")
def cnns(onnx_block):
    return f"MODEL '{onnx_block}'", "alexnet WEIGHTS RANDOM SEED 0"


@pytest.fixture(scope="module")
def runs(vista, demo_views, cnns):
    block, alexnet = cnns
    both = vista.sql(f"TRANSFER FEATURES FROM {block}, {alexnet} {TAIL}")
    return (
        both,
        _rows(vista.sql(f"TRANSFER FEATURES FROM {block} {TAIL}")),
        _rows(vista.sql(f"TRANSFER FEATURES FROM {alexnet} {TAIL}")),
    )


def test_one_row_per_cnn_and_layer_after_a_single_baseline(runs):
    both, _, _ = runs
    assert both.columns[:2] == ["cnn", "layer"]
    assert [(r.cnn, r.layer) for r in both.collect()] == [
        (None, BASELINE),
        *(("block", layer) for layer in LAYERS["block"]),
        *(("alexnet", layer) for layer in LAYERS["alexnet"]),
    ]


def test_metrics_equal_those_of_each_cnn_alone(runs):
    both, block, alexnet = runs
    alone = {"block": block, "alexnet": alexnet}
    for row in both.collect():
        expected = block[BASELINE] if row.cnn is None else alone[row.cnn][row.layer]
        # Exact: each CNN is planned on its own as when alone, so this process runs the same
        # plan, the same batches and kernels, twice.
        assert tuple(getattr(row, m) for m in METRICS) == expected
    assert block[BASELINE] == alexnet[BASELINE]


def test_explain_shows_each_cnns_plan(vista, demo_views, cnns):
    block, alexnet = cnns
    text = vista.sql(f"EXPLAIN TRANSFER FEATURES FROM {block}, {alexnet} {TAIL}").first()[0]
    assert "==== cnn block (1 of 2) ====" in text
    assert "==== cnn alexnet (2 of 2) ====" in text
    block_part, alexnet_part = text.split("==== cnn alexnet")
    assert "vista_block_stage" in block_part and "vista_alexnet_stage" in alexnet_part
    assert "vista_alexnet" not in block_part


def test_a_listed_layer_must_exist_in_every_cnn(vista, demo_views, cnns):
    statement = f"""TRANSFER FEATURES FROM {", ".join(cnns)}
  LAYERS (logits)
  ON multi_images AS i (id, content) JOIN products AS p USING (id)
  TRAIN logistic_regression (LABEL is_popular)
  OPTIONS (preprocess = 'torch')"""
    with pytest.raises(VistaBindError) as caught:
        vista.sql(statement)
    assert "unknown layer 'logits' for alexnet" in caught.value.message
    assert (caught.value.line, caught.value.col) == (2, 11)


def test_the_same_cnn_twice_is_refused(vista, demo_views, cnns):
    block = cnns[0]
    statement = f"TRANSFER FEATURES FROM {block}, {block} {TAIL}"
    with pytest.raises(VistaBindError) as caught:
        vista.sql(statement)
    # Where the second listing names its file, as a zoo CNN's error points at its name.
    second = statement.rindex(block) + len("MODEL ") + 1
    assert "listed twice" in caught.value.message and caught.value.col == second
