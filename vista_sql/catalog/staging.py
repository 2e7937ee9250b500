"""Exact staged cuts through a CNN's graph.

For layers l1 < l2 < ... (by topological position), stage i is the sub-model whose inputs are the
tensors crossing cut i-1 (the frontier) and whose outputs are l_i's output plus the tensors crossing
cut i. Stage i+1 therefore continues from stage i's frontier without recomputing anything, even when
skip connections cross the cut (several frontier tensors).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StageCut:
    layer: str
    inputs: tuple[str, ...]  # tensor names; the first stage reads the model input
    outputs: tuple[str, ...]  # de-duplicated; features come from `feature_output`
    feature_output: int
    frontier: tuple[int, ...]  # indices into outputs handed to the next stage


def _tensor_name(tensor) -> str:
    history = tensor._keras_history
    return f"{history.operation.name}:{history.node_index}:{history.tensor_index}"


def _graph(model):
    """(position of each op, {tensor name: tensor}, {tensor name: producer pos}, consumers)."""
    position = {op.name: i for i, op in enumerate(model.operations)}
    tensors, producer, last_consumer = {}, {}, {}
    for op in model.operations:
        for node in op._inbound_nodes:
            if node.operation is not op:
                continue
            for tensor in node.output_tensors:
                name = _tensor_name(tensor)
                tensors[name] = tensor
                producer[name] = position[op.name]
            for tensor in node.input_tensors:
                name = _tensor_name(tensor)
                last_consumer[name] = max(last_consumer.get(name, -1), position[op.name])
    for tensor in model.inputs:
        tensors[_tensor_name(tensor)] = tensor
        producer[_tensor_name(tensor)] = -1
    return position, tensors, producer, last_consumer


def ancestors(tensor) -> tuple[set[str], set[str]]:
    """Names of the tensors and of the ops that `tensor` is computed from (itself included)."""
    seen_tensors: set[str] = set()
    seen_ops: set[str] = set()
    stack = [tensor]
    while stack:
        current = stack.pop()
        name = _tensor_name(current)
        if name in seen_tensors:
            continue
        seen_tensors.add(name)
        history = current._keras_history
        op = history.operation
        seen_ops.add(op.name)
        node = op._inbound_nodes[history.node_index]
        stack.extend(node.input_tensors)
    return seen_tensors, seen_ops


def ordered_layers(model, layers: list[str]) -> list[str]:
    """Requested layers, de-duplicated, shallowest first."""
    position = {op.name: i for i, op in enumerate(model.operations)}
    return sorted(dict.fromkeys(layers), key=position.__getitem__)


def plan_cuts(model, layers: list[str]) -> list[StageCut]:
    position, _, producer, last_consumer = _graph(model)
    # Only tensors the deepest requested layer depends on are worth handing on: a branch that
    # feeds, say, only the classifier head past that layer is never computed.
    needed, _ = ancestors(model.get_layer(layers[-1]).output)
    cuts: list[StageCut] = []
    inputs = tuple(_tensor_name(t) for t in model.inputs)
    for index, layer in enumerate(layers):
        cut = position[layer]
        feature = _tensor_name(model.get_layer(layer).output)
        is_last = index == len(layers) - 1
        crossing = (
            ()
            if is_last
            else tuple(
                name
                for name, made_at in producer.items()
                if made_at <= cut < last_consumer.get(name, -1)
            )
        )
        outputs = tuple(dict.fromkeys((feature, *crossing)))
        cuts.append(
            StageCut(
                layer=layer,
                inputs=inputs,
                outputs=outputs,
                feature_output=outputs.index(feature),
                frontier=tuple(outputs.index(name) for name in crossing),
            )
        )
        inputs = crossing
    return cuts


def crossing_count(model, layer: str) -> int:
    """How many tensors cross a cut right after `layer` (1 means a clean cut point)."""
    position, _, producer, last_consumer = _graph(model)
    cut = position[layer]
    return sum(
        1 for name, made_at in producer.items() if made_at <= cut < last_consumer.get(name, -1)
    )


def stage_model(model, cut: StageCut):
    import keras

    _, tensors, _, _ = _graph(model)
    return keras.Model(
        inputs=[tensors[name] for name in cut.inputs],
        outputs=[tensors[name] for name in cut.outputs],
        name=f"stage_{cut.layer}",
    )
