"""An ONNX file as a CNN graph: loading it safely, shapes, layouts and FLOPs per node.

Layers are node outputs, named by their tensor names (what a PyTorch export calls
"/layer1/layer1.0/relu/Relu_output_0"), or by their node's name where that is unique. Every check
a user's file can fail is made here, on the driver, with one line that names the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vista_sql.catalog.graph import CnnGraph, Op
from vista_sql.errors import VistaBindError, first_line

# ONNX defines these ops on channels-first tensors: what they make is (N, C, H, W).
_CHANNELS_FIRST_OPS = {
    "Conv",
    "ConvTranspose",
    "MaxPool",
    "AveragePool",
    "LpPool",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "BatchNormalization",
    "InstanceNormalization",
    "LRN",
}
_ELEMENTWISE = {"Add", "Sub", "Mul", "Div", "Sum", "Max", "Min", "Mean"}
_ACTIVATIONS = {
    "Relu",
    "Clip",
    "Sigmoid",
    "LeakyRelu",
    "HardSigmoid",
    "HardSwish",
    "Softmax",
    "Tanh",
    "Elu",
    "Selu",
    "PRelu",
    "Gelu",
    "Mish",
}


def _refuse(path: str, why: str) -> VistaBindError:
    return VistaBindError(f"cannot load ONNX model '{path}': {why}")


def load(path: str):
    """The file's ModelProto with its external data, refusing what is not safe or not whole."""
    import onnx
    from onnx import external_data_helper

    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as error:  # protobuf's DecodeError and friends: bytes that are not a model
        raise _refuse(path, f"not an ONNX file, or truncated ({first_line(error)})") from None
    if not model.graph.node:
        raise _refuse(path, "not an ONNX file, or truncated (it holds no graph)")
    base = Path(path).resolve().parent
    for tensor in external_data_helper._get_all_tensors(model):
        if not external_data_helper.uses_external_data(tensor):
            continue
        location = {e.key: e.value for e in tensor.external_data}.get("location", "")
        target = (base / location).resolve()
        if not target.is_relative_to(base):
            raise _refuse(path, f"external data '{location}' is outside the model's directory")
        if not target.is_file():
            raise _refuse(path, f"external data file '{location}' is missing")
    try:
        external_data_helper.load_external_data_for_model(model, str(base))
    except Exception as error:
        raise _refuse(path, f"external data cannot be read ({first_line(error)})") from None
    return _constants_as_initializers(model)


def _constants_as_initializers(model):
    # A Constant node feeding, say, a Reshape far down the graph would otherwise cross every cut
    # between them as if it were an activation.
    from onnx import helper

    kept = []
    for node in model.graph.node:
        value = next((a for a in node.attribute if a.name == "value"), None)
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and value is not None:
            tensor = helper.get_attribute_value(value)
            tensor.name = node.output[0]
            model.graph.initializer.append(tensor)
        else:
            kept.append(node)
    del model.graph.node[:]
    model.graph.node.extend(kept)
    return model


def with_shapes(model, path: str):
    """The model with every node output's type and shape inferred (value_info)."""
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    except Exception as error:
        raise _refuse(path, f"its shapes cannot be inferred ({first_line(error)})") from None
    known = {v.name for v in (*inferred.graph.value_info, *inferred.graph.input)}
    known |= {v.name for v in inferred.graph.output}
    for node in inferred.graph.node:
        for name in node.output:
            if name and name not in known:
                # Untyped: ONNX Runtime accepts it as a sub-graph's boundary all the same.
                inferred.graph.value_info.append(onnx.ValueInfoProto(name=name))
    return inferred


def _dims(value_info) -> tuple | None:
    kind = value_info.type.tensor_type
    if not kind.HasField("shape"):
        return None
    return tuple(d.dim_value if d.HasField("dim_value") else None for d in kind.shape.dim)


def image_input(model, path: str):
    """The graph's one image input and whether it is channels first."""
    initializers = {t.name for t in model.graph.initializer}
    inputs = [v for v in model.graph.input if v.name not in initializers]
    if len(inputs) != 1:
        raise _refuse(path, f"it has {len(inputs)} inputs; a CNN takes one image tensor")
    dims = _dims(inputs[0]) or ()
    if len(dims) != 4:
        raise _refuse(
            path, f"input '{inputs[0].name}' has rank {len(dims)}; expected an image batch (rank 4)"
        )
    if dims[1] == 3:
        return inputs[0], True
    if dims[3] == 3:
        return inputs[0], False
    raise _refuse(
        path, f"input '{inputs[0].name}' of shape {list(dims)} does not have 3 colour channels"
    )


def _layouts(model, image: str, image_first: bool, shapes: dict) -> frozenset[str]:
    first = {image} if image_first else set()
    for node in model.graph.node:
        rank4 = [o for o in node.output if len(shapes.get(o) or ()) == 3]
        if node.op_type in _CHANNELS_FIRST_OPS:
            first.update(rank4)
        elif node.op_type == "Transpose":
            perm = next((list(a.ints) for a in node.attribute if a.name == "perm"), None)
            if perm == [0, 3, 1, 2] or (perm == [0, 1, 2, 3] and node.input[0] in first):
                first.update(rank4)
        elif any(name in first for name in node.input):
            first.update(rank4)
    return frozenset(first)


def _node_flops(node, shapes: dict, weights: dict) -> int:
    def size(name):
        shape = shapes.get(name) or ()
        return int(np.prod([d or 1 for d in shape])) if name else 0

    out = size(node.output[0])
    kind = node.op_type
    has_bias = len(node.input) > 2 and bool(node.input[2])
    if kind == "Conv":
        kernel = weights.get(node.input[1]) or shapes.get(node.input[1]) or ()
        per_output = int(np.prod(kernel[1:])) if kernel else 0
        return 2 * out * per_output + (out if has_bias else 0)
    if kind == "ConvTranspose":
        kernel = weights.get(node.input[1]) or ()
        per_input = int(np.prod(kernel[1:])) if kernel else 0  # (C, M/groups, kh, kw)
        return 2 * size(node.input[0]) * per_input + (out if has_bias else 0)
    if kind in ("Gemm", "MatMul"):
        a = weights.get(node.input[0]) or (None, *(shapes.get(node.input[0]) or ()))
        trans_a = any(x.name == "transA" and x.i for x in node.attribute)
        depth = (a[-2] if trans_a else a[-1]) or 0
        return 2 * out * depth + (out if kind == "Gemm" and has_bias else 0)
    if kind in ("MaxPool", "AveragePool", "LpPool"):
        kernel = next((list(a.ints) for a in node.attribute if a.name == "kernel_shape"), [1])
        return out * int(np.prod(kernel))
    if kind in ("GlobalAveragePool", "GlobalMaxPool"):
        return size(node.input[0])
    if kind == "BatchNormalization":
        return 2 * out
    if kind in _ELEMENTWISE:
        return out * max(1, len(node.input) - 1)
    if kind in _ACTIVATIONS:
        return out
    return 0  # reshapes, padding, concatenation, transposes: data movement only


def _per_image_shapes(model) -> dict[str, tuple]:
    shapes = {}
    for value in (*model.graph.input, *model.graph.value_info, *model.graph.output):
        dims = _dims(value)
        if dims:
            shapes[value.name] = dims[1:]
    return shapes


def model_flops(model) -> int:
    shapes = _per_image_shapes(model)
    weights = {t.name: tuple(t.dims) for t in model.graph.initializer}
    return sum(_node_flops(node, shapes, weights) for node in model.graph.node)


def graph(model, path: str) -> CnnGraph:
    """`model` (shapes inferred) as a runtime-neutral graph."""
    image, image_first = image_input(model, path)
    shapes = _per_image_shapes(model)
    weights = {t.name: tuple(t.dims) for t in model.graph.initializer}
    ops, listed, cost = [], [], {}
    named: dict[str, list] = {}
    for position, node in enumerate(model.graph.node):
        name = node.name or f"{node.op_type}_{position}"
        name = name if name not in cost else f"{name}#{position}"  # ONNX does not enforce unique
        outputs = tuple(o for o in node.output if o)
        ops.append(Op(name, node.op_type, position, tuple(i for i in node.input if i), outputs))
        cost[name] = _node_flops(node, shapes, weights)
        listed.extend(outputs)
        named.setdefault(name, []).append(outputs)
    layers = {tensor: tensor for tensor in listed}
    for name, uses in named.items():
        if len(uses) == 1 and len(uses[0]) == 1 and name not in layers:
            layers[name] = uses[0][0]
    parameters = sum(
        int(np.prod(t.dims)) * np.dtype(_numpy_type(t.data_type)).itemsize
        for t in model.graph.initializer
    )
    return CnnGraph(
        ops=tuple(op for op in ops if op.inputs or op.outputs),
        inputs=(image.name,),
        outputs=tuple(v.name for v in model.graph.output),
        shapes=shapes,
        listed=tuple(listed),
        layers=layers,
        flops=cost,
        parameter_bytes=parameters,
        channels_first=_layouts(model, image.name, image_first, shapes),
    )


def _numpy_type(data_type: int):
    from onnx import helper

    return helper.tensor_dtype_to_np_dtype(data_type)
