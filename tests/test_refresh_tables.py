"""Feature tables by name (MATERIALIZE INTO TABLE, REFRESH FEATURES, SHOW FEATURE TABLES) and a
refresh killed midway (tests/growing.py: the images and the statement)."""

from __future__ import annotations

import shutil

import pytest
from growing import FIRST, LAYERS, growing_statement, growing_views, inferred
from killed_driver import kill_when

from vista_sql.errors import VistaBindError
from vista_sql.plan.feature_tables import read_info
from vista_sql.plan.manifest import Manifest


def test_a_table_by_name_is_queried_refreshed_listed_and_found_again(
    vista, spark, demo_views, growing_folder, onnx_block, tmp_path
):
    from vista_sql import VistaSession

    vista.sql(f"SET vista.features.dir = {tmp_path / 'tables'}")
    try:
        statement = growing_statement(onnx_block, "x", "refresh = true")
        statement = statement.replace("MATERIALIZE INTO 'x'", "MATERIALIZE INTO TABLE shop.items")
        spark.sql("CREATE DATABASE IF NOT EXISTS shop")
        vista.sql(statement).collect()
        table = spark.table("shop.items")
        assert table.columns == ["key", "layer", "features"]
        counts = {r.layer: r[1] for r in table.groupBy("layer").count().collect()}
        assert counts == dict.fromkeys(LAYERS, FIRST)

        for image in sorted(demo_views.joinpath("images").glob("*.png"))[FIRST : FIRST + 4]:
            shutil.copy(image, growing_folder)
        # An extraction: written rows and what changed per layer, no model trained.
        refreshed = vista.sql("REFRESH FEATURES shop.items").collect()
        assert inferred(vista) == [4] * len(LAYERS)
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
    vista, spark, demo_views, growing_folder, onnx_block, tmp_path
):
    from conftest import demo_views_sql

    target = tmp_path / "features"
    statement = growing_statement(onnx_block, target, "refresh = true")
    vista.sql(statement).collect()
    for image in sorted(demo_views.joinpath("images").glob("*.png"))[FIRST : FIRST + 5]:
        shutil.copy(image, growing_folder)
    views = demo_views_sql(demo_views) + growing_views(growing_folder)
    script = tmp_path / "refresh.sql"
    script.write_text(views + statement + ";\n")
    # Killed once the staged plan recorded its first refreshed layer: the other still old.
    kill_when(
        script,
        lambda: any(
            e.directory.endswith(".v2") for e in Manifest.read(str(target)).layers.values()
        ),
        "a layer was recorded",
    )

    # Each layer is one whole version, old or new, and readable as the manifest names it.
    recorded = Manifest.read(str(target))
    rows = {layer: spark.read.parquet(str(recorded.path(layer))).count() for layer in LAYERS}
    assert rows == {layer: entry.rows for layer, entry in recorded.layers.items()}
    assert sorted(rows.values())[0] == FIRST and max(rows.values()) == FIRST + 5, rows

    vista.sql(statement).collect()
    assert inferred(vista) == [5] * len(LAYERS)
    recorded = Manifest.read(str(target))
    assert all(entry.rows == FIRST + 5 for entry in recorded.layers.values())
    # Versions the killed run left behind (superseded or never recorded) are gone.
    current = {recorded.path(layer).name for layer in LAYERS}
    assert {p.name for p in target.iterdir() if p.is_dir()} == current
