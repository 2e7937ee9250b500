"""Exact staged cuts through a CNN's graph.

For layers l1 < l2 < ... (by topological position), stage i is the sub-model whose inputs are the
tensors crossing cut i-1 (the frontier) and whose outputs are l_i's output plus the tensors crossing
cut i. Stage i+1 therefore continues from stage i's frontier without recomputing anything, even when
skip connections cross the cut (several frontier tensors). A frontier tensor that a stage only
passes on (a skip connection spanning the whole stage) is copied, not recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vista_sql.catalog import backend


@dataclass(frozen=True)
class StageCut:
    layer: str
    inputs: tuple[str, ...]  # tensor names; the first stage reads the model input
    outputs: tuple[str, ...]  # de-duplicated; features come from `feature_outputs`
    feature_outputs: tuple[int, ...]  # one per layer the stage yields features for
    frontier: tuple[int, ...]  # indices into outputs handed to the next stage


@dataclass(frozen=True)
class _Graph:
    position: dict  # op name → topological position
    tensors: dict  # tensor name → KerasTensor
    producer: dict  # tensor name → position of the op making it (-1 for model inputs)
    last_consumer: dict  # tensor name → position of its last consumer


def tensor_name(tensor) -> str:
    history = tensor._keras_history
    return f"{history.operation.name}:{history.node_index}:{history.tensor_index}"


def _graph(model) -> _Graph:
    # Only the model's own nodes: building a sub-model from inner tensors makes Keras clone the
    # graph and add nodes to the shared layers, which must not leak into later cuts.
    backend.keras()  # quiet TensorFlow start-up before Keras internals are imported
    from keras.src.ops.function import make_node_key

    own = model._nodes
    position = {op.name: i for i, op in enumerate(model.operations)}
    tensors, producer, last_consumer = {}, {}, {}
    for op in model.operations:
        for index, node in enumerate(op._inbound_nodes):
            if make_node_key(op, index) not in own:
                continue
            for tensor in node.output_tensors:
                name = tensor_name(tensor)
                tensors[name] = tensor
                producer[name] = position[op.name]
            for tensor in node.input_tensors:
                name = tensor_name(tensor)
                last_consumer[name] = max(last_consumer.get(name, -1), position[op.name])
    for tensor in model.inputs:
        tensors[tensor_name(tensor)] = tensor
        producer[tensor_name(tensor)] = -1
    return _Graph(position, tensors, producer, last_consumer)


def ancestors(tensor) -> tuple[set[str], set[str]]:
    """Names of the tensors and of the ops that `tensor` is computed from (itself included)."""
    seen_tensors: set[str] = set()
    seen_ops: set[str] = set()
    stack = [tensor]
    while stack:
        current = stack.pop()
        name = tensor_name(current)
        if name in seen_tensors:
            continue
        seen_tensors.add(name)
        history = current._keras_history
        seen_ops.add(history.operation.name)
        stack.extend(history.operation._inbound_nodes[history.node_index].input_tensors)
    return seen_tensors, seen_ops


def ordered_layers(model, layers: list[str]) -> list[str]:
    """Requested layers, de-duplicated, shallowest first."""
    position = {op.name: i for i, op in enumerate(model.operations)}
    return sorted(dict.fromkeys(layers), key=position.__getitem__)


def _crossing(graph: _Graph, cut: int) -> list[str]:
    return [
        name
        for name, made_at in graph.producer.items()
        if made_at <= cut < graph.last_consumer.get(name, -1)
    ]


def crossing_count(model, layer: str) -> int:
    """How many tensors cross a cut right after `layer` (1 means a clean cut point)."""
    graph = _graph(model)
    return len(_crossing(graph, graph.position[layer]))


def plan_cuts(model, layers: list[str]) -> list[StageCut]:
    graph = _graph(model)
    # Only tensors the deepest requested layer depends on are worth handing on: a branch that
    # feeds, say, only the classifier head past that layer is never computed.
    needed, _ = ancestors(model.get_layer(layers[-1]).output)
    cuts: list[StageCut] = []
    inputs = tuple(tensor_name(t) for t in model.inputs)
    for index, layer in enumerate(layers):
        feature = tensor_name(model.get_layer(layer).output)
        is_last = index == len(layers) - 1
        crossing = (
            ()
            if is_last
            else tuple(name for name in _crossing(graph, graph.position[layer]) if name in needed)
        )
        outputs = tuple(dict.fromkeys((feature, *crossing)))
        cuts.append(
            StageCut(
                layer=layer,
                inputs=inputs,
                outputs=outputs,
                feature_outputs=(outputs.index(feature),),
                frontier=tuple(outputs.index(name) for name in crossing),
            )
        )
        inputs = crossing
    return cuts


def single_pass_cut(model, layers: list[str]) -> StageCut:
    """One stage from the model input to every layer at once (the eager plan)."""
    names = tuple(tensor_name(model.get_layer(layer).output) for layer in layers)
    outputs = tuple(dict.fromkeys(names))
    return StageCut(
        layer=layers[-1],
        inputs=tuple(tensor_name(t) for t in model.inputs),
        outputs=outputs,
        feature_outputs=tuple(outputs.index(name) for name in names),
        frontier=(),
    )


class Stage:
    """One stage as something to run: a Keras sub-model plus the tensors it passes straight on."""

    def __init__(self, model, cut: StageCut):
        import keras

        graph = _graph(model)
        self.cut = cut
        self.computed = [name for name in cut.outputs if name not in cut.inputs]
        self.model = keras.Model(
            inputs=[graph.tensors[name] for name in cut.inputs],
            outputs=[graph.tensors[name] for name in self.computed],
            name=f"stage_{cut.layer}",
        )
        self.input_shapes = [tuple(graph.tensors[n].shape[1:]) for n in cut.inputs]
        self._forward = _forward_any_batch(
            self.model, [graph.tensors[n] for n in cut.inputs], self.input_shapes
        )

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
