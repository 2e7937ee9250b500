"""Running a lowered TRANSFER plan on Spark: stage by stage, train per layer, collect results.

Only the current stage's table is cached; the previous one is released as soon as the next is
materialised, which is what keeps Vista's staged plan within memory.

Models are trained a few at a time on threads of the driver: an MLlib fit over a stage's rows is
a chain of small Spark jobs, mostly waiting on job latency, so a stage's layers (all five of an
Eager plan) and the structured-only baseline overlap their waits (ResNet50 top-5 at N=1000 spent
34 s training one model after another against 55 s of inference).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import DataFrame

from vista_sql.catalog import models as cnn_models
from vista_sql.execution import checks, events, lowering, materialize, recorded, udfs
from vista_sql.ml import models, training
from vista_sql.plan.nodes import PhysicalPlan
from vista_sql.plan.vocabulary import Cut, StageInput, Strategy
from vista_sql.spark import failures, remote

log = logging.getLogger("vista_sql")

BASELINE = "(structured only)"
# Fits at once: enough to overlap their job latencies on 2 cores without each one's cached,
# assembled rows crowding storage memory.
TRAINING_THREADS = 3


def result_schema(q) -> str:
    """layer, feature_dim, n_train, n_test, the chosen metrics, [best_params], seconds."""
    columns = ["layer string", "feature_dim int", "n_train long", "n_test long"]
    columns += [f"{metric} double" for metric in q.metrics]
    if q.folds or any(isinstance(v, models.Grid) for _, v in q.params):
        columns.append("best_params string")
    return ", ".join([*columns, "seconds double"])


@dataclass(frozen=True)
class RunResult:
    """One plan's run: its result table and what it measured."""

    frame: DataFrame  # result_schema's columns, the baseline first, then layer by layer
    inferred: dict[int, tuple[str, int | None]]  # stage index → (what it reads, rows inferred)
    loaded: dict[str, str]  # layer → where its recorded features were loaded from

    def metrics(self) -> dict:
        return {"inferred": dict(self.inferred), "loaded": dict(self.loaded)}


def run(
    spark, plan: PhysicalPlan, statement_id: int, *, baseline: bool = True, on_model=None
) -> RunResult:
    """Run the plan: the baseline's rows, loaded layers, each stage, then the rows collected.

    `baseline=False` when another CNN of the same statement trains the (identical) baseline;
    `on_model(layer, result)` sees every layer's fitted model in layer order (SAVE BEST AS).
    """
    stages = lowering.lower(plan, statement_id)
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(plan.config.batch_size))
    steps = _Steps(spark, plan, on_model)
    try:
        rows_in, baseline_fit = steps.baseline(train=baseline)
        rows = steps.loaded_layers()
        counters = []
        for stage in stages:
            stage_rows, counter = steps.stage(stage, statement_id, len(stages), rows_in)
            rows += stage_rows
            counters.append((stage.stage, counter))
        if baseline_fit is not None:
            rows.append(steps.baseline_row(baseline_fit))
        # Read once every stage ran: a stage recomputed for a later one counts again.
        inferred = {s.index: (s.reads, counter.value) for s, counter in counters}
    finally:
        steps.close(stages)
    steps.drop_superseded_handovers()
    order = {name: i for i, name in enumerate([BASELINE, *(x.name for x in plan.layers)])}
    frame = spark.createDataFrame(sorted(rows, key=lambda row: order[row[0]]), steps.schema)
    return RunResult(frame, inferred, {r.layer.name: r.path for r in plan.loaded})


class _Steps:
    """The steps of one plan's run and what they share: the training pool, the split, the
    manifest lock and the hand-over tensors kept so far."""

    def __init__(self, spark, plan: PhysicalPlan, on_model):
        q = plan.query
        self.spark, self.plan, self.on_model = spark, plan, on_model
        self.schema = result_schema(q)
        self.common = dict(
            structured=list(q.features),
            key=lowering.KEY,
            label=lowering.LABEL,
            is_test=lowering.IS_TEST,
            spec=training.TrainingSpec(q.model, q.params, q.metrics, q.folds, q.split, q.seed),
        )
        self.classes = 0
        self.identity = None  # of the images, for the manifest of what MATERIALIZE writes
        self.handed_over: list[str] = []  # layers whose hand-over tensors the target keeps
        self.publishing = threading.Lock()  # layers of one stage write the same manifest
        self.mark = failures.Mark.now()  # evidence for errors, from the latest step's start
        self.pool = ThreadPoolExecutor(TRAINING_THREADS, thread_name_prefix="vista-train")

    def baseline(self, train: bool) -> tuple[int, Future | None]:
        """The joined rows (counted) and, when `train`, the baseline's fit started on them."""
        spark, plan, q = self.spark, self.plan, self.plan.query
        started = time.perf_counter()
        # As many partitions as the stages have: a file source over many small images would
        # otherwise give every training pass of the baseline dozens of tiny tasks.
        joined = spark.sql(lowering.baseline_sql(plan)).coalesce(plan.config.partitions).cache()
        self.classes = joined.select(lowering.LABEL).distinct().count()
        if models.lookup(q.model).task == "classification":
            # Drawn once from the keys: each layer applies it without re-sorting its wide rows.
            self.common["split"] = training.draw_split(
                joined, key=lowering.KEY, label=lowering.LABEL, split=q.split, seed=q.seed
            )
        rows_in = joined.count()
        fit = None
        if train:

            def fit_baseline():
                try:
                    return training.fit_and_score(
                        joined,
                        image_features=None,
                        image_dim=0,
                        classes=self.classes,
                        **self.common,
                    )
                finally:
                    joined.unpersist()

            fit = self._train_later(fit_baseline, time.perf_counter() - started)
        else:
            joined.unpersist()
        if q.materialize:
            self.identity = recorded.images_identity(spark, q, plan.statistics.images)
        return rows_in, fit

    def loaded_layers(self) -> list[tuple]:
        """Train on the layers whose features were recorded by an earlier MATERIALIZE."""
        plan, q = self.plan, self.plan.query
        fits, self.mark = [], failures.Mark.now()
        for record in plan.loaded:
            began = time.perf_counter()
            frame = materialize.load_layer(self.spark, plan, record)
            written_to = str(Path(record.path).parent)
            fit = self._train_later(
                self._train_layer, time.perf_counter() - began, frame, record.layer, written_to
            )
            fits.append((record.layer, fit))
        rows = self._collect(fits, 0.0)
        resume = plan.resume
        if resume and q.materialize and Path(resume.record.path).parent == Path(q.materialize):
            self.handed_over.append(resume.record.layer.name)
        return rows

    def stage(self, stage, statement_id: int, count: int, rows_in: int):
        """Cache one CNN stage and train on each of its layers: (rows, rows it inferred)."""
        spark, plan, q = self.spark, self.plan, self.plan.query
        started, self.mark = time.perf_counter(), failures.Mark.now()
        counter = udfs.register(spark, stage.stage.udf_name, stage.task)
        with failures.during(_stage_name(stage, count), self.mark):
            _materialize_stage(spark, stage, statement_id, count, rows_in)
        counter.settle(spark, stage.table)
        if stage.uncache_previous:
            spark.sql(stage.uncache_previous)
        if stage.stage.index == 0:
            _report_skipped(spark, stage.table, dict(q.options).get("on_error", "skip"))
        # A staged plan's hand-over tensors are kept with the layer as soon as it is written,
        # so a driver dying later resumes from there.
        last = stage.stage.index == plan.stages[-1].index
        keep = q.materialize and stage.stage.cut == Cut.STAGED and not last
        then = partial(_keep_handover, spark, q, stage, self.handed_over) if keep else None
        fits = []
        for layer, features in zip(stage.stage.layers, stage.features, strict=True):
            fit = self._train_later(self._train_layer, 0.0, spark.sql(features), layer, None, then)
            fits.append((layer, fit))
        # The stage's table stays cached until every layer it feeds is trained.
        rows = self._collect(fits, time.perf_counter() - started)
        if stage.stage.reads == StageInput.IMAGES and plan.strategy != Strategy.STAGED:
            _release(spark, stage.table)  # lazy and eager stages feed no later stage
        return rows, counter

    def baseline_row(self, fit: Future) -> tuple:
        with failures.during("training the structured-only baseline", self.mark):
            result, seconds = fit.result()
        return _row(BASELINE, result, seconds, self.schema)

    def close(self, stages) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        # Deepest first: each stage's view is defined over the one before it.
        for stage in reversed(stages):
            _release(self.spark, stage.table)

    def drop_superseded_handovers(self) -> None:
        # Only once the stages' views are dropped: until then they name the files they read.
        for layer in self.handed_over[:-1]:
            materialize.drop_handover(self.plan.query.materialize, layer)

    def _train_later(self, fit, before: float, *args) -> Future:
        # Wrapped here, on the statement's thread: its job tags go with the fit.
        return self.pool.submit(remote.inheriting(self.spark, _timed), fit, before, *args)

    def _train_layer(self, frame, layer, written_to: str | None, written=None):
        q = self.plan.query
        # Training persists its own assembled rows; the raw ones are cached only when they are
        # also written and counted.
        writes = bool(q.materialize) and written_to != q.materialize
        if writes:
            frame = frame.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            if writes:
                with self.publishing:
                    materialize.write_layer(frame, q.materialize, layer.name, q.key)
                    entry = materialize.entry(q, layer, self.identity, frame.count())
                    materialize.record(q.materialize, layer.name, entry)
                    recorded.remember(self.spark, q.materialize)
                    if written is not None:
                        written()
            return training.fit_and_score(
                frame,
                image_features="features",
                image_dim=layer.feature_dim,
                classes=self.classes,
                **self.common,
            )
        finally:
            if writes:
                frame.unpersist()

    def _collect(self, fits: list[tuple], before: float) -> list[tuple]:
        """Wait for a step's fits; the first layer's row also counts the step's own time."""
        rows = []
        for i, (layer, fit) in enumerate(fits):
            with failures.during(f"training on {layer.name}", self.mark):
                result, seconds = fit.result()
            if self.on_model is not None:  # SAVE BEST AS: offered in layer order, ties stable
                self.on_model(layer, result)
            rows.append(_row(layer.name, result, seconds + (before if i == 0 else 0), self.schema))
        return rows


def _materialize_stage(spark, stage, statement_id: int, count: int, rows_in: int) -> None:
    """CACHE TABLE the stage under its own job group (a job tag under Spark Connect), announcing
    it to progress listeners."""
    names = ", ".join(layer.name for layer in stage.stage.layers)
    group = f"vista-{statement_id}-stage{stage.stage.index}"
    event = dict(index=stage.stage.index, stages=count, layer=names, rows=rows_in, job_group=group)
    events.emit(events.StageEvent("started", **event))
    with remote.job_group(spark, group, f"vista_sql: {names}"):
        spark.sql(stage.cache)
    events.emit(events.StageEvent("finished", **event))


def _stage_name(stage, count: int) -> str:
    names = ", ".join(layer.name for layer in stage.stage.layers)
    return f"CNN stage {stage.stage.index + 1} of {count} ({names})"


def _keep_handover(spark, q, stage, kept: list[str]) -> None:
    """Store the stage's hand-over tensors beside its layer; add that layer's name to `kept`."""
    cut = stage.task.plan_cut(cnn_models.model_for(q.cnn))
    names = [cut.outputs[i] for i in cut.frontier]
    layer = stage.stage.layers[0].name
    materialize.write_handover(spark, q.materialize, layer, stage.table, names)
    kept.append(layer)


def _release(spark, table: str) -> None:
    for statement in lowering.release_sql(table):
        spark.sql(statement)


def _timed(fit, before: float, *args) -> tuple:
    """`fit(*args)` and the seconds it took, plus `before` (the work that prepared it)."""
    began = time.perf_counter()
    return fit(*args), before + time.perf_counter() - began


def _row(layer: str, result: training.TrainingResult, seconds: float, schema: str) -> tuple:
    row = [layer, result.feature_dim, result.n_train, result.n_test, *result.scores.values()]
    if "best_params" in schema:
        row.append(result.best_params)
    return (*row, round(seconds, 2))


def _report_skipped(spark, table: str, on_error: str) -> None:
    checks.report_skipped(spark, table, on_error)
