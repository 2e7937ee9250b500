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
"""
# Two small CNNs of different families: the suite's time goes to what is checked, not to FLOPs.
MOBILENET, ALEXNET = "mobilenetv2 WEIGHTS RANDOM SEED 0", "alexnet WEIGHTS RANDOM SEED 0"
METRICS = ("feature_dim", "n_train", "n_test", "accuracy", "f1", "auc")


def _rows(frame) -> dict:
    return {r.layer: tuple(getattr(r, m) for m in METRICS) for r in frame.collect()}


@pytest.fixture(scope="module", autouse=True)
def multi_images(vista, demo_views):
    vista.sql(FEW)


@pytest.fixture(scope="module")
def runs(vista, demo_views):
    both = vista.sql(f"TRANSFER FEATURES FROM {MOBILENET}, {ALEXNET} {TAIL}")
    return (
        both,
        _rows(vista.sql(f"TRANSFER FEATURES FROM {MOBILENET} {TAIL}")),
        _rows(vista.sql(f"TRANSFER FEATURES FROM {ALEXNET} {TAIL}")),
    )


def test_one_row_per_cnn_and_layer_after_a_single_baseline(runs):
    both, _, _ = runs
    assert both.columns[:2] == ["cnn", "layer"]
    assert [(r.cnn, r.layer) for r in both.collect()] == [
        (None, BASELINE),
        ("mobilenetv2", "out_relu"),
        ("mobilenetv2", "global_average_pooling2d"),
        ("alexnet", "fc6"),
        ("alexnet", "fc7"),
    ]


def test_metrics_equal_those_of_each_cnn_alone(runs):
    both, mobilenet, alexnet = runs
    alone = {"mobilenetv2": mobilenet, "alexnet": alexnet}
    for row in both.collect():
        expected = mobilenet[BASELINE] if row.cnn is None else alone[row.cnn][row.layer]
        # Exact: each CNN is planned on its own as when alone, so this process runs the same
        # plan, the same batches and kernels, twice.
        assert tuple(getattr(row, m) for m in METRICS) == expected
    assert mobilenet[BASELINE] == alexnet[BASELINE]


def test_explain_shows_each_cnns_plan(vista, demo_views):
    text = vista.sql(f"EXPLAIN TRANSFER FEATURES FROM {MOBILENET}, {ALEXNET} {TAIL}").first()[0]
    assert "==== cnn mobilenetv2 (1 of 2) ====" in text
    assert "==== cnn alexnet (2 of 2) ====" in text
    mobilenet_part, alexnet_part = text.split("==== cnn alexnet")
    assert "vista_mobilenetv2_stage" in mobilenet_part and "vista_alexnet_stage" in alexnet_part
    assert "vista_alexnet" not in mobilenet_part


def test_a_listed_layer_must_exist_in_every_cnn(vista, demo_views):
    statement = f"""TRANSFER FEATURES FROM {MOBILENET}, {ALEXNET}
  LAYERS (global_average_pooling2d)
  ON multi_images AS i (id, content) JOIN products AS p USING (id)
  TRAIN logistic_regression (LABEL is_popular)"""
    with pytest.raises(VistaBindError) as caught:
        vista.sql(statement)
    assert "unknown layer 'global_average_pooling2d' for alexnet" in caught.value.message
    assert (caught.value.line, caught.value.col) == (2, 11)


def test_the_same_cnn_twice_is_refused(vista, demo_views):
    with pytest.raises(VistaBindError) as caught:
        vista.sql(f"TRANSFER FEATURES FROM {MOBILENET}, {MOBILENET} {TAIL}")
    second = len("TRANSFER FEATURES FROM ") + len(MOBILENET) + len(", ") + 1
    assert "listed twice" in caught.value.message and caught.value.col == second
