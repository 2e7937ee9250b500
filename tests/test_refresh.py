"""Feature tables that stay current: a MATERIALIZE INTO target re-run after images were added,
changed or removed infers only those, and ends up as a from-scratch run on the new images would.

The CNN is the small ONNX graph (tests/onnx_models.py): what is proven here is which rows reach
the CNN and what is kept, not a model's numbers.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx_models
import pytest
from tolerances import METRIC, assert_features_close

from vista_sql.errors import VistaBindError, VistaExecutionError
from vista_sql.plan.feature_tables import read_info
from vista_sql.plan.manifest import LOCK, VERSION, Manifest

LAYERS = ("/maxpool/MaxPool_output_0", "/layer1/layer1.0/relu/Relu_output_0", "logits")
FIRST = 30  # images at first; the demo data has 40


def _statement(block, target, *options) -> str:
    """The statement the tests re-run. On this tiny CNN inference costs next to nothing, so the
    cost model rightly prefers recomputing to reading the records back (tests/test_refresh_costs
    shows where it prefers refreshing); `refresh = true` makes it refresh here."""
    layers = ", ".join(f"`{name}`" for name in LAYERS)
    return (
        f"TRANSFER FEATURES FROM MODEL '{block}' LAYERS ({layers}) "
        "ON growing AS i (id, content) JOIN products USING (id) "
        "TRAIN logistic_regression (LABEL is_popular, max_iter = 5) "
        f"MATERIALIZE INTO '{target}' "
        f"OPTIONS (preprocess = 'torch', plan = 'staged'{''.join(', ' + o for o in options)})"
    )


@pytest.fixture(scope="module")
def block(tmp_path_factory):
    return onnx_models.resnet_basic_block(tmp_path_factory.mktemp("refresh") / "block.onnx")


@pytest.fixture()
def folder(vista, demo_views, tmp_path):
    """A folder of FIRST demo images behind the view `growing`."""
    folder = tmp_path / "images"
    folder.mkdir()
    for image in sorted(demo_views.joinpath("images").glob("*.png"))[:FIRST]:
        shutil.copy(image, folder)
    vista.sql(_growing_views(folder))
    return folder


def _growing_views(folder) -> str:
    return (
        f"CREATE OR REPLACE TEMPORARY VIEW growing_files USING binaryFile "
        f"OPTIONS (path '{folder}', pathGlobFilter '*.png');"
        "CREATE OR REPLACE TEMPORARY VIEW growing AS "
        "SELECT CAST(regexp_extract(path, '([0-9]+)[.]png$', 1) AS INT) AS id, content "
        "FROM growing_files;"
    )


def _reuse(explain: str) -> str:
    return explain[explain.index("== reuse") : explain.index("== alternatives")]


def _inferred(vista) -> list[int]:
    return [count for _, count in sorted(vista.last_metrics["inferred"].values())]


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


def _assert_same_as_scratch(vista, spark, block, target, scratch, refreshed_rows):
    fresh = vista.sql(_statement(block, scratch, "reuse = false")).collect()
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
    vista, spark, demo_views, folder, block, tmp_path
):
    target = tmp_path / "features"
    statement = _statement(block, target, "refresh = true")
    vista.sql(statement).collect()
    assert _inferred(vista) == [FIRST] * len(LAYERS)
    recorded = spark.read.parquet(str(Manifest.read(str(target)).path(LAYERS[0])))
    assert recorded.where(f"{VERSION} IS NULL").count() == 0

    # 5 images added: EXPLAIN says what the refresh will infer, the run infers just those.
    for image in sorted(demo_views.joinpath("images").glob("*.png"))[FIRST : FIRST + 5]:
        shutil.copy(image, folder)
    explain = vista.sql("EXPLAIN " + statement).first()[0]
    assert f"{FIRST} rows recorded, 5 new, 0 changed, 0 removed → infer 5 (refresh)" in explain, (
        _reuse(explain)
    )
    before = {layer: _data_files(Manifest.read(str(target)).path(layer)) for layer in LAYERS}
    vista.sql(statement).collect()
    assert _inferred(vista) == [5] * len(LAYERS)
    # Every recorded row is still current: the new versions keep the old files themselves
    # (the same inodes) and add the 5 rows beside them.
    for layer in LAYERS:
        after = Manifest.read(str(target)).path(layer)
        assert set(before[layer].values()) <= set(_data_files(after).values()), layer
        assert spark.read.parquet(str(after)).count() == FIRST + 5

    # 3 changed (other bytes under the same name), 4 removed: 3 inferred, 4 rows fewer.
    files = sorted(folder.glob("*.png"))
    for changed, source in zip(files[:3], files[-3:], strict=True):
        changed.write_bytes(source.read_bytes())
    for gone in files[3:7]:
        gone.unlink()
    explain = vista.sql("EXPLAIN " + statement).first()[0]
    assert "35 rows recorded, 0 new, 3 changed, 4 removed → infer 3 (refresh)" in explain, _reuse(
        explain
    )
    refreshed = vista.sql(statement).collect()
    assert _inferred(vista) == [3] * len(LAYERS)
    assert all(len(rows) == FIRST + 5 - 4 for rows in _features(spark, target).values())
    # Superseded versions are gone once the run is done; the manifest names the current ones.
    current = {Manifest.read(str(target)).path(layer).name for layer in LAYERS}
    assert {p.name for p in target.iterdir() if p.is_dir()} == current

    _assert_same_as_scratch(vista, spark, block, target, tmp_path / "scratch", refreshed)

    # Nothing changed since: every layer is loaded as it is, nothing inferred.
    explain = vista.sql("EXPLAIN " + statement).first()[0]
    assert explain.count(": loaded (") == len(LAYERS) and "Stage 0" not in explain, _reuse(explain)


def _data_files(directory) -> dict[str, int]:
    return {p.name: p.stat().st_ino for p in directory.glob("*.parquet")}


def _view_over(vista, parquet) -> None:
    vista.sql(f"CREATE OR REPLACE TEMPORARY VIEW growing USING parquet OPTIONS (path '{parquet}')")


def test_images_from_a_table_are_versioned_by_a_hash_of_their_bytes(
    vista, spark, demo_views, folder, block, tmp_path
):
    spark.table("growing").write.parquet(str(tmp_path / "table"))
    _view_over(vista, tmp_path / "table")
    target = tmp_path / "features"
    statement = _statement(block, target, "refresh = true")
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
    vista, demo_views, folder, block, tmp_path
):
    target = tmp_path / "features"
    target.mkdir()
    with open(target / LOCK, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as a statement of another process or thread holds it
        with pytest.raises(VistaExecutionError, match="is being written by another statement"):
            vista.sql(_statement(block, target))
    assert [p.name for p in target.iterdir()] == [LOCK]


def test_a_table_by_name_is_queried_refreshed_listed_and_found_again(
    vista, spark, demo_views, folder, block, tmp_path
):
    from vista_sql import VistaSession

    vista.sql(f"SET vista.features.dir = {tmp_path / 'tables'}")
    try:
        statement = _statement(block, "x", "refresh = true")
        statement = statement.replace("MATERIALIZE INTO 'x'", "MATERIALIZE INTO TABLE shop.items")
        spark.sql("CREATE DATABASE IF NOT EXISTS shop")
        vista.sql(statement).collect()
        table = spark.table("shop.items")
        assert table.columns == ["key", "layer", "features"]
        counts = {r.layer: r[1] for r in table.groupBy("layer").count().collect()}
        assert counts == dict.fromkeys(LAYERS, FIRST)

        for image in sorted(demo_views.joinpath("images").glob("*.png"))[FIRST : FIRST + 4]:
            shutil.copy(image, folder)
        # An extraction: written rows and what changed per layer, no model trained.
        refreshed = vista.sql("REFRESH FEATURES shop.items").collect()
        assert _inferred(vista) == [4] * len(LAYERS)
        assert [tuple(r)[:-1] for r in refreshed] == [
            (layer, FIRST + 4, "refreshed", 4, 0, 0, 4) for layer in LAYERS
        ]
        counts = {
            r.layer: r[1] for r in spark.table("shop.items").groupBy("layer").count().collect()
        }
        assert counts == dict.fromkeys(LAYERS, FIRST + 4)

        # The REFRESH's options override the recorded statement's, for this run only.
        rebuilt = vista.sql("REFRESH FEATURES shop.items OPTIONS (reuse = false)").collect()
        assert [(r.layer, r.rows, r.action, r.inferred) for r in rebuilt] == [
            (layer, FIRST + 4, "computed", FIRST + 4) for layer in LAYERS
        ]
        info = read_info(tmp_path / "tables" / "shop" / "items")
        assert "reuse" not in info.statement and "refresh = TRUE" in info.statement

        (shown,) = vista.sql("SHOW FEATURE TABLES").collect()
        assert (shown.name, shown.layers, shown.rows) == (
            "shop.items",
            ", ".join(sorted(LAYERS)),
            34,
        )
        assert shown.path == str(tmp_path / "tables" / "shop" / "items")

        # A new session finds it by its path in vista.features.dir.
        spark.sql("DROP VIEW shop.items")
        VistaSession(spark)
        assert spark.table("shop.items").count() == len(LAYERS) * (FIRST + 4)

        with pytest.raises(VistaBindError, match=r"^1:18: no feature table 'shop.nothing' to"):
            vista.sql("REFRESH FEATURES shop.nothing")
    finally:
        spark.sql("DROP VIEW IF EXISTS shop.items")
        spark.sql("DROP DATABASE IF EXISTS shop")
        spark.conf.unset("vista.features.dir")


def test_a_refresh_killed_midway_leaves_every_layer_readable_and_the_next_run_completes_it(
    vista, spark, demo_views, folder, block, tmp_path
):
    from conftest import demo_views_sql

    target = tmp_path / "features"
    statement = _statement(block, target, "refresh = true")
    vista.sql(statement).collect()
    for image in sorted(demo_views.joinpath("images").glob("*.png"))[FIRST : FIRST + 5]:
        shutil.copy(image, folder)
    views = demo_views_sql(demo_views) + _growing_views(folder)
    script = tmp_path / "refresh.sql"
    script.write_text(views + statement + ";\n")
    job = subprocess.Popen(
        [str(Path(sys.executable).with_name("vista-sql")), "-f", str(script)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its JVM and Python workers die with it
    )
    try:
        deadline = time.monotonic() + 300
        # Killed once the staged plan recorded its first refreshed layer: the others still old.
        while job.poll() is None and time.monotonic() < deadline:
            if any(e.directory.endswith(".v2") for e in Manifest.read(str(target)).layers.values()):
                break
            time.sleep(0.05)
        assert job.poll() is None, "the refresh ended before a layer was recorded"
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()

    # Each layer is one whole version, old or new, and readable as the manifest names it.
    recorded = Manifest.read(str(target))
    rows = {layer: spark.read.parquet(str(recorded.path(layer))).count() for layer in LAYERS}
    assert rows == {layer: entry.rows for layer, entry in recorded.layers.items()}
    assert sorted(rows.values())[0] == FIRST and max(rows.values()) == FIRST + 5, rows

    vista.sql(statement).collect()
    assert _inferred(vista) == [5] * len(LAYERS)
    recorded = Manifest.read(str(target))
    assert all(entry.rows == FIRST + 5 for entry in recorded.layers.values())
    # Versions the killed run left behind (superseded or never recorded) are gone.
    current = {recorded.path(layer).name for layer in LAYERS}
    assert {p.name for p in target.iterdir() if p.is_dir()} == current
