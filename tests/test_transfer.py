"""The TRANSFER statement end to end on embedded Spark with real images and a real CNN."""

from __future__ import annotations

import json
import math

import pytest

from vista_sql.execution.runner import BASELINE

STATEMENT = """
TRANSFER FEATURES FROM mobilenetv2 WEIGHTS RANDOM LAYERS (global_average_pooling2d, block_15_add)
  ON images AS i (id, content) JOIN products AS p USING (id)
  {where}
  TRAIN logistic_regression (LABEL is_popular, max_iter = 5)
  EVALUATE SPLIT 0.25
  {materialize}
"""


@pytest.fixture(scope="module")
def result(vista, demo_views, tmp_path_factory):
    out = tmp_path_factory.mktemp("transfer") / "features"
    frame = vista.sql(STATEMENT.format(where="", materialize=f"MATERIALIZE INTO '{out}'"))
    return frame, out


def test_result_has_one_row_per_layer_deepest_last_after_the_baseline(result):
    frame, _ = result
    assert frame.columns == [
        "layer",
        "feature_dim",
        "n_train",
        "n_test",
        "accuracy",
        "f1",
        "auc",
        "seconds",
    ]
    rows = frame.collect()
    assert [r.layer for r in rows] == [BASELINE, "block_15_add", "global_average_pooling2d"]
    structured = 3  # hint, price, weight: numeric, not the key, not the label
    assert [r.feature_dim for r in rows] == [
        structured,
        structured + 2 * 2 * 160,
        structured + 1280,
    ]


def test_every_row_is_trained_and_evaluated_on_the_same_split(result, spark):
    rows = result[0].collect()
    joined = spark.sql("SELECT count(*) FROM images JOIN products USING (id)").first()[0]
    assert {(r.n_train, r.n_test) for r in rows} == {(rows[0].n_train, rows[0].n_test)}
    assert rows[0].n_train + rows[0].n_test == joined
    for row in rows:
        for metric in (row.accuracy, row.f1, row.auc):
            assert 0.0 <= metric <= 1.0 and not math.isnan(metric)
        assert row.seconds > 0


def test_materialize_writes_one_parquet_dataset_per_layer(result, spark):
    _, out = result
    assert sorted(p.name for p in out.iterdir()) == [
        ".vista.lock",  # held by whichever statement writes the target
        "_vista_manifest.json",
        "block_15_add",
        "global_average_pooling2d",
    ]
    manifest = json.loads((out / "_vista_manifest.json").read_text())["layers"]
    assert manifest["block_15_add"]["feature_dim"] == 640
    frame = spark.read.parquet(str(out / "global_average_pooling2d"))
    assert [(f.name, f.dataType.simpleString()) for f in frame.schema.fields] == [
        ("id", "int"),
        ("features", "array<float>"),
        ("image_version", "string"),  # the file's path|length|modification time
    ]
    assert {len(r.features) for r in frame.collect()} == {1280}


def test_stage_tables_are_released_after_the_statement(result, spark):
    cached = [t.name for t in spark.catalog.listTables() if t.name.startswith("__vista_")]
    assert cached == []


def test_where_on_structured_columns_filters_rows_before_training(vista, spark):
    rows = vista.sql(STATEMENT.format(where="WHERE p.price > 15", materialize="")).collect()
    expected = spark.sql(
        "SELECT count(*) FROM images JOIN products USING (id) WHERE price > 15"
    ).first()[0]
    assert rows[0].n_train + rows[0].n_test == expected < 40


def test_explain_shows_the_plan_and_its_sql_without_running(vista, spark):
    # reuse = false: the fixture recorded these layers, and loading them would skip the stages.
    statement = STATEMENT.format(where="", materialize="OPTIONS (reuse = false)")
    text = vista.sql("EXPLAIN " + statement).first()[0]
    assert "strategy: staged, join before inference" in text
    assert "Stage 0 [staged] block_15_add via vista_mobilenetv2_stage0(reads images)" in text
    assert "CACHE TABLE `__vista_" in text
    assert "vista_mobilenetv2_stage1(`__vista_out`.`tensors`)" in text
    assert not [t for t in spark.catalog.listTables() if t.name.startswith("__vista_")]
