"""A CNN's layer roster: what DESCRIBE CNN shows and what LAYERS TOP k chooses from."""

from __future__ import annotations

from dataclasses import dataclass

from vista_sql.catalog import pooling, staging
from vista_sql.catalog.graph import CnnGraph
from vista_sql.catalog.models import ModelRef

# Vista Eq. 1: a feature row costs α·(8 + 8 + 4·d) bytes in Spark's Tungsten format (key and
# length words, then d floats); α ≈ 1.2 bounds the deserialized overhead.
ALPHA = 1.2

# Kinds of op whose output makes a meaningful cut in a user's model (block ends, pools, dense
# layers, activations): Keras layer classes and ONNX op types.
_MEANINGFUL = {
    "Add",
    "Concatenate",
    "Dense",
    "MaxPooling2D",
    "AveragePooling2D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling2D",
    "Activation",
    "ReLU",
    "Conv2D",
    "Flatten",
    "Identity",
    # ONNX
    "Concat",
    "Gemm",
    "MatMul",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "Relu",
    "Clip",
    "Sigmoid",
    "HardSwish",
    "LeakyRelu",
}

DESCRIBE_SCHEMA = (
    "layer string, position int, output_shape string, feature_dim bigint, mflops double, "
    "bytes_per_record bigint, clean_cut boolean, in_roster boolean"
)


@dataclass(frozen=True)
class LayerInfo:
    layer: str
    position: int  # 1 = the output layer, counting down the graph
    output_shape: tuple[int, ...]
    feature_dim: int
    mflops: float  # cumulative: everything the layer's output depends on
    bytes_per_record: int
    clean_cut: bool
    in_roster: bool


def record_bytes(feature_dim: int) -> int:
    return round(ALPHA * (8 + 8 + 4 * feature_dim))


def roster(ref: ModelRef, graph: CnnGraph) -> tuple[str, ...]:
    """Meaningful cut points, shallow to deep."""
    if ref.spec:
        return ref.spec.roster
    return tuple(
        name
        for name in graph.listed
        if graph.kind(name) in _MEANINGFUL and staging.crossing_count(graph, name) <= 1
    )


def describe(ref: ModelRef, graph: CnnGraph, pool: pooling.Pooling = pooling.DEFAULT):
    names = graph.listed
    chosen = set(roster(ref, graph))
    rows = []
    for index, name in enumerate(names):
        shape = graph.feature_shape(name)
        dim = pooling.pooled_dim(shape, pool)
        rows.append(
            LayerInfo(
                layer=name,
                position=len(names) - index,
                output_shape=shape,
                feature_dim=dim,
                mflops=round(staging.layer_flops(graph, name) / 1e6, 1),
                bytes_per_record=record_bytes(dim),
                clean_cut=staging.crossing_count(graph, name) <= 1,
                in_roster=name in chosen,
            )
        )
    return rows
