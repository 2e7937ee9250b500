"""What the cost model needs to know about a statement's CNN, layers and data."""

from __future__ import annotations

import dataclasses

import numpy as np

from vista_sql.catalog import flops, models, staging
from vista_sql.plan.nodes import Statistics, TransferQuery
from vista_sql.plan.workload import LayerCost, ModelFootprint, Profile, Workload


def _elements(shape) -> int:
    return int(np.prod([d for d in shape[1:] if d is not None]))


def profile(query: TransferQuery) -> Profile:
    """The query's layers and the model's footprint, measured from the CNN's graph."""
    model = models.model_for(query.cnn)
    names = [layer.name for layer in query.layers]
    cost = {op.name: flops.op_flops(op) for op in model.operations}
    cuts = staging.plan_cuts(model, names)
    graph_tensors = {}
    for op in model.operations:
        for node in op._inbound_nodes[:1]:
            for tensor in node.output_tensors:
                graph_tensors[staging.tensor_name(tensor)] = tensor
    layers = []
    for layer, cut in zip(query.layers, cuts, strict=True):
        _, ops = staging.ancestors(model.get_layer(layer.name).output)
        frontier = sum(
            _elements(graph_tensors[cut.outputs[i]].shape)
            for i in cut.frontier
            if cut.outputs[i] in graph_tensors
        )
        layers.append(
            LayerCost(layer.name, layer.feature_dim, float(sum(cost[o] for o in ops)), frontier)
        )
    activation = max(
        (
            4 * sum(_elements(t.shape) for t in op._inbound_nodes[0].input_tensors)
            + 4 * sum(_elements(t.shape) for t in op._inbound_nodes[0].output_tensors)
            for op in model.operations
            if op._inbound_nodes
        ),
        default=0,
    )
    return Profile(tuple(layers), 4 * model.count_params(), activation)


def build(
    query: TransferQuery, stats: Statistics, cores: int, given: Profile | None = None
) -> tuple[Workload, ModelFootprint]:
    """The workload and footprint of `query`; a `given` profile is used for whichever of its
    layers the query asks for (a subset of its layers keeps their costs as given)."""
    if given is None:
        measured = profile(query)
    else:
        by_name = {layer.name: layer for layer in given.layers}
        layers = tuple(by_name[layer.name] for layer in query.layers)
        measured = dataclasses.replace(given, layers=layers)
    per_row = max(1, stats.structured_bytes // max(1, stats.joined)) if stats.joined else 8
    carried = min(per_row, 8 * (len(query.features) + 2) + 64)
    widest = max(layer.feature_dim for layer in query.layers) + len(query.features)
    footprint = ModelFootprint(
        parameter_bytes=measured.parameter_bytes,
        activation_bytes=measured.activation_bytes,
        downstream_bytes=8 * widest * 2 * 12,  # coefficients, gradient and L-BFGS history
    )
    workload = Workload(
        layers=measured.layers,
        rows_before=stats.joined,
        rows_after=stats.images,
        structured_row_bytes=carried,
        cores=cores,
    )
    return workload, footprint
