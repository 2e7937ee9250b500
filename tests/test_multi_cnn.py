"""Several CNNs in one TRANSFER: a plan per CNN, one result table, the numbers of each alone."""

from __future__ import annotations

import pytest

from vista_sql.errors import VistaBindError
from vista_sql.execution.runner import BASELINE

TAIL = """
  LAYERS TOP 2
  ON images AS i (id, content) JOIN products AS p USING (id)
  TRAIN logistic_regression (LABEL is_popular, max_iter = 5)
  EVALUATE SPLIT 0.25
"""
RESNET, VGG = "resnet50 WEIGHTS RANDOM SEED 0", "vgg16 WEIGHTS RANDOM SEED 0"
METRICS = ("feature_dim", "n_train", "n_test", "accuracy", "f1", "auc")


def _rows(frame) -> dict:
    return {r.layer: tuple(getattr(r, m) for m in METRICS) for r in frame.collect()}


@pytest.fixture(scope="module")
def runs(vista, demo_views):
    both = vista.sql(f"TRANSFER FEATURES FROM {RESNET}, {VGG} {TAIL}")
    return (
        both,
        _rows(vista.sql(f"TRANSFER FEATURES FROM {RESNET} {TAIL}")),
        _rows(vista.sql(f"TRANSFER FEATURES FROM {VGG} {TAIL}")),
    )


def test_one_row_per_cnn_and_layer_after_a_single_baseline(runs):
    both, _, _ = runs
    assert both.columns[:2] == ["cnn", "layer"]
    assert [(r.cnn, r.layer) for r in both.collect()] == [
        (None, BASELINE),
        ("resnet50", "conv5_block3_out"),
        ("resnet50", "avg_pool"),
        ("vgg16", "fc1"),
        ("vgg16", "fc2"),
    ]


def test_metrics_equal_those_of_each_cnn_alone(runs):
    both, resnet, vgg = runs
    alone = {"resnet50": resnet, "vgg16": vgg}
    for row in both.collect():
        expected = resnet[BASELINE] if row.cnn is None else alone[row.cnn][row.layer]
        assert tuple(getattr(row, m) for m in METRICS) == expected
    assert resnet[BASELINE] == vgg[BASELINE]


def test_explain_shows_each_cnns_plan(vista, demo_views):
    text = vista.sql(f"EXPLAIN TRANSFER FEATURES FROM {RESNET}, {VGG} {TAIL}").first()[0]
    assert "==== cnn resnet50 (1 of 2) ====" in text and "==== cnn vgg16 (2 of 2) ====" in text
    resnet_part, vgg_part = text.split("==== cnn vgg16")
    assert "vista_resnet50_stage1" in resnet_part and "vista_vgg16_stage1" in vgg_part
    assert "vista_vgg16" not in resnet_part


def test_a_listed_layer_must_exist_in_every_cnn(vista, demo_views):
    statement = f"""TRANSFER FEATURES FROM {RESNET}, {VGG}
  LAYERS (avg_pool)
  ON images AS i (id, content) JOIN products AS p USING (id)
  TRAIN logistic_regression (LABEL is_popular)"""
    with pytest.raises(VistaBindError) as caught:
        vista.sql(statement)
    assert "unknown layer 'avg_pool' for vgg16" in caught.value.message
    assert (caught.value.line, caught.value.col) == (2, 11)


def test_the_same_cnn_twice_is_refused(vista, demo_views):
    with pytest.raises(VistaBindError) as caught:
        vista.sql(f"TRANSFER FEATURES FROM {RESNET}, {RESNET} {TAIL}")
    assert "listed twice" in caught.value.message and caught.value.col == 56
