"""Floating-point operations of one image through each Keras op (a multiply-add counts as 2)."""

from __future__ import annotations

import numpy as np


def _size(shape) -> int:
    return int(np.prod([d for d in shape[1:] if d is not None]))


def _shapes(op) -> tuple[list, list]:
    node = op._inbound_nodes[0]
    return [t.shape for t in node.input_tensors], [t.shape for t in node.output_tensors]


def op_flops(op) -> int:
    """FLOPs per image of `op` at its first call in the graph."""
    kind = type(op).__name__
    if not op._inbound_nodes:
        return 0
    inputs, outputs = _shapes(op)
    out = sum(_size(s) for s in outputs)
    if kind == "Conv2D":
        kh, kw = op.kernel_size
        c_in = inputs[0][-1] // op.groups
        return 2 * out * kh * kw * c_in + (out if op.use_bias else 0)
    if kind == "DepthwiseConv2D":
        kh, kw = op.kernel_size
        return 2 * out * kh * kw + (out if op.use_bias else 0)
    if kind == "SeparableConv2D":
        kh, kw = op.kernel_size
        c_in = inputs[0][-1]
        depthwise = 2 * _size(inputs[0]) * op.depth_multiplier * kh * kw
        return depthwise + 2 * out * c_in * op.depth_multiplier
    if kind == "Dense":
        return 2 * out * inputs[0][-1] + (out if op.use_bias else 0)
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        ph, pw = op.pool_size
        return out * ph * pw
    if kind.startswith("Global") and "Pooling" in kind:
        return _size(inputs[0])
    if kind == "BatchNormalization":
        return 2 * out
    if kind in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"):
        return out * (len(inputs) - 1)
    if kind in ("Activation", "ReLU", "Softmax", "Rescaling", "Normalization", "LeakyReLU"):
        return out
    return 0  # reshapes, padding, concatenation, dropout at inference: data movement only


def total_flops(model) -> int:
    return sum(op_flops(op) for op in model.operations)
