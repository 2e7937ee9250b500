"""Feature tables that stay current: a MATERIALIZE INTO target re-run after images were added,
changed or removed infers only those, and ends up as a from-scratch run on the new images would
(tests/growing.py: the images and the statement).
"""

from __future__ import annotations

import fcntl
import shutil

import numpy as np
import pytest
from growing import FIRST, LAYERS, growing_statement, growing_views, inferred
from tolerances import METRIC, assert_features_close

from vista_sql.errors import VistaExecutionError
from vista_sql.execution import run_views
from vista_sql.execution.recorded import REUSE_PATHS
from vista_sql.plan.manifest import LOCK, VERSION, Manifest


def _reuse(explain: str) -> str:
    return explain[explain.index("== reuse") : explain.index("== alternatives")]


def _features(spark, target) -> dict:
    """layer → {id: features} of the target's current versions."""
    recorded = Manifest.read(str(target))
    return {
        layer: {
            r.id: np.array(r.features)
            for r in spark.read.parquet(str(recorded.path(layer))).collect()
        }
        for layer in LAYERS
    }


def _assert_same_as_scratch(vista, spark, onnx_block, target, scratch, refreshed_rows):
    fresh = vista.sql(growing_statement(onnx_block, scratch, "reuse = false")).collect()
    # The same images through the same graph, batched otherwise: float noise only (tolerances).
    assert [r.layer for r in refreshed_rows] == [r.layer for r in fresh]
    for mine, theirs in zip(refreshed_rows, fresh, strict=True):
        assert mine.n_train + mine.n_test == theirs.n_train + theirs.n_test
        for metric in ("accuracy", "f1", "auc"):
            # Retrained on features equal to float noise: a class flips only with a score within
            # that noise of 0.5 (tolerances.METRIC's reasoning), so the metrics are equal.
            assert mine[metric] == pytest.approx(theirs[metric], abs=METRIC), (mine.layer, metric)
    have, want = _features(spark, target), _features(spark, scratch)
    for layer in LAYERS:
        assert sorted(have[layer]) == sorted(want[layer]), layer
        keys = sorted(want[layer])
        assert_features_close([have[layer][k] for k in keys], [want[layer][k] for k in keys], layer)


def test_only_new_changed_images_are_inferred_and_the_result_is_a_fresh_runs(
    vista, spark, demo_views, growing_folder, onnx_block, tmp_path, monkeypatch
):
    target = tmp_path / "features"
    statement = growing_statement(onnx_block, target, "refresh = true")
    vista.sql(statement).collect()
    assert inferred(vista) == [FIRST] * len(LAYERS)
    recorded = spark.read.parquet(str(Manifest.read(str(target)).path(LAYERS[0])))
    assert recorded.where(f"{VERSION} IS NULL").count() == 0

    # 5 images added: EXPLAIN says what the refresh will infer, the run infers just those.
    for image in sorted(demo_views.joinpath("images").glob("*.png"))[FIRST : FIRST + 5]:
        shutil.copy(image, growing_folder)
    explain = vista.sql("EXPLAIN " + statement).first()[0]
    assert f"{FIRST} rows recorded, 5 new, 0 changed, 0 removed → infer 5 (refresh)" in explain, (
        _reuse(explain)
    )
    before = {layer: _data_files(Manifest.read(str(target)).path(layer)) for layer in LAYERS}
    vista.sql(statement).collect()
    assert inferred(vista) == [5] * len(LAYERS)
    # Every recorded row is still current: the new versions keep the old files themselves
    # (the same inodes) and add the 5 rows beside them.
    for layer in LAYERS:
        after = Manifest.read(str(target)).path(layer)
        assert set(before[layer].values()) <= set(_data_files(after).values()), layer
        assert spark.read.parquet(str(after)).count() == FIRST + 5

    # 3 changed (other bytes under the same name), 4 removed: 3 inferred, 4 rows fewer.
    files = sorted(growing_folder.glob("*.png"))
    for changed, source in zip(files[:3], files[-3:], strict=True):
        changed.write_bytes(source.read_bytes())
    for gone in files[3:7]:
        gone.unlink()
    explain = vista.sql("EXPLAIN " + statement).first()[0]
    assert "35 rows recorded, 0 new, 3 changed, 4 removed → infer 3 (refresh)" in explain, _reuse(
        explain
    )
    # The first refresh filtered the keys the driver found stale; this one has Spark find
    # them (as above run_views.STALE_LITERALS keys): both must end as a from-scratch run.
    monkeypatch.setattr(run_views, "STALE_LITERALS", 0)
    refreshed = vista.sql(statement).collect()
    assert inferred(vista) == [3] * len(LAYERS)
    assert all(len(rows) == FIRST + 5 - 4 for rows in _features(spark, target).values())
    # Superseded versions are gone once the run is done; the manifest names the current ones.
    current = {Manifest.read(str(target)).path(layer).name for layer in LAYERS}
    assert {p.name for p in target.iterdir() if p.is_dir()} == current

    _assert_same_as_scratch(vista, spark, onnx_block, target, tmp_path / "scratch", refreshed)

    # Nothing changed since: every layer is loaded as it is, nothing inferred.
    explain = vista.sql("EXPLAIN " + statement).first()[0]
    assert explain.count(": loaded (") == len(LAYERS) and "Stage 0" not in explain, _reuse(explain)


def test_the_record_of_these_images_wins_over_one_of_other_images_listed_first(
    vista, spark, demo_views, growing_folder, onnx_block, tmp_path
):
    def statement(target, option):  # one layer, one iteration: what is loaded is the point
        text = growing_statement(onnx_block, target, option).replace("max_iter = 5", "max_iter = 1")
        layers = ", ".join(f"`{name}`" for name in LAYERS)
        return text.replace(layers, f"`{LAYERS[0]}`")

    # The same keys and CNN, but copies elsewhere: every one of their versions differs.
    copies = tmp_path / "copies"
    shutil.copytree(growing_folder, copies)
    vista.sql(growing_views(copies))
    vista.sql(statement(tmp_path / "others", "reuse = false")).collect()
    vista.sql(growing_views(growing_folder))
    vista.sql(statement(tmp_path / "these", "reuse = false")).collect()
    spark.conf.set(REUSE_PATHS, f"{tmp_path / 'others'},{tmp_path / 'these'}")
    try:
        vista.sql(statement(tmp_path / "new", "refresh = true")).collect()
    finally:
        spark.conf.unset(REUSE_PATHS)
    (loaded,) = vista.last_metrics["loaded"].values()
    assert loaded.startswith(str(tmp_path / "these")) and inferred(vista) == []


def _data_files(directory) -> dict[str, int]:
    return {p.name: p.stat().st_ino for p in directory.glob("*.parquet")}


def _view_over(vista, parquet) -> None:
    vista.sql(f"CREATE OR REPLACE TEMPORARY VIEW growing USING parquet OPTIONS (path '{parquet}')")


def test_images_from_a_table_are_versioned_by_a_hash_of_their_bytes(
    vista, spark, demo_views, growing_folder, onnx_block, tmp_path
):
    spark.table("growing").write.parquet(str(tmp_path / "table"))
    _view_over(vista, tmp_path / "table")
    target = tmp_path / "features"
    statement = growing_statement(onnx_block, target, "refresh = true")
    vista.sql(statement).collect()
    recorded = spark.read.parquet(str(Manifest.read(str(target)).path("logits")))
    assert recorded.where(f"{VERSION} LIKE 'sha256:%'").count() == FIRST

    # Two images' bytes changed under the same keys: the hashes tell, no file metadata needed.
    changed = spark.table("growing").selectExpr(
        "id", "IF(id IN (1, 2), concat(content, X'00'), content) AS content"
    )
    changed.write.parquet(str(tmp_path / "changed"))
    _view_over(vista, tmp_path / "changed")
    explain = vista.sql("EXPLAIN " + statement).first()[0]
    assert f"{FIRST} rows recorded, 0 new, 2 changed, 0 removed → infer 2 (refresh)" in explain


def test_a_target_another_statement_writes_is_refused_untouched(
    vista, demo_views, growing_folder, onnx_block, tmp_path
):
    target = tmp_path / "features"
    target.mkdir()
    with open(target / LOCK, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as a statement of another process or thread holds it
        with pytest.raises(VistaExecutionError, match="is being written by another statement"):
            vista.sql(growing_statement(onnx_block, target))
    assert [p.name for p in target.iterdir()] == [LOCK]


def test_records_are_compared_alike_on_the_driver_and_by_spark(spark):
    """Up to checks.LOCAL_ROWS the records' keys and versions are compared on the driver; above,
    by a Spark aggregate. Both count the same rows, removed and changed per record."""
    from vista_sql.plan.columns import KEY
    from vista_sql.statements import facts

    now = spark.createDataFrame(
        [(1, "a"), (2, "b"), (3, "c"), (4, None), (5, "e")], f"{KEY} int, now string"
    )
    stored = spark.createDataFrame(
        # record 0: 1 current, 2 changed, 4 without a version now (removed), 9 removed;
        # record 1: 3 changed (it had no version), 5 current; record 2 holds nothing.
        [(0, 1, "a"), (0, 2, "x"), (0, 4, None), (0, 9, "z"), (1, 3, None), (1, 5, "e")],
        f"record int, {KEY} int, was string",
    )
    here, needed_here = facts._counted_here(dict(now.collect()), stored)
    counts_here = {record: counted[:3] for record, counted in here.items()}
    assert (counts_here, needed_here) == ({0: (4, 2, 1), 1: (2, 0, 1)}, 5)
    # The driver also names the needed keys each record lacks as they are now: what a refresh
    # infers without Spark comparing them again (record 0 lacks 3 and 5, holds 2 changed).
    assert {record: counted[3] for record, counted in here.items()} == {0: {2, 3, 5}, 1: {1, 2, 3}}
    by_spark, needed = facts._counted_by_spark(now, stored)
    assert ({r: tuple(int(v) for v in c) for r, c in by_spark.items()}, needed) == (
        counts_here,
        needed_here,
    )


def test_image_versions_stated_on_the_driver_are_those_spark_reads(vista, spark, growing_folder):
    """Local image files are stat'ed on the driver (image_versions._stated_here) where a Spark
    scan of their metadata once gave the versions: records written either way must compare
    equal, or every image would read as changed. Two files under one key join their versions."""
    from types import SimpleNamespace

    from pyspark.sql import functions as F

    from vista_sql.execution import image_versions
    from vista_sql.plan.columns import KEY

    files = sorted(growing_folder.glob("*.png"))
    shutil.copy(files[0], growing_folder / f"x{files[0].name}")  # the same id a second time
    vista.sql(growing_views(growing_folder))  # listed again
    query = SimpleNamespace(images=SimpleNamespace(name="growing"), key="id", image="content")
    here = dict(image_versions._stated_here(spark, query).collect())
    by_spark = (
        image_versions._per_row(spark, query)
        .groupBy(KEY)
        .agg(F.array_join(F.sort_array(F.collect_list(VERSION)), " ").alias(VERSION))
    )
    assert here == dict(by_spark.collect())
    assert len(here) == len(files) and len(here[int(files[0].stem)].split(" ")) == 2
