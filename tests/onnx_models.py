"""Builders of small, real ONNX model files for tests (plain functions, no pytest fixtures).

Every builder writes an actual .onnx file and returns its pathlib.Path, so tests exercise the same
loading path users do (file on disk, external data next to it) instead of in-memory protos.
Weights come from numpy.random.default_rng(seed): for the hand-built graphs the same seed gives a
byte-identical file; the Keras export has the same weights but tf2onnx's generated names vary.

No relative imports and no vista_sql imports: this module is loaded both as `import onnx_models`
(tests/ on sys.path) and as `from tests import onnx_models`, and it must stay an independent
reference that does not share code with what it is used to test.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
# torch.onnx.export stamps IR 8 for opset 17. helper.make_model would otherwise stamp onnx's own
# newest IR, which a slightly older onnxruntime refuses for reasons unrelated to any test.
IR_VERSION = 8


class _Graph:
    """Collects nodes and initializers with torch.onnx.export's naming scheme."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits = [], []

    def init(self, name: str, array) -> str:
        self.inits.append(numpy_helper.from_array(np.asarray(array, np.float32), name))
        return name

    def node(self, op: str, scope: str, inputs, output: str | None = None, **attrs) -> str:
        # torch names a node "<module path>/<Op>" and its output "<node name>_output_0"; tests
        # address intermediate tensors by these names, exactly as they would in a real export.
        name = f"{scope}/{op}"
        output = output or f"{name}_output_0"
        self.nodes.append(helper.make_node(op, list(inputs), [output], name=name, **attrs))
        return output

    def conv(self, scope: str, param: str, x: str, cin: int, cout: int, bias: bool = False) -> str:
        # He-scaled so activations neither vanish nor blow up: a comparison of all-zero tensors
        # would pass whatever the code under test did.
        w = self.rng.normal(0.0, np.sqrt(2.0 / (cin * 9)), (cout, cin, 3, 3))
        inputs = [x, self.init(f"{param}.weight", w)]
        if bias:
            inputs.append(self.init(f"{param}.bias", self.rng.normal(0.0, 0.1, cout)))
        return self.node(
            "Conv",
            scope,
            inputs,
            kernel_shape=[3, 3],
            pads=[1, 1, 1, 1],
            strides=[1, 1],
            dilations=[1, 1],
            group=1,
        )

    def bn(self, scope: str, param: str, x: str, c: int) -> str:
        # Non-identity statistics, so a reader that skipped or mis-ordered BatchNorm inputs
        # (scale, bias, mean, var) gets visibly different numbers; variance must stay positive.
        r = self.rng
        params = [
            self.init(f"{param}.{key}", value)
            for key, value in (
                ("weight", r.uniform(0.5, 1.5, c)),
                ("bias", r.normal(0.0, 0.2, c)),
                ("running_mean", r.normal(0.0, 0.2, c)),
                ("running_var", r.uniform(0.5, 2.0, c)),
            )
        ]
        return self.node("BatchNormalization", scope, [x, *params], epsilon=1e-5, momentum=0.9)

    def model(self, name: str, inputs, outputs, opset: int = OPSET) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, name, inputs, outputs, initializer=self.inits)
        return helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", opset)],
            ir_version=IR_VERSION,
            producer_name="tests/onnx_models.py",
        )


def _float(name: str, shape) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _write(model: onnx.ModelProto, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(path))
    return path


def _resnet_model(batch=None, size=32, seed=0, channels=8, classes=5) -> onnx.ModelProto:
    if size % 2:
        raise ValueError("size must be even: the stem's 2x2 MaxPool halves it")
    n = "batch" if batch is None else int(batch)
    g = _Graph(seed)
    x = g.conv("/conv1", "conv1", "input", 3, channels)
    x = g.bn("/bn1", "bn1", x, channels)
    x = g.node("Relu", "/relu", [x])
    block_in = g.node(
        "MaxPool",
        "/maxpool",
        [x],
        kernel_shape=[2, 2],
        strides=[2, 2],
        pads=[0, 0, 0, 0],
        ceil_mode=0,
    )
    s, p = "/layer1/layer1.0", "layer1.0"
    x = g.conv(f"{s}/conv1", f"{p}.conv1", block_in, channels, channels)
    x = g.bn(f"{s}/bn1", f"{p}.bn1", x, channels)
    x = g.node("Relu", f"{s}/relu", [x])
    x = g.conv(f"{s}/conv2", f"{p}.conv2", x, channels, channels)
    x = g.bn(f"{s}/bn2", f"{p}.bn2", x, channels)
    x = g.node("Add", s, [x, block_in])
    # torch numbers the second call of the same ReLU module "relu_1"
    x = g.node("Relu", f"{s}/relu_1", [x])
    x = g.node("GlobalAveragePool", "/avgpool", [x])
    x = g.node("Flatten", "", [x], axis=1)
    fc_w = g.init("fc.weight", g.rng.normal(0.0, 1.0 / np.sqrt(channels), (classes, channels)))
    fc_b = g.init("fc.bias", g.rng.normal(0.0, 0.1, classes))
    g.node("Gemm", "/fc", [x, fc_w, fc_b], output="logits", alpha=1.0, beta=1.0, transB=1)
    inputs, outputs = [_float("input", [n, 3, size, size])], [_float("logits", [n, classes])]
    return g.model("main_graph", inputs, outputs)


def resnet_basic_block(path, *, batch=None, size=32, seed=0, channels=8, classes=5) -> Path:
    """torchvision-style stem + one BasicBlock + head, NCHW input "input", output "logits"."""
    return _write(_resnet_model(batch, size, seed, channels, classes), path)


def run_onnx(path, x) -> dict[str, np.ndarray]:
    """Every top-level node output of the model at `path`, computed by onnxruntime in one run.

    `x` is the array for the first graph input, or a dict of feeds. This is the independent
    reference: the whole graph on onnxruntime, no vista_sql involved. Exposing every tensor stops
    onnxruntime fusing e.g. Conv+BatchNorm, so values differ from a plain session's by float
    rounding (~4e-7 on logits of ~1.6): compare with a tolerance, never bit-for-bit.
    """
    import onnxruntime as ort

    model = onnx.load(str(path))
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {
        vi.name: vi.type.tensor_type.elem_type
        for vi in [*inferred.graph.value_info, *inferred.graph.output]
    }
    present = {o.name for o in model.graph.output}
    for node in model.graph.node:
        for name in node.output:
            if name and name not in present:
                # Element type only: a shape copied from inference can disagree with the run's
                # batch and make onnxruntime warn; FLOAT when inference knew nothing.
                elem = types.get(name) or TensorProto.FLOAT
                model.graph.output.append(helper.make_tensor_value_info(name, elem, None))
                present.add(name)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = x if isinstance(x, dict) else {session.get_inputs()[0].name: np.asarray(x, np.float32)}
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds), strict=True))


def nhwc_chain(path, *, size=16, seed=1) -> Path:
    """Channels-last input "image" [N,size,size,3] -> output "features_nhwc" [N,size,size,4].

    The Transposes around the Conv mean the graph output is channels-last while the Relu output
    inside is channels-first: a layout check must look at each tensor, not at the model.
    """
    g = _Graph(seed)
    x = g.node("Transpose", "", ["image"], perm=[0, 3, 1, 2])
    x = g.conv("/conv", "conv", x, 3, 4, bias=True)
    x = g.node("Relu", "/relu", [x])
    # a second top-level Transpose is "/Transpose_1" in torch's numbering
    g.nodes.append(
        helper.make_node(
            "Transpose", [x], ["features_nhwc"], name="/Transpose_1", perm=[0, 2, 3, 1]
        )
    )
    return _write(
        g.model(
            "main_graph",
            [_float("image", ["N", size, size, 3])],
            [_float("features_nhwc", ["N", size, size, 4])],
        ),
        path,
    )


def _keras_value(var_name: str, shape, rng) -> np.ndarray:
    # He-scaled kernels and near-identity BatchNorm keep MobileNetV2's 17 blocks of ReLU6 away
    # from both all-zero and all-six, which would make any per-layer comparison meaningless.
    if var_name in ("moving_variance", "gamma"):
        return rng.uniform(0.5, 1.5, shape)
    if var_name in ("beta", "moving_mean", "bias"):
        return rng.normal(0.0, 0.1, shape)
    if var_name == "depthwise_kernel":
        return rng.normal(0.0, np.sqrt(2.0 / (shape[0] * shape[1])), shape)
    if var_name == "kernel":
        return rng.normal(0.0, np.sqrt(2.0 / np.prod(shape[:-1])), shape)
    return rng.normal(0.0, 0.05, shape)


def keras_mobilenetv2_onnx(path, *, size=96, seed=3):
    """Random-weight Keras MobileNetV2 (no top) exported by Keras/tf2onnx. Returns (path, model).

    The export has input "keras_tensor" [N,size,size,3], opset 15 (tf2onnx's default) and output
    "Identity:0", channels-last: a Transpose back from the NCHW "out_relu" tensor.
    Takes ~8-12 s; keras is imported here so that tests using only the hand-built graphs do not
    pay for TensorFlow.
    """
    import keras

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = keras.applications.MobileNetV2(
        weights=None, include_top=False, input_shape=(size, size, 3)
    )
    rng = np.random.default_rng(seed)
    for var in model.weights:  # a fixed order, so the same seed gives the same weights
        value = _keras_value(var.path.rsplit("/", 1)[-1], tuple(var.shape), rng)
        var.assign(value.astype(np.float32))
    # Keras' ONNX export refuses a model that was never called.
    model(np.zeros((1, size, size, 3), np.float32))
    model.export(str(path), format="onnx", verbose=False)
    return path, model


# tf2onnx inserts layout Transposes named "<original op>__<n>"; they sit in a layer's scope but
# compute something else (e.g. the final NCHW->NHWC of the graph output), so they never count.
_TF2ONNX_HELPER = re.compile(r"__\d+$")


def onnx_tensor_for_keras_layer(onnx_path, keras_layer_name: str) -> str:
    """Name of the ONNX node output holding the Keras layer's output, in a tf2onnx export.

    tf2onnx names tensors after the TF ops, scoped by layer: Keras layer "block_2_add" becomes
    ".../block_2_add_1/Add:0". The layer's output is the op its scope computes last (graph order is
    topological): e.g. a BatchNorm's "batchnorm/add_1" after its "mul_1".
    When tf2onnx fuses a Conv with the BatchNorm after it, the fused node gets a generated name
    ("Conv__581") and only its inputs keep layer scopes; its last constant input (the bias,
    ".../block_16_project_BN_1/batchnorm/sub:0") names the layer whose output it computes.
    Raises KeyError for a layer whose output no longer exists (the Conv before a fused BatchNorm).
    Generated names change from one export to the next; layer scopes do not. Internal tensors
    are channels-first: tf2onnx rewrites the graph to NCHW.
    """
    model = onnx.load(str(onnx_path), load_external_data=False)
    constants = {t.name for t in model.graph.initializer}
    scope = re.compile(rf"/{re.escape(keras_layer_name)}(_\d+)?/")
    found = None
    for node in model.graph.node:
        if node.op_type == "Transpose" and _TF2ONNX_HELPER.search(node.name):
            continue
        if any(scope.search(out) for out in node.output):
            found = node.output[0]
        elif "/" not in node.name:
            last_constant = next((i for i in reversed(node.input) if i in constants), "")
            if scope.search(last_constant):
                found = node.output[0]
    if found is None:
        raise KeyError(f"no ONNX node output in the scope of Keras layer {keras_layer_name!r}")
    return found


# ---- files that must be rejected (or handled) cleanly ----


def not_onnx(dir) -> Path:
    """A text file with an .onnx name: the extension alone must not be trusted."""
    path = Path(dir) / "notes.onnx"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "These are notes, not a model.\nTODO: export the real network.\nAsk about the input size.\n"
    )
    return path


def truncated(dir) -> Path:
    """A valid model cut short, as after an interrupted copy (onnx.load: DecodeError)."""
    data = _resnet_model().SerializeToString()
    # 60% first; a cut that happens to land on a field boundary would still parse, so fall back
    # to other lengths until the bytes are verifiably unloadable.
    for fraction in (0.6, 0.55, 0.65, 0.5, 0.7, 0.45, 0.75):
        cut = data[: int(len(data) * fraction)]
        try:
            onnx.load_model_from_string(cut)
        except Exception:
            break
    else:
        raise RuntimeError("every truncation of the model still parsed")
    path = Path(dir) / "truncated.onnx"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cut)
    return path


def future_opset(dir) -> Path:
    """A well-formed graph declaring default-domain opset 99, which no runtime implements.

    onnx.checker (even full_check) accepts it; onnxruntime's session refuses it (Fail).
    """
    g = _Graph(0)
    g.node("Relu", "/relu", ["input"], output="output")
    shape = ["batch", 3, 8, 8]
    model = g.model("main_graph", [_float("input", shape)], [_float("output", shape)], opset=99)
    return _write(model, Path(dir) / "future_opset.onnx")


def not_an_image(dir) -> Path:
    """A model whose input is a rank-2 [N, 10] vector batch: there is no image layout to feed."""
    g = _Graph(2)
    w = g.init("fc.weight", g.rng.normal(0.0, 0.3, (3, 10)))
    b = g.init("fc.bias", g.rng.normal(0.0, 0.1, 3))
    g.node("Gemm", "/fc", ["input", w, b], output="output", transB=1)
    model = g.model("main_graph", [_float("input", ["N", 10])], [_float("output", ["N", 3])])
    return _write(model, Path(dir) / "vector_input.onnx")


def four_channels(dir) -> Path:
    """An NCHW image model expecting 4 channels (e.g. RGBA/RGB-D): RGB images do not fit it."""
    g = _Graph(4)
    x = g.conv("/conv1", "conv1", "input", 4, 8, bias=True)
    x = g.node("Relu", "/relu", [x])
    x = g.node("GlobalAveragePool", "/avgpool", [x])
    g.node("Flatten", "", [x], output="output", axis=1)
    model = g.model("main_graph", [_float("input", ["N", 4, 16, 16])], [_float("output", ["N", 8])])
    return _write(model, Path(dir) / "four_channels.onnx")


def _save_external(model: onnx.ModelProto, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(
        model,
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="weights.bin",
        size_threshold=0,
    )


def external_data_missing(dir) -> Path:
    """dir/ext/model.onnx whose weights were saved to weights.bin, which is then deleted."""
    path = Path(dir) / "ext" / "model.onnx"
    _save_external(_resnet_model(), path)
    (path.parent / "weights.bin").unlink()
    return path


def external_data_outside(dir) -> Path:
    """dir/inner/model.onnx whose external data location is "../outside.bin" (which exists).

    A model file must not make its reader open files outside the model's directory; the weights
    are real, so only a path check (not a missing file) can stop the load.
    """
    dir = Path(dir)
    path = dir / "inner" / "model.onnx"
    _save_external(_resnet_model(), path)
    (path.parent / "weights.bin").replace(dir / "outside.bin")
    model = onnx.load(str(path), load_external_data=False)
    for tensor in model.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = "../outside.bin"
    # No raw_data is loaded, so this rewrites only the model file, never the weights.
    onnx.save_model(model, str(path))
    return path
