"""The TRANSFER statement end to end on embedded Spark with real images and a real CNN."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from tolerances import METRIC

from vista_sql.execution.runner import BASELINE
from vista_sql.plan.binder import DEFAULT_SEED

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
    # Kept under another name: a later TRANSFER in this file replaces vista_held_out.
    vista.spark.table("vista_held_out").createOrReplaceTempView("transfer_held_out")
    return frame, out


def test_result_has_one_row_per_layer_deepest_last_after_the_baseline(result):
    frame, _ = result
    assert frame.columns == [
        "layer",
        "feature_dim",
        "n_train",
        "n_test",
        *(f"{m}{end}" for m in ("accuracy", "f1", "auc") for end in ("", "_low", "_high")),
        "vs_baseline",
        "p_value",
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


def test_intervals_and_p_values_equal_an_independent_computation(result, spark):
    """The 95 % bootstrap intervals and the p-values, recomputed from vista_held_out one
    resample at a time with scikit-learn and SciPy (the product scores all resamples at once)."""
    from scipy import stats
    from sklearn import metrics

    frame, _ = result
    rows = {r.layer: r for r in frame.collect()}
    held = {}
    for h in spark.table("transfer_held_out").collect():
        held.setdefault(h.layer, []).append(h)
    measures = {
        "accuracy": lambda y, p, _: float(np.mean(y == p)),
        "f1": lambda y, p, _: metrics.f1_score(y, p, average="weighted", zero_division=0),
        "auc": _mann_whitney_auc,
    }
    base = sorted(held[BASELINE], key=lambda h: int(h.key))
    for layer, row in rows.items():
        mine = sorted(held[layer], key=lambda h: int(h.key))
        assert [h.key for h in mine] == [h.key for h in base]  # the same held-out rows
        y, p, s = (
            np.array([getattr(h, c) for h in mine]) for c in ("label", "prediction", "score")
        )
        # The same seeded draws for every row of the result: one block at this size.
        draws = np.random.default_rng(DEFAULT_SEED).integers(0, len(y), size=(1000, len(y)))
        for name, measure in measures.items():
            whole = measure(y, p, s)
            # MLlib's evaluators and scikit-learn add the same terms in another order.
            assert getattr(row, name) == pytest.approx(whole, abs=METRIC), (layer, name)
            per_draw = [measure(y[d], p[d], s[d]) for d in draws]
            low, high = np.nanpercentile(per_draw, [2.5, 97.5])
            assert (getattr(row, f"{name}_low"), getattr(row, f"{name}_high")) == pytest.approx(
                (low, high), abs=METRIC
            ), (layer, name)
        if layer == BASELINE:
            assert row.vs_baseline is None and row.p_value is None
            continue
        assert row.vs_baseline == pytest.approx(row.accuracy - rows[BASELINE].accuracy, abs=1e-15)
        right, base_right = y == p, np.array([h.label == h.prediction for h in base])
        only_layer, only_base = int((right & ~base_right).sum()), int((~right & base_right).sum())
        both = only_layer + only_base
        exact = (
            1.0
            if both == 0
            else min(1.0, 2 * stats.binom.cdf(min(only_layer, only_base), both, 0.5))
        )
        assert row.p_value == pytest.approx(exact, abs=1e-12), layer


def _mann_whitney_auc(y, _, score) -> float:
    """AUC as the Mann-Whitney U of the positives' scores over the negatives' (ties count 1/2)."""
    from scipy import stats

    positive, negative = score[y == 1], score[y == 0]
    if not len(positive) or not len(negative):
        return math.nan
    u = stats.mannwhitneyu(positive, negative, method="asymptotic").statistic
    return u / (len(positive) * len(negative))


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


def test_images_that_all_decode_leave_vista_skipped_empty(result, spark):
    # The stage's own count of undecodable rows, 0 here, stands in for querying its table.
    skipped = spark.table("vista_skipped")
    assert skipped.columns == ["key", "reason"] and skipped.collect() == []


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


def test_the_same_statement_again_reuses_sparks_generated_code(vista, demo_views, onnx_block):
    """Spark compiles each generated class once and keeps the last 1,000; a TRANSFER makes
    60-110 of them, so with Spark's default of 100 kept, running a statement again compiled
    almost all of them anew."""
    codegen = vista.spark.sparkContext._jvm.org.apache.spark.metrics.source.CodegenMetrics
    statement = (
        f"TRANSFER FEATURES FROM MODEL '{onnx_block}' LAYERS (logits) "
        "ON images AS i (id, content) JOIN products USING (id) "
        "TRAIN logistic_regression (LABEL is_popular, max_iter = 2) "
        "OPTIONS (preprocess = 'torch', reuse = false)"
    )
    compiled = []
    for _ in range(2):
        before = codegen.METRIC_COMPILATION_TIME().getCount()
        vista.sql(statement).collect()
        compiled.append(codegen.METRIC_COMPILATION_TIME().getCount() - before)
    # 0-6 are new the second time (a DISTINCT aggregate whose two keys Spark orders either way),
    # against 60-110 with Spark's default.
    assert compiled[1] <= 20, compiled
