"""Exact staged cuts through a CNN's graph.

For layers l1 < l2 < ... (by topological position), stage i is the sub-model whose inputs are the
tensors crossing cut i-1 (the frontier) and whose outputs are l_i's output plus the tensors crossing
cut i. Stage i+1 therefore continues from stage i's frontier without recomputing anything, even when
skip connections cross the cut (several frontier tensors). A frontier tensor that a stage only
passes on (a skip connection spanning the whole stage) is copied, not recomputed.

Cuts are planned on the runtime-neutral `CnnGraph`; `keras_cnn` and `onnx_cnn` run them.
"""

from __future__ import annotations

from dataclasses import dataclass

from vista_sql.catalog.graph import CnnGraph


@dataclass(frozen=True)
class StageCut:
    layer: str
    inputs: tuple[str, ...]  # tensor names; the first stage reads the model input
    outputs: tuple[str, ...]  # de-duplicated; features come from `feature_outputs`
    feature_outputs: tuple[int, ...]  # one per layer the stage yields features for
    frontier: tuple[int, ...]  # indices into outputs handed to the next stage


def ancestors(graph: CnnGraph, tensor: str, stop: frozenset[str] = frozenset()):
    """Names of the tensors and of the ops that `tensor` is computed from (itself included),
    not looking past the tensors in `stop` (a stage's inputs)."""
    seen_tensors: set[str] = set()
    seen_ops: set[str] = set()
    stack = [tensor]
    while stack:
        current = stack.pop()
        if current in seen_tensors:
            continue
        seen_tensors.add(current)
        op = graph.producer.get(current)
        if op is None or current in stop:
            continue
        seen_ops.add(op.name)
        stack.extend(op.inputs)
    return seen_tensors, seen_ops


def layer_flops(graph: CnnGraph, layer: str) -> int:
    """FLOPs per image of everything the layer's output depends on."""
    _, ops = ancestors(graph, graph.tensor(layer))
    return sum(graph.flops.get(op, 0) for op in ops)


def stage_flops(graph: CnnGraph, cut: StageCut) -> int:
    """FLOPs per image of what a stage computes from its inputs."""
    ops: set[str] = set()
    for name in cut.outputs:
        ops |= ancestors(graph, name, frozenset(cut.inputs))[1]
    return sum(graph.flops.get(op, 0) for op in ops)


def ordered_layers(graph: CnnGraph, layers: list[str]) -> list[str]:
    """Requested layers, de-duplicated, shallowest first."""
    return sorted(dict.fromkeys(layers), key=graph.position)


def _crossing(graph: CnnGraph, cut: int) -> list[str]:
    crossing = [
        tensor
        for op in graph.ops
        if op.position <= cut
        for tensor in op.outputs
        if cut < graph.last_consumer.get(tensor, -1)
    ]
    crossing += [t for t in graph.inputs if cut < graph.last_consumer.get(t, -1)]
    return list(dict.fromkeys(crossing))


def crossing_count(graph: CnnGraph, layer: str) -> int:
    """How many tensors cross a cut right after `layer` (1 means a clean cut point)."""
    return len(_crossing(graph, graph.position(layer)))


def plan_cuts(graph: CnnGraph, layers: list[str]) -> list[StageCut]:
    # Only tensors the deepest requested layer depends on are worth handing on: a branch that
    # feeds, say, only the classifier head past that layer is never computed.
    needed, _ = ancestors(graph, graph.tensor(layers[-1]))
    cuts: list[StageCut] = []
    inputs = graph.inputs
    for index, layer in enumerate(layers):
        feature = graph.tensor(layer)
        is_last = index == len(layers) - 1
        crossing = (
            ()
            if is_last
            else tuple(name for name in _crossing(graph, graph.position(layer)) if name in needed)
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


def single_pass_cut(graph: CnnGraph, layers: list[str]) -> StageCut:
    """One stage from the model input to every layer at once (the eager plan)."""
    names = tuple(graph.tensor(layer) for layer in layers)
    outputs = tuple(dict.fromkeys(names))
    return StageCut(
        layer=layers[-1],
        inputs=graph.inputs,
        outputs=outputs,
        feature_outputs=tuple(outputs.index(name) for name in names),
        frontier=(),
    )
