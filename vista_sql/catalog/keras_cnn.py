"""A Keras model as a CNN: its graph as plain values, and stages run as Keras sub-models."""

from __future__ import annotations

import numpy as np

from vista_sql.catalog import backend, flops
from vista_sql.catalog.graph import DEFAULT_INPUT, CnnGraph, Op
from vista_sql.catalog.staging import StageCut


def tensor_name(tensor) -> str:
    history = tensor._keras_history
    return f"{history.operation.name}:{history.node_index}:{history.tensor_index}"


def _per_image(shape) -> tuple:
    return tuple(None if d is None else int(d) for d in shape[1:])


def keras_graph(model) -> tuple[CnnGraph, dict]:
    """The model's graph, and its Keras tensors by name (what a stage's sub-model is cut from).

    Only the model's own nodes: building a sub-model from inner tensors makes Keras clone the
    graph and add nodes to the shared layers, which must not leak into later cuts.
    """
    backend.keras()  # quiet TensorFlow start-up before Keras internals are imported
    from keras.src.ops.function import make_node_key

    own = model._nodes
    ops, tensors, listed, layers, cost = [], {}, [], {}, {}
    for position, op in enumerate(model.operations):
        cost[op.name] = flops.op_flops(op)
        for index, node in enumerate(op._inbound_nodes):
            if make_node_key(op, index) not in own:
                continue
            outputs = tuple(tensor_name(t) for t in node.output_tensors)
            tensors.update(zip(outputs, node.output_tensors, strict=True))
            inputs = tuple(tensor_name(t) for t in node.input_tensors)
            ops.append(Op(op.name, type(op).__name__, position, inputs, outputs))
            if op.name not in layers and type(op).__name__ != "InputLayer":
                listed.append(op.name)
                layers[op.name] = outputs[0]
    for tensor in model.inputs:
        tensors[tensor_name(tensor)] = tensor
    graph = CnnGraph(
        ops=tuple(op for op in ops if op.kind != "InputLayer"),
        inputs=tuple(tensor_name(t) for t in model.inputs),
        outputs=tuple(tensor_name(t) for t in model.outputs),
        shapes={name: _per_image(t.shape) for name, t in tensors.items()},
        listed=tuple(listed),
        layers=layers,
        flops=cost,
        parameter_bytes=4 * model.count_params(),
    )
    return graph, tensors


class KerasCnn:
    def __init__(self, model, input_size: tuple[int, int] | None = None):
        self.model = model
        self.graph, self._tensors = keras_graph(model)
        height, width = tuple(model.inputs[0].shape[1:3])
        self.input_size = input_size or (height or DEFAULT_INPUT[0], width or DEFAULT_INPUT[1])

    def check(self) -> None:
        """Keras has already run what it could not load while building the model."""

    def stage(self, cut: StageCut) -> KerasStage:
        return KerasStage(self._tensors, cut)


class KerasStage:
    """One stage as something to run: a Keras sub-model plus the tensors it passes straight on."""

    def __init__(self, tensors: dict, cut: StageCut):
        import keras

        self.cut = cut
        self.computed = [name for name in cut.outputs if name not in cut.inputs]
        self.model = keras.Model(
            inputs=[tensors[name] for name in cut.inputs],
            outputs=[tensors[name] for name in self.computed],
            name=f"stage_{cut.layer}",
        )
        self.input_shapes = [tuple(tensors[n].shape[1:]) for n in cut.inputs]
        self._forward = _forward_any_batch(
            self.model, [tensors[n] for n in cut.inputs], self.input_shapes
        )

    def flops(self) -> int:
        """FLOPs per image of the sub-model this stage runs, counted on that sub-model."""
        return flops.total_flops(self.model)

    def predict(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """Outputs in `cut.outputs` order for one batch of inputs in `cut.inputs` order."""
        produced = self._forward(*inputs)
        produced = produced if isinstance(produced, (list, tuple)) else [produced]
        by_name = dict(zip(self.cut.inputs, inputs, strict=True))
        by_name.update(zip(self.computed, (np.asarray(p) for p in produced), strict=True))
        return [by_name[name] for name in self.cut.outputs]


def _forward_any_batch(model, inputs, shapes):
    """The stage's forward pass traced once for every batch size.

    `predict_on_batch` traces per batch shape and retraces for the shorter last batch of each
    task (0.85 s for ResNet50's top layers on one core); a batch dimension of None in the
    signature makes that one trace serve every batch.
    """
    import tensorflow as tf

    signature = [
        tf.TensorSpec((None, *shape), tensor.dtype)
        for tensor, shape in zip(inputs, shapes, strict=True)
    ]

    @tf.function(input_signature=signature)
    def forward(*batch):
        return model(list(batch) if len(batch) > 1 else batch[0], training=False)

    return forward
