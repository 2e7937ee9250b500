"""Session records: a TRANSFER without MATERIALIZE INTO keeps its features for later statements of
the session, which load them instead of inferring; bounded by a quota, shown by EXPLAIN."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pytest
from tolerances import METRIC

from vista_sql.execution import session_records

LAYER = "/maxpool/MaxPool_output_0"
STATEMENT = (
    "TRANSFER FEATURES FROM MODEL '{model}' LAYERS (`{layer}`) "
    "ON {images} AS i (id, content) JOIN products AS p USING (id) "
    "TRAIN {learner} (LABEL is_popular) OPTIONS (preprocess = 'torch')"
)


@contextmanager
def _records_on(spark, quota: str | None = None):
    """The suite's session runs with records off (each test expects its own inference)."""
    spark.conf.set(session_records.ENABLED, "true")
    if quota is not None:
        spark.conf.set(session_records.QUOTA, quota)
    try:
        yield
    finally:
        spark.conf.set(session_records.ENABLED, "false")
        spark.conf.unset(session_records.QUOTA)


def _inferred(vista) -> int:
    return sum(count or 0 for _, count in vista.last_metrics["inferred"].values())


def test_a_later_statement_loads_what_an_earlier_one_inferred(vista, spark, demo_views, onnx_block):
    first = STATEMENT.format(
        model=onnx_block, layer=LAYER, images="images", learner="logistic_regression"
    )
    with _records_on(spark):
        rows = {r.layer: r for r in vista.sql(first).collect()}
        assert _inferred(vista) == spark.sql("SELECT count(*) FROM images").first()[0]
        explained = vista.sql("EXPLAIN " + first).first()[0]
        again = {r.layer: r for r in vista.sql(first).collect()}
        assert _inferred(vista) == 0 and LAYER in vista.last_metrics["loaded"]
        other = STATEMENT.format(
            model=onnx_block, layer=LAYER, images="images", learner="naive_bayes"
        )
        other_rows = vista.sql(other).collect()
        assert _inferred(vista) == 0 and LAYER in vista.last_metrics["loaded"]
    # The same features read back: the same model and metrics, up to MLlib's summation order.
    for layer, row in rows.items():
        for metric in ("accuracy", "f1", "auc"):
            assert again[layer][metric] == pytest.approx(row[metric], abs=METRIC), (layer, metric)
    assert [r.layer for r in other_rows] == list(rows)
    assert f"Load {LAYER} from" in explained
    section = explained[explained.index("== session records ==") :].splitlines()[1]
    assert str(session_records.root(spark)) in section and " MB of 2,147.5 MB" in section


def test_the_quota_evicts_the_least_recently_used_record_and_off_writes_none(
    vista, spark, demo_views, onnx_block
):
    spark.sql("CREATE OR REPLACE TEMPORARY VIEW images_again AS SELECT * FROM images")
    first = STATEMENT.format(
        model=onnx_block, layer=LAYER, images="images", learner="logistic_regression"
    )
    second = first.replace("ON images AS", "ON images_again AS")
    with _records_on(spark, quota="1b"):
        vista.sql(first).collect()
        kept = set(Path(p).name for p in _record_dirs(spark))
        vista.sql(second).collect()
        now = set(Path(p).name for p in _record_dirs(spark))
    # Over a 1-byte quota only the statement's own record stays: the other one is gone.
    assert len(kept) >= 1 and len(now) == 1 and not (kept & now)
    # The same files through another view: their versions match the first record, which the
    # second statement loaded (recording it under its own directory) before the quota evicted it.
    assert _inferred(vista) == 0 and LAYER in vista.last_metrics["loaded"]
    before = set(_record_dirs(spark))
    spark.sql("CREATE OR REPLACE TEMPORARY VIEW images_third AS SELECT * FROM images")
    vista.sql(first.replace("ON images AS", "ON images_third AS")).collect()  # records off
    assert set(_record_dirs(spark)) == before


def _record_dirs(spark) -> list[str]:
    root = session_records.root(spark)
    return [str(p) for p in root.iterdir() if p.is_dir()]
