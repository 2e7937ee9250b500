"""ONNX files through SQL: TRANSFER, CREATE CNN, DESCRIBE, vista_features, every plan, reuse and
errors, with features proven against an independent path (Keras, or one direct ONNX Runtime run).
"""

from __future__ import annotations

import numpy as np
import onnx_models
import pytest
from tolerances import assert_features_close

from vista_sql.catalog import images, pooling
from vista_sql.errors import VistaBindError
from vista_sql.execution.recorded import REUSE_PATHS
from vista_sql.plan.manifest import layer_path

ROWS = 8
FEW = f"CREATE OR REPLACE TEMPORARY VIEW onnx_images AS SELECT * FROM images WHERE id <= {ROWS}"
TAIL = (
    "ON onnx_images AS i (id, content) JOIN products USING (id) "
    "TRAIN logistic_regression (LABEL is_popular, max_iter = 2)"
)
BLOCK = "/layer1/layer1.0"
# Before the block, inside it (its skip connection crosses the cut) and the classifier's output.
BLOCK_LAYERS = ("/maxpool/MaxPool_output_0", f"{BLOCK}/relu/Relu_output_0", "logits")
KERAS_LAYERS = ("block_2_add", "block_3_expand_relu", "out_relu")  # end, inside, end of blocks


@pytest.fixture(scope="module")
def block_file(tmp_path_factory):
    return onnx_models.resnet_basic_block(tmp_path_factory.mktemp("onnx") / "block.onnx")


@pytest.fixture(scope="module")
def payloads(spark, demo_views):
    spark.sql(FEW)
    return {r.id: bytes(r.content) for r in spark.table("onnx_images").collect()}


def _quoted(names) -> str:
    return ", ".join(f"`{name}`" for name in names)


def _stored(spark, out, layer, keys) -> np.ndarray:
    rows = {r.id: r.features for r in spark.read.parquet(str(layer_path(out, layer))).collect()}
    return np.array([rows[k] for k in keys], dtype=np.float32)


def _decoded(payloads, size) -> tuple[list, np.ndarray]:
    keys = sorted(payloads)
    return keys, np.stack([images.decode(payloads[k], size) for k in keys])


def test_features_from_a_keras_models_onnx_export_equal_the_keras_models(
    vista, spark, payloads, tmp_path
):
    import keras

    path, model = onnx_models.keras_mobilenetv2_onnx(tmp_path / "mobilenetv2.onnx", size=96)
    # tf2onnx names tensors by the TensorFlow ops in each Keras layer's scope.
    names = [onnx_models.onnx_tensor_for_keras_layer(path, layer) for layer in KERAS_LAYERS]
    out = tmp_path / "features"
    vista.sql(f"CREATE OR REPLACE CNN mnv2_onnx FROM '{path}' OPTIONS (preprocess = 'tf')")
    result = vista.sql(
        f"{FEW}; TRANSFER FEATURES FROM mnv2_onnx LAYERS ({_quoted(names)}) {TAIL} "
        f"MATERIALIZE INTO '{out}'"
    ).collect()
    assert [r.layer for r in result][1:] == names

    keys, batch = _decoded(payloads, (96, 96))
    batch = keras.applications.imagenet_utils.preprocess_input(batch, mode="tf")
    outputs = [model.get_layer(layer).output for layer in KERAS_LAYERS]
    directs = keras.Model(model.input, outputs).predict_on_batch(batch)
    for name, layer, direct in zip(names, KERAS_LAYERS, directs, strict=True):
        # TensorFlow and ONNX Runtime: other kernels, other summation orders, same float32 model.
        assert_features_close(_stored(spark, out, name, keys), pooling.pool(direct), layer)


def test_the_staged_plan_equals_one_direct_onnx_runtime_run_and_is_loaded_again(
    vista, spark, payloads, block_file, tmp_path
):
    # Every plan, with every join and storage choice, against the same direct run: test_plans.
    plan = "staged"
    out = tmp_path / plan
    vista.sql(
        f"{FEW}; TRANSFER FEATURES FROM MODEL '{block_file}' LAYERS ({_quoted(BLOCK_LAYERS)}) "
        f"{TAIL} MATERIALIZE INTO '{out}' "
        f"OPTIONS (plan = '{plan}', partitions = 1, reuse = false, preprocess = 'torch')"
    )
    keys, batch = _decoded(payloads, (32, 32))
    batch = (batch / 255 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]  # torchvision's
    nchw = np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32)
    direct = onnx_models.run_onnx(block_file, nchw)
    for layer in BLOCK_LAYERS:
        want = direct[layer]
        want = want.transpose(0, 2, 3, 1) if want.ndim == 4 else want  # channels last, as Keras
        assert_features_close(_stored(spark, out, layer, keys), pooling.pool(want), layer)
    # The same layers again from the record: loaded, not inferred.
    spark.conf.set(REUSE_PATHS, str(out))
    try:
        explain = vista.sql(
            f"EXPLAIN TRANSFER FEATURES FROM MODEL '{block_file}' LAYERS "
            f"({_quoted(BLOCK_LAYERS)}) {TAIL} OPTIONS (preprocess = 'torch')"
        ).first()[0]
    finally:
        spark.conf.unset(REUSE_PATHS)
    for layer in BLOCK_LAYERS:
        assert f"Load {layer} from '{layer_path(out, layer)}'" in explain


def test_described_listed_chosen_and_run_as_a_sql_function(vista, spark, payloads, block_file):
    vista.sql(f"CREATE OR REPLACE CNN block FROM '{block_file}'")
    shown = {r.name: r for r in vista.sql("SHOW CNNS").collect()}
    assert shown["block"].input_size == "32x32" and "ONNX Runtime" in shown["block"].source
    rows = {r.layer: r for r in vista.sql("DESCRIBE CNN block").collect()}
    assert rows["/maxpool/MaxPool_output_0"].output_shape == "(16, 16, 8)"
    assert rows[f"{BLOCK}/relu/Relu_output_0"].clean_cut is False
    assert rows["logits"].position == 1 and rows["logits"].in_roster

    explain = vista.sql(f"EXPLAIN COST TRANSFER FEATURES FROM block LAYERS TOP 2 {TAIL}")
    explain = explain.first()[0]
    assert "run by ONNX Runtime, CPUExecutionProvider" in explain
    assert "ONNX Runtime threads per task" in explain and " + ONNX Runtime " in explain
    alternatives = explain[explain.index("== alternatives ==") :].splitlines()[1:7]
    assert (
        sorted(line.split()[0] for line in alternatives)
        == ["eager"] * 2 + ["lazy"] * 2 + ["staged"] * 2
    )
    # Costs come from the graph: DESCRIBE's cumulative FLOPs are the optimizer's.
    flops = f"{round(rows['logits'].mflops)} MFLOPs from the input"
    assert f"  logits: 5 features, {flops}, 0 floats handed on" in explain

    got = vista.sql(
        "SELECT id, vista_features('block', '/fc/Gemm', content) AS f FROM onnx_images ORDER BY id"
    ).collect()
    keys, batch = _decoded(payloads, (32, 32))
    direct = onnx_models.run_onnx(block_file, np.ascontiguousarray(batch.transpose(0, 3, 1, 2)))
    assert [r.id for r in got] == keys
    assert_features_close(np.array([r.f for r in got]), direct["logits"], "/fc/Gemm")


def test_errors_name_the_layer_or_file_with_their_position(vista, block_file, tmp_path):
    statement = f"TRANSFER FEATURES FROM MODEL '{block_file}' LAYERS (`logit`) {TAIL}"
    with pytest.raises(VistaBindError) as caught:
        vista.sql(statement)
    assert "unknown layer 'logit'" in caught.value.message
    assert "did you mean 'logits'?" in caught.value.message
    assert (caught.value.line, caught.value.col) == (1, statement.index("`logit`") + 1)
    bad = onnx_models.four_channels(tmp_path)
    statement = f"CREATE OR REPLACE CNN four FROM '{bad}'"
    with pytest.raises(VistaBindError) as caught:
        vista.sql(statement)
    assert f"cannot load ONNX model '{bad}'" in caught.value.message
    assert "does not have 3 colour channels" in caught.value.message
    assert (caught.value.line, caught.value.col) == (1, statement.index("'") + 1)
