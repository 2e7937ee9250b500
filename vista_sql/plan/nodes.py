"""Plan nodes: immutable descriptions of what a statement asks for and how it will run.

The binder produces a `TransferQuery` (logical: names resolved, nothing decided); the optimizer
turns it into a `PhysicalPlan` (strategy, stages, configuration); lowering turns that into SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from vista_sql.catalog.models import ModelRef
from vista_sql.catalog.pooling import DEFAULT as DEFAULT_POOLING
from vista_sql.catalog.pooling import Pooling


@dataclass(frozen=True)
class Relation:
    """A table or view Spark can read, with the schema the binder saw."""

    name: str  # quoted Spark SQL name (a catalog table or a view vista_sql registered)
    columns: tuple[tuple[str, str], ...]  # (column, Spark simple type)

    def column_names(self) -> tuple[str, ...]:
        return tuple(c for c, _ in self.columns)


@dataclass(frozen=True)
class LayerRef:
    name: str
    output_shape: tuple[int, ...]
    feature_dim: int


@dataclass(frozen=True)
class TransferQuery:
    cnn: ModelRef
    layers: tuple[LayerRef, ...]  # shallowest first
    images: Relation
    key: str
    image: str
    structured: Relation
    # Join condition and filter, over the internal aliases `img` and `tab` (see binder.ALIASES).
    join_condition: exp.Expr
    where: exp.Expr | None
    label: str
    features: tuple[str, ...]  # structured columns used as X
    model: str
    params: tuple[tuple[str, object], ...]
    split: float
    seed: int
    materialize: str | None
    options: tuple[tuple[str, object], ...] = field(default=())
    pooling: Pooling = DEFAULT_POOLING


@dataclass(frozen=True)
class ExecConfig:
    parallelism: int
    partitions: int
    batch_size: int
    tf_threads: int
    storage_level: str


@dataclass(frozen=True)
class Stage:
    index: int
    layer: LayerRef
    udf_name: str
    reads: str  # "images" for the first stage, "tensors" after


@dataclass(frozen=True)
class PhysicalPlan:
    query: TransferQuery
    strategy: str  # "staged"
    join_placement: str  # "before" inference
    stages: tuple[Stage, ...]
    config: ExecConfig
