"""Plan nodes: immutable descriptions of what a statement asks for and how it will run.

The binder produces a `TransferQuery` (logical: names resolved, nothing decided); the optimizer
turns it into a `PhysicalPlan` (strategy, stages, configuration); lowering turns that into SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sqlglot import exp

from vista_sql.catalog.models import ModelRef
from vista_sql.catalog.pooling import DEFAULT as DEFAULT_POOLING
from vista_sql.catalog.pooling import Pooling
from vista_sql.plan.manifest import HANDOVER
from vista_sql.plan.vocabulary import Cut, Join, JoinPlacement, StageInput, Storage, Strategy
from vista_sql.plan.workload import ModelFootprint, Workload


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
    metrics: tuple[str, ...] = ("accuracy", "f1", "auc")
    folds: int | None = None  # EVALUATE CROSS VALIDATE k
    feature_table: str | None = None  # MATERIALIZE INTO TABLE: its name; `materialize` its path
    # A label of class names: the names in index order (most frequent first, then by name, as
    # Spark's StringIndexer orders them), () until read from the joined rows; None for a numeric
    # or boolean label, trained on as it is.
    classes: tuple[str, ...] | None = None
    # `materialize` is the session's own record (execution/session_records), not the user's.
    session_record: bool = False


UNKNOWN_SIZE = 2**62  # Statistics.structured_bytes of a source Spark has no estimate for


@dataclass(frozen=True)
class Statistics:
    """What the optimizer knows about the data (counted or read from Spark, or injected)."""

    images: int  # rows of the images side
    joined: int  # rows surviving the join and filters
    structured_bytes: int  # size of the structured side as Spark estimates it
    image_bytes: int  # average encoded image size


@dataclass(frozen=True)
class MemoryPlan:
    """Vista's memory regions for one node, in bytes."""

    total: int
    os_reserve: int
    core: int  # Spark execution and JVM internals
    inference: int  # the CNN runtime in the Python workers: concurrent tasks × model footprint
    user: int  # per-task buffers: partitions in flight, downstream model
    storage: int  # what is left for cached stages
    runtime: str = "TensorFlow"  # what runs the CNN: TensorFlow or ONNX Runtime


@dataclass(frozen=True)
class ExecConfig:
    parallelism: int  # concurrent tasks (Vista's cpu)
    partitions: int
    batch_size: int  # inference batch, also the Arrow batch
    tf_threads: int  # TensorFlow intra-op threads per task = cores ÷ concurrent tasks
    storage_level: Storage
    memory: MemoryPlan | None = None
    # Settings the plan wants that a running session cannot take (fixed at JVM start).
    unapplied: tuple[str, ...] = ()
    resources: str = ""  # the cluster planned for (executors, cores, memory); "" on one machine
    # Task counts and batches tried before this one, each leaving too little storage memory.
    rejected: tuple[Rejected, ...] = ()


@dataclass(frozen=True)
class Rejected:
    """A configuration the search tried and ruled out, with the memory split that ruled it out."""

    tasks: int
    batch: int
    memory: MemoryPlan


@dataclass(frozen=True)
class Decision:
    """A physical choice and why it was made, for EXPLAIN."""

    what: str  # "parallelism" (with the batch), "join", "storage", "partitions"
    choice: str
    reason: str


@dataclass(frozen=True)
class PlannedStage:
    """One CNN stage of a plan (catalog.staging.Stage is the model graph it runs)."""

    index: int
    layers: tuple[LayerRef, ...]  # the features this stage produces (all of them for eager)
    udf_name: str
    reads: StageInput
    cut: Cut
    estimated_bytes: int = 0  # the stage's cached table


@dataclass(frozen=True)
class Alternative:
    strategy: Strategy
    join_placement: JoinPlacement
    seconds: float
    peak_bytes: int
    verdict: str  # "chosen" or why it lost


@dataclass(frozen=True)
class RecordedLayer:
    """A layer an earlier MATERIALIZE INTO wrote, as the optimizer found it for this statement."""

    layer: LayerRef
    path: str  # the layer's Parquet dataset: the image key column and `features`
    key: str  # the key column's name there
    rows: int
    problem: str | None = None  # why it cannot stand in for the layer (stale, partial, ...)
    load_seconds: float = 0.0
    recompute_seconds: float = 0.0  # what computing it costs on top of the layers computed anyway
    loaded: bool = False
    # Names of the tensors a staged plan handed on from this layer, stored beside it in
    # `<path>/_handover`: deeper layers may continue from them instead of from the images.
    handover: tuple[str, ...] = ()
    handover_inputs: tuple[int, ...] = ()  # which of them this statement's next stage reads
    # Rows carry their image's version: compared with the images now, per key (the statement's
    # joined keys), they tell what a refresh infers (new + changed) and drops (removed).
    versioned: bool = False
    new: int = 0
    changed: int = 0
    removed: int = 0
    refreshed: bool = False  # kept for its unchanged rows, the rest inferred (PhysicalPlan.refresh)
    # The needed images it lacks as they are now (new + changed), where the comparison ran on
    # the driver: a refresh infers them without comparing again in Spark.
    stale_keys: frozenset | None = field(default=None, compare=False, repr=False)

    @property
    def handover_path(self) -> str:
        return f"{self.path}/{HANDOVER}"

    @property
    def appendable(self) -> bool:
        """Refreshed with every recorded row still current: its files are kept as they are and
        only the rows it lacks are written beside them."""
        return self.refreshed and self.changed == 0 and self.removed == 0

    @property
    def complete(self) -> bool:
        """Holds the features of every image this statement needs, as the image is now."""
        return not self.versioned or self.new + self.changed == 0

    def verdict(self) -> str:
        if self.problem:
            return f"not used: {self.problem}"
        if self.refreshed:
            return (
                f"{self.rows:,} rows recorded, {self.new:,} new, {self.changed:,} changed, "
                f"{self.removed:,} removed → infer {self.new + self.changed:,} (refresh)"
            )
        estimate = f"load est {self.load_seconds:.1f} s vs recompute {self.recompute_seconds:.1f} s"
        return f"loaded ({estimate})" if self.loaded else f"recomputed ({estimate})"


@dataclass(frozen=True)
class Resume:
    """Continue the staged plan from a recorded layer's hand-over tensors, not from the images."""

    record: RecordedLayer
    seconds: float  # the estimate that beat computing from the images
    instead_of: float


@dataclass(frozen=True)
class Refresh:
    """Infer only the images that are new or changed since the records of `PhysicalPlan.recorded`
    marked `refreshed` were written; every other row's features are read from them."""

    rows: int  # images to infer, estimated (the most any one record lacks)
    seconds: float  # the estimate that beat computing every row
    instead_of: float


@dataclass(frozen=True)
class PhysicalPlan:
    query: TransferQuery
    strategy: Strategy
    join_placement: JoinPlacement  # before or after inference
    stages: tuple[PlannedStage, ...]
    config: ExecConfig
    join: Join = Join.BROADCAST
    # WHERE split by the side it reads, so each filter runs below the join and inference.
    image_filter: exp.Expr | None = None
    structured_filter: exp.Expr | None = None
    residual_filter: exp.Expr | None = None
    statistics: Statistics | None = None
    alternatives: tuple[Alternative, ...] = ()
    # Every layer the statement asked for; `query.layers` holds only those computed here, the
    # rest are loaded from what an earlier MATERIALIZE INTO recorded.
    requested: tuple[LayerRef, ...] = ()
    recorded: tuple[RecordedLayer, ...] = ()
    resume: Resume | None = None  # stage 0 then reads StageInput.STORED tensors
    refresh: Refresh | None = None  # the stages then infer only new and changed images
    # What the optimizer costed the plan with (for a resumed plan: the layers after the recorded
    # one, from its tensors), shown as is by EXPLAIN COST.
    workload: Workload | None = None
    footprint: ModelFootprint | None = None
    storage_memory: int = 0  # what the stages may hold on all nodes (the session's, if less)
    decisions: tuple[Decision, ...] = ()  # the physical choices, each with its reason

    def decided(self, what: str, choice: object, reason: str) -> PhysicalPlan:
        """This plan with the decision about `what` recorded; a decision made again replaces the
        earlier one in place, so re-running a rule leaves the plan equal."""
        decision = Decision(what, str(choice), reason)
        kept = [d for d in self.decisions if d.what != what]
        at = next((i for i, d in enumerate(self.decisions) if d.what == what), len(kept))
        kept.insert(at, decision)
        return replace(self, decisions=tuple(kept))

    @property
    def loaded(self) -> tuple[RecordedLayer, ...]:
        return tuple(r for r in self.recorded if r.loaded)

    @property
    def refreshed(self) -> tuple[RecordedLayer, ...]:
        return tuple(r for r in self.recorded if r.refreshed)

    @property
    def layers(self) -> tuple[LayerRef, ...]:
        return self.requested or self.query.layers


def draft(query: TransferQuery) -> PhysicalPlan:
    """The plan before the optimizer decides anything: what statistics are counted over (its
    joined rows are the same whatever is decided later)."""
    return PhysicalPlan(
        query=query,
        strategy=Strategy.STAGED,
        join_placement=JoinPlacement.BEFORE,
        stages=(),
        config=ExecConfig(1, 1, 1, 1, Storage.DESERIALIZED),
        residual_filter=query.where,
    )
