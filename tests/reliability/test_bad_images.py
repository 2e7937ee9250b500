"""Unclean images: bad ones are skipped (or stop the statement), odd but valid ones are used."""

from __future__ import annotations

import io
import logging

import numpy as np
import pytest
from PIL import Image

from vista_sql.catalog import images
from vista_sql.errors import VistaBindError, VistaExecutionError


def _png(mode: str, size=(40, 30), value=100) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, value if mode in ("L", "I;16") else (value,) * len(mode)).save(
        buffer, format="PNG" if mode != "CMYK" else "JPEG"
    )
    return buffer.getvalue()


def _bomb() -> bytes:
    # A tiny PNG whose header claims 20000×20000 pixels.
    buffer = io.BytesIO()
    Image.new("L", (20000, 20000)).save(buffer, format="PNG")
    return buffer.getvalue()


GOOD = {
    "grayscale": _png("L"),
    "rgba": _png("RGBA"),
    "cmyk jpeg": _png("CMYK"),
    "16-bit png": _png("I;16", value=40000),
}
BAD = {
    "truncated": _png("RGB")[:60],
    "not an image": b"GIF89a? no, just text",
    "zero bytes": b"",
    "NULL": None,
    "decompression bomb": _bomb(),
}


@pytest.mark.parametrize("name", sorted(GOOD))
def test_odd_but_valid_images_decode_to_rgb(name):
    decoded = images.decode(GOOD[name], (32, 32))
    assert decoded.shape == (32, 32, 3) and decoded.dtype == np.float32


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_images_raise_a_one_line_reason(name):
    with pytest.raises(images.ImageDecodeError) as caught:
        images.decode(BAD[name], (32, 32))
    assert "\n" not in str(caught.value)
    if name == "decompression bomb":
        assert "decompression bomb" in str(caught.value)


@pytest.fixture(scope="module")
def dirty(vista, spark, demo_views):
    payloads = list(GOOD.values()) + list(BAD.values())
    rows = [(i + 1, payload) for i, payload in enumerate(payloads)]
    spark.createDataFrame(rows, "id int, content binary").createOrReplaceTempView("dirty_images")
    return len(GOOD), len(BAD)


STATEMENT = (
    "TRANSFER FEATURES FROM mobilenetv2 WEIGHTS RANDOM LAYERS (global_average_pooling2d) "
    "ON dirty_images AS i (id, content) JOIN products USING (id) "
    "TRAIN logistic_regression (LABEL is_popular) {tail}"
)


def test_bad_rows_are_skipped_and_reported(vista, dirty, caplog):
    good, bad = dirty
    with caplog.at_level(logging.WARNING, logger="vista_sql"):
        rows = vista.sql(STATEMENT.format(tail="EVALUATE SPLIT 0.5")).collect()
    assert rows[0].n_train + rows[0].n_test == good + bad  # the baseline keeps every row
    assert rows[1].n_train + rows[1].n_test == good
    warning = next(r.getMessage() for r in caplog.records if "skipped" in r.getMessage())
    assert f"skipped {bad} rows" in warning and "key " in warning


def test_on_error_fail_stops_at_the_first_bad_image_naming_its_key(vista, dirty, tmp_path):
    with pytest.raises(VistaExecutionError) as caught:
        vista.sql(
            STATEMENT.format(
                tail=f"MATERIALIZE INTO '{tmp_path / 'out'}' OPTIONS (on_error = 'fail')"
            )
        )
    assert str(caught.value).startswith("image for key ") and "\n" not in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_materialize_refuses_a_foreign_directory_unless_overwrite(vista, demo_views, tmp_path):
    foreign = tmp_path / "someone_elses"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    statement = STATEMENT.replace("dirty_images", "images").format(
        tail=f"MATERIALIZE INTO '{foreign}'"
    )
    with pytest.raises(VistaBindError, match="did not write"):
        vista.sql(statement)
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]


def test_identifiers_cannot_inject_sql(vista, spark, demo_views):
    # Spark refuses such view names, but column names may hold any character.
    evil = "content`) AS x FROM images; DROP VIEW products; --"
    spark.table("images").withColumnRenamed("content", evil).createOrReplaceTempView("evil")
    quoted = "`" + evil.replace("`", "``") + "`"
    rows = vista.sql(
        "TRANSFER FEATURES FROM mobilenetv2 WEIGHTS RANDOM LAYERS (global_average_pooling2d) "
        f"ON evil AS i (id, {quoted}) JOIN products USING (id) "
        "TRAIN logistic_regression (LABEL is_popular)"
    ).collect()
    assert len(rows) == 2 and rows[1].n_train > 0 and spark.catalog.tableExists("products")
