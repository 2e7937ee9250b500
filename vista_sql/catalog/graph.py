"""A CNN's graph as plain values, the same whatever runs it (Keras or ONNX Runtime).

Everything the planner needs of a CNN — layer names and order, tensor shapes, which tensors cross
a cut, FLOPs, parameter bytes — is read from this description, so staging, the roster and the cost
model are written once for every model format. Only running a stage needs the runtime itself
(`keras_cnn`, `onnx_cnn`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

# Where a model's file leaves its input height and width open.
DEFAULT_INPUT = (224, 224)


@dataclass(frozen=True)
class Op:
    name: str
    kind: str  # the Keras layer class or the ONNX op type
    position: int  # topological; a Keras layer called twice has one position for both calls
    inputs: tuple[str, ...]  # tensor names
    outputs: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class CnnGraph:
    ops: tuple[Op, ...]  # topological order
    inputs: tuple[str, ...]  # the model's image input first
    outputs: tuple[str, ...]
    shapes: Mapping[str, tuple[int | None, ...]]  # per image: without the batch dimension
    listed: tuple[str, ...]  # the layers DESCRIBE CNN lists, shallow to deep
    layers: Mapping[str, str]  # every name a statement may give a layer → the tensor it means
    flops: Mapping[str, int]  # op name → FLOPs per image (a multiply-add counts as 2)
    parameter_bytes: int
    # Tensors laid out channels first (C, H, W per image), as ONNX convolutions make them: their
    # features are transposed to (H, W, C) so that pooling and POOL NONE read every model alike.
    channels_first: frozenset[str] = field(default_factory=frozenset)

    @functools.cached_property
    def producer(self) -> dict[str, Op]:
        return {tensor: op for op in self.ops for tensor in op.outputs}

    @functools.cached_property
    def last_consumer(self) -> dict[str, int]:
        last: dict[str, int] = {}
        for op in self.ops:
            for tensor in op.inputs:
                last[tensor] = max(last.get(tensor, -1), op.position)
        return last

    def tensor(self, layer: str) -> str:
        return self.layers[layer]

    def position(self, layer: str) -> int:
        return self.producer[self.layers[layer]].position

    def kind(self, layer: str) -> str:
        return self.producer[self.layers[layer]].kind

    def feature_shape(self, layer: str) -> tuple[int, ...]:
        """The layer's output per image as its features are read: channels last."""
        tensor = self.layers[layer]
        shape = tuple(int(d or 0) for d in self.shapes[tensor])
        if tensor in self.channels_first and len(shape) == 3:
            return (shape[1], shape[2], shape[0])
        return shape

    def channels_last(self, tensor: str, batch: np.ndarray) -> np.ndarray:
        if tensor in self.channels_first and batch.ndim == 4:
            return batch.transpose(0, 2, 3, 1)
        return batch

    def elements(self, tensor: str) -> int:
        return int(np.prod([d for d in self.shapes.get(tensor, ()) if d is not None]))

    def total_flops(self) -> int:
        return sum(self.flops.values())

    def output_layer(self) -> str:
        """A layer name for the model's (first) output."""
        target = self.outputs[0]
        return next(name for name in reversed(self.listed) if self.layers[name] == target)
