"""ONNX files as CNNs without Spark: layers and layouts, exact staged cuts, FLOPs, bad files.

The graphs are written with onnx.helper (tests/onnx_models.py) and checked against one direct
ONNX Runtime run of the whole graph with every node output exposed.
"""

from __future__ import annotations

import numpy as np
import onnx_models
import pytest
from tolerances import assert_features_close

from vista_sql.catalog import models, pooling, roster, staging
from vista_sql.errors import VistaBindError

BLOCK = "/layer1/layer1.0"
INSIDE = f"{BLOCK}/relu/Relu_output_0"  # between the branch's convolutions: the skip crosses


def _cnn(path, **options):
    ref = models.ModelRef("block", path=str(path), **options)
    return ref, models.build(ref)


def _images(rows: int, size: int) -> np.ndarray:
    return np.random.default_rng(7).random((rows, size, size, 3), dtype=np.float32) * 255


@pytest.mark.parametrize("batch", [None, 2], ids=["dynamic batch", "batch fixed at 2"])
def test_stages_equal_one_direct_run_and_never_recompute(tmp_path, batch):
    path = onnx_models.resnet_basic_block(tmp_path / "block.onnx", batch=batch)
    ref, cnn = _cnn(path, preprocess_mode="torch")
    graph = cnn.graph
    layers = staging.ordered_layers(
        graph, ["logits", f"{BLOCK}/Add", INSIDE, "/maxpool/MaxPool_output_0"]
    )
    assert layers[1] == INSIDE and staging.crossing_count(graph, INSIDE) == 2
    cuts = staging.plan_cuts(graph, layers)
    assert len(cuts[1].frontier) == 2  # the branch and the skip connection

    # Five rows: a file fixed at batch 2 runs them in chunks of 2, the last one padded.
    batch_rows = ref.preprocess(_images(5, 32))
    # The reference runs the same weights with a dynamic batch, all five rows at once.
    reference = onnx_models.resnet_basic_block(tmp_path / "reference.onnx")
    nchw = np.ascontiguousarray(batch_rows.transpose(0, 3, 1, 2))
    direct = onnx_models.run_onnx(reference, nchw)
    carried, stage_flops = [batch_rows], 0
    for cut in cuts:
        stage = cnn.stage(cut)
        stage_flops += stage.flops()
        outputs = stage.predict(carried)
        tensor = cut.outputs[cut.feature_outputs[0]]
        got = graph.channels_last(tensor, outputs[cut.feature_outputs[0]])
        want = graph.channels_last(tensor, direct[tensor])
        # Sub-graphs are sessions of their own: ONNX Runtime may fuse and round differently.
        assert_features_close(pooling.pool(got), pooling.pool(want), cut.layer)
        carried = [outputs[i] for i in cut.frontier]
    assert stage_flops == staging.layer_flops(graph, "logits") == graph.total_flops() > 0


def test_layers_are_node_outputs_or_unique_node_names_with_shapes_channels_last(tmp_path):
    ref, cnn = _cnn(onnx_models.resnet_basic_block(tmp_path / "block.onnx", channels=8))
    graph = cnn.graph
    assert graph.tensor("/fc/Gemm") == "logits" and graph.tensor(f"{BLOCK}/Add") in graph.listed
    rows = {r.layer: r for r in roster.describe(ref, graph)}
    assert set(rows) == set(graph.listed)  # node outputs only; node names are aliases
    # NCHW in the file, (H, W, C) as features: the same order a Keras layer gives.
    assert rows["/maxpool/MaxPool_output_0"].output_shape == (16, 16, 8)
    assert rows[INSIDE].clean_cut is False and rows[f"{BLOCK}/Add_output_0"].clean_cut
    conv = rows["/conv1/Conv_output_0"]
    # 3×3 convolution, 3 → 8 channels over 32×32 outputs, no bias (as torchvision's before a
    # BatchNorm): 2·k·k·c_in FLOPs each.
    assert conv.mflops == round(32 * 32 * 8 * 2 * 3 * 3 * 3 / 1e6, 1)
    mflops = [rows[name].mflops for name in graph.listed]
    assert mflops == sorted(mflops)
    top = roster.roster(ref, graph)
    assert top[-1] == "logits" and INSIDE not in top and f"{BLOCK}/Add_output_0" in top
    assert rows["logits"].feature_dim == 5 and rows["logits"].position == 1


def test_a_channels_last_graph_keeps_its_layout(tmp_path):
    ref, cnn = _cnn(onnx_models.nhwc_chain(tmp_path / "nhwc.onnx", size=16))
    graph = cnn.graph
    assert cnn.input_size == (16, 16) and not cnn.channels_first
    relu = next(name for name in graph.listed if graph.kind(name) == "Relu")
    assert relu in graph.channels_first and "features_nhwc" not in graph.channels_first
    assert graph.feature_shape(relu) == graph.feature_shape("features_nhwc") == (16, 16, 4)
    images = _images(3, 16)
    cut = staging.single_pass_cut(graph, [relu, "features_nhwc"])
    outputs = cnn.stage(cut).predict([images])
    got = [graph.channels_last(cut.outputs[i], outputs[i]) for i in cut.feature_outputs]
    # The Transpose back to NHWC moves values and computes nothing: equal to the bit.
    np.testing.assert_array_equal(got[0], got[1])


def test_preprocessing_modes_match_keras_definitions():
    from keras.applications import imagenet_utils

    batch = _images(2, 8)
    for mode in ("torch", "caffe", "tf"):
        ref = models.ModelRef("m", path="m.onnx", preprocess_mode=mode)
        want = imagenet_utils.preprocess_input(batch.copy(), mode=mode)
        # The same float32 arithmetic in another order: a few ulps of values up to ~150.
        np.testing.assert_allclose(ref.preprocess(batch), want, rtol=1e-6, atol=1e-4)


BAD_FILES = {
    "not an ONNX file": (onnx_models.not_onnx, "not an ONNX file, or truncated"),
    "truncated": (onnx_models.truncated, "not an ONNX file, or truncated"),
    "vector input": (onnx_models.not_an_image, "has rank 2; expected an image batch"),
    "four channels": (onnx_models.four_channels, "does not have 3 colour channels"),
    "external data missing": (
        onnx_models.external_data_missing,
        "external data file 'weights.bin' is missing",
    ),
    "external data outside": (
        onnx_models.external_data_outside,
        "external data '../outside.bin' is outside the model's directory",
    ),
    "future opset": (onnx_models.future_opset, "ONNX Runtime cannot run"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_files_are_one_line_naming_the_file(tmp_path, case):
    write, fragment = BAD_FILES[case]
    path = write(tmp_path)
    with pytest.raises(VistaBindError) as caught:
        models.build(models.ModelRef("bad", path=str(path))).check()
    message = str(caught.value)
    assert fragment in message and str(path) in message and "\n" not in message


def test_an_onnx_cnn_runs_without_tensorflow(tmp_path):
    """A worker running an ONNX CNN loads ONNX Runtime only: TensorFlow's import alone costs
    seconds and hundreds of megabytes per Python worker."""
    import subprocess
    import sys

    path = onnx_models.resnet_basic_block(tmp_path / "block.onnx")
    script = (
        "import sys, numpy as np\n"
        "from vista_sql.execution import inference\n"
        "from vista_sql.catalog import models, pooling\n"
        "from vista_sql.plan.vocabulary import Cut\n"
        f"ref = models.ModelRef('b', path={str(path)!r}, preprocess_mode='torch')\n"
        "task = inference.StageTask(ref, ('logits',), 0, Cut.STAGED, pooling.DEFAULT, 4, 1)\n"
        "import io; from PIL import Image; buffer = io.BytesIO()\n"
        "Image.new('RGB', (40, 40), (200, 10, 90)).save(buffer, 'PNG')\n"
        "import pandas as pd\n"
        "frame, rows = inference.runner_for(task).run(pd.Series([buffer.getvalue()] * 3))\n"
        "assert rows == 3 and len(frame.features[0][0]) == 5, frame\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_a_model_file_rewritten_in_place_is_built_again(tmp_path):
    """A worker keeps built CNNs by their file's identity: features after the file changed come
    from the new weights, never from the copy built before (whose records a later statement
    would otherwise trust under the new file's identity)."""
    import os

    import pandas as pd
    from PIL import Image

    from vista_sql.execution import inference
    from vista_sql.plan.vocabulary import Cut

    path = onnx_models.resnet_basic_block(tmp_path / "block.onnx", seed=0)
    ref = models.ModelRef("b", path=str(path))
    task = inference.StageTask(ref, ("logits",), 0, Cut.STAGED, pooling.DEFAULT, 4, 1)
    image = tmp_path / "image.png"
    Image.new("RGB", (32, 32), (200, 10, 90)).save(image)
    column = pd.Series([image.read_bytes()] * 2)

    before = inference.runner_for(task).run(column)[0].features[0][0]
    assert models.model_for(ref) is models.model_for(ref)  # built once while unchanged
    onnx_models.resnet_basic_block(path, seed=1)  # other weights, the same size
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    after = inference.runner_for(task).run(column)[0].features[0][0]
    assert not np.allclose(before, after)
    rebuilt = models.build(ref)  # what the file now holds, built afresh
    direct = rebuilt.stage(staging.single_pass_cut(rebuilt.graph, ["logits"]))
    batch = np.asarray(Image.open(image).convert("RGB"), np.float32)[np.newaxis]
    assert_features_close([after], direct.predict([batch])[0], "logits after the rewrite")
