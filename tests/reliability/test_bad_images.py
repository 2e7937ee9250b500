"""Unclean images: bad ones are skipped with their reason (or stop the statement), odd but valid
ones are used, what was skipped stays queryable, and an image column named with SQL does not run
it."""

from __future__ import annotations

import numpy as np
import pytest

from reliability.cases import BAD_IMAGES, IMAGE_RUN_WARNINGS, ODD_IMAGES, encoded
from reliability.logged import vista_warnings
from vista_sql.catalog import images
from vista_sql.errors import VistaBindError, VistaExecutionError
from vista_sql.plan import manifest


@pytest.mark.parametrize("case, make", ODD_IMAGES, ids=[c.id for c, _ in ODD_IMAGES])
def test_odd_but_valid_images_decode_to_rgb(case, make):
    decoded = images.decode(make(), (32, 24))
    assert decoded.shape == (32, 24, 3) and decoded.dtype == np.float32


@pytest.mark.parametrize("case, make", BAD_IMAGES, ids=[c.id for c, _ in BAD_IMAGES])
def test_bad_images_raise_their_one_line_reason(case, make):
    with pytest.raises(images.ImageDecodeError) as caught:
        images.decode(make(), (32, 32))
    assert case.matches(str(caught.value)), str(caught.value)


# Keys: the bad images 1..7, the odd ones 8..12, and key 8 a second time.
BAD_KEYS = range(1, len(BAD_IMAGES) + 1)
ODD_KEYS = range(len(BAD_IMAGES) + 1, len(BAD_IMAGES) + len(ODD_IMAGES) + 1)


# The dirty images' column is named with SQL in it (Spark refuses such view names, but column
# names may hold any character): every statement over them also proves that identifiers cannot
# inject SQL, with no statement of its own for that.
EVIL = "content`) AS x FROM images; DROP VIEW products; --"
DIRTY = "dirty_images AS i (id, `" + EVIL.replace("`", "``") + "`)"
IMAGES = "images AS i (id, content)"


@pytest.fixture(scope="module")
def dirty(vista, spark, demo_views):
    payloads = [make() for _, make in BAD_IMAGES + ODD_IMAGES]
    rows = [(i + 1, payload) for i, payload in enumerate(payloads)]
    rows.append((ODD_KEYS[0], encoded("L", (20, 20))))
    frame = spark.createDataFrame(rows, "id int, content binary")
    frame.withColumnRenamed("content", EVIL).createOrReplaceTempView("dirty_images")
    return len(rows)


# What these tests prove is which rows reach the CNN, what is skipped and what is refused, not a
# CNN's features: the small ONNX graph (tests/onnx_models.py, 32×32 input like the decode tests
# above) keeps TensorFlow out of the Python workers, and a few iterations of the learner (each
# one a Spark job) train on what reached it.
def _transfer(block, tail: str, *options: str, images: str = DIRTY) -> str:
    listed = ", ".join(["preprocess = 'torch'", *options])
    return (
        f"TRANSFER FEATURES FROM MODEL '{block}' LAYERS (logits) "
        f"ON {images} JOIN products USING (id) "
        f"TRAIN logistic_regression (LABEL is_popular, max_iter = 5) {tail} OPTIONS ({listed})"
    )


@pytest.fixture(scope="module")
def dirty_run(vista, spark, dirty, onnx_block, tmp_path_factory):
    out = tmp_path_factory.mktemp("dirty") / "features"
    with vista_warnings() as messages:
        tail = f"EVALUATE SPLIT 0.5 MATERIALIZE INTO '{out}'"
        rows = vista.sql(_transfer(onnx_block, tail)).collect()
    skipped = {row[0]: row[1] for row in spark.table("vista_skipped").collect()}
    written = sorted(r[0] for r in spark.read.parquet(str(out / "logits")).collect())
    return rows, messages, skipped, written


def test_bad_rows_are_left_out_and_the_rest_are_used(dirty, dirty_run):
    rows, _, _, written = dirty_run
    assert rows[0].n_train + rows[0].n_test == dirty  # the baseline keeps every row
    kept = len(ODD_KEYS) + 1
    assert rows[1].n_train + rows[1].n_test == kept
    assert written == sorted([*ODD_KEYS, ODD_KEYS[0]])  # nothing written for a skipped image


@pytest.mark.parametrize("case", IMAGE_RUN_WARNINGS, ids=[c.id for c in IMAGE_RUN_WARNINGS])
def test_the_run_warns(dirty_run, case):
    warnings = dirty_run[1]
    assert any(case.matches(message) for message in warnings), warnings


@pytest.mark.parametrize("key, case", zip(BAD_KEYS, [c for c, _ in BAD_IMAGES], strict=True))
def test_each_skipped_image_is_queryable_with_its_reason(dirty_run, key, case):
    skipped = dirty_run[2]
    assert set(skipped) == set(BAD_KEYS)
    assert case.matches(skipped[key]), skipped[key]


def test_on_error_fail_stops_at_the_first_bad_image_naming_its_key(
    vista, dirty, onnx_block, tmp_path
):
    tail = f"MATERIALIZE INTO '{tmp_path / 'out'}'"
    with pytest.raises(VistaExecutionError) as caught:
        vista.sql(_transfer(onnx_block, tail, "on_error = 'fail'"))
    reason = BAD_IMAGES[0][0].expected
    assert str(caught.value) == f"image for key 1: {reason} (OPTIONS (on_error = 'fail'))"
    assert not (tmp_path / "out").exists()


def test_materialize_refuses_a_foreign_directory_unless_overwrite(
    vista, demo_views, onnx_block, tmp_path
):
    foreign = tmp_path / "someone_elses"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(VistaBindError, match="did not write"):
        vista.sql(_transfer(onnx_block, f"MATERIALIZE INTO '{foreign}'", images=IMAGES))
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]


def test_materialize_refuses_an_unreadable_manifest_and_another_cnns_features(
    vista, demo_views, onnx_block, tmp_path
):
    text = _transfer(onnx_block, f"MATERIALIZE INTO '{tmp_path}'", images=IMAGES)
    recorded = manifest.manifest_path(str(tmp_path))
    recorded.write_text('{"layers": {"logits": ')  # cut short mid-write
    with pytest.raises(VistaBindError) as caught:
        vista.sql(text)
    assert caught.value.message == (
        f"MATERIALIZE INTO '{tmp_path}': its manifest '{recorded}' cannot be read (not JSON); "
        "repair or remove it, or choose another path"
    )
    assert (caught.value.line, caught.value.col) == (1, text.index("'" + str(tmp_path)) + 1)

    recorded.unlink()
    other = manifest.Entry(cnn="resnet50:imagenet", layer="avg_pool", pooling="max 2x2")
    manifest.update(str(tmp_path), lambda layers: layers.__setitem__("avg_pool", other))
    with pytest.raises(VistaBindError, match="holds features of another CNN or pooling"):
        vista.sql(text)
    with pytest.raises(VistaBindError, match=r"avg_pool: resnet50:imagenet, pooled max 2x2\)"):
        vista.sql("EXPLAIN " + text)
    # Nothing ran, nothing was written: the other CNN's record is as it was.
    assert sorted(p.name for p in tmp_path.iterdir()) == [manifest.MANIFEST]
    assert manifest.read_strict(str(tmp_path)) == {"avg_pool": other}


def test_identifiers_cannot_inject_sql(spark, dirty_run):
    # The run's image column is EVIL: had it reached SQL unquoted, `products` would be gone.
    rows = dirty_run[0]
    assert len(rows) == 2 and rows[1].n_train > 0 and spark.catalog.tableExists("products")
