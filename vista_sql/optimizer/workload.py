"""What the cost model needs to know about a statement's CNN, layers and data."""

from __future__ import annotations

import dataclasses

from vista_sql.catalog import models, staging
from vista_sql.optimizer.config import ONNX_RUNTIME, TF_RUNTIME
from vista_sql.plan.nodes import Statistics, TransferQuery
from vista_sql.plan.workload import LayerCost, ModelFootprint, Profile, Workload


def profile(query: TransferQuery) -> Profile:
    """The query's layers and the model's footprint, measured from the CNN's graph."""
    graph = models.graph_for(query.cnn)
    names = [layer.name for layer in query.layers]
    cuts = staging.plan_cuts(graph, names)
    layers = []
    for layer, cut in zip(query.layers, cuts, strict=True):
        frontier = sum(graph.elements(cut.outputs[i]) for i in cut.frontier)
        flops = float(staging.layer_flops(graph, layer.name))
        layers.append(LayerCost(layer.name, layer.feature_dim, flops, frontier))
    # The largest working set of one op per image: its inputs and outputs, as float32.
    activation = max(
        (
            4 * sum(graph.elements(t) for t in (*op.inputs, *op.outputs) if t in graph.shapes)
            for op in graph.ops
        ),
        default=0,
    )
    return Profile(tuple(layers), graph.parameter_bytes, activation)


def build(
    query: TransferQuery,
    stats: Statistics,
    cores: int,
    given: Profile | None = None,
    nodes: int = 1,
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
        runtime="ONNX Runtime" if query.cnn.is_onnx else "TensorFlow",
        runtime_bytes=ONNX_RUNTIME if query.cnn.is_onnx else TF_RUNTIME,
    )
    workload = Workload(
        layers=measured.layers,
        rows_before=stats.joined,
        rows_after=stats.images,
        structured_row_bytes=carried,
        cores=cores,
        nodes=nodes,
    )
    return workload, footprint
