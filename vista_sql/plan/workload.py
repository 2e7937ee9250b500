"""What the cost model knows about a statement's CNN, layers and data, kept on the plan so that
EXPLAIN COST shows exactly what the optimizer costed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LayerCost:
    name: str
    feature_dim: int
    cumulative_flops: float  # one image from the input to this layer
    frontier_floats: int  # floats handed to the next stage when cut here (staged plans)


@dataclass(frozen=True)
class Workload:
    layers: tuple[LayerCost, ...]  # shallowest first
    rows_before: int  # images that survive the join: inferred when the join comes first
    rows_after: int  # all images: inferred when the join comes after
    structured_row_bytes: int  # X, label and split flag carried per row
    cores: int  # per machine (executor)
    decoded: bool = True  # False when inference starts from stored tensors, not images
    nodes: int = 1  # machines (executors) the rows are spread over, each with `cores`


@dataclass(frozen=True)
class ModelFootprint:
    parameter_bytes: int
    activation_bytes: int  # the largest layer input + output of one image, the live peak
    downstream_bytes: int  # the downstream model's coefficients and optimiser state
    runtime: str  # what runs the CNN in a worker: "TensorFlow" or "ONNX Runtime"
    runtime_bytes: int  # that runtime's own footprint in a Python worker, besides the model


@dataclass(frozen=True)
class Profile:
    """What the cost model takes from the CNN itself, measured from its graph
    (optimizer/workload.profile) or given (tests plan without building a model)."""

    layers: tuple[LayerCost, ...]  # the statement's layers, shallowest first
    parameter_bytes: int
    activation_bytes: int  # the largest layer input + output of one image
