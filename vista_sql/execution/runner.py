"""Running a lowered TRANSFER plan on Spark: stage by stage, train per layer, collect results.

At most two stages' tables are cached at once, which is what keeps Vista's staged plan within
memory: a staged plan infers stage k+1 while stage k's layers are still training (their fits read
stage k's table), then releases stage k once those fits are done, before stage k+2 starts. Lazy
and eager stages feed no later stage: each is trained and released before the next one runs.

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
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import DataFrame

from vista_sql.execution import (
    checks,
    events,
    lowering,
    materialize,
    recorded,
    results,
    run_views,
    stage_tables,
    udfs,
)
from vista_sql.execution.results import BASELINE, result_schema
from vista_sql.ml import models, training
from vista_sql.plan.nodes import PhysicalPlan
from vista_sql.plan.vocabulary import Cut, StageInput, Strategy
from vista_sql.spark import failures, queue_time, remote

log = logging.getLogger("vista_sql")

# Fits at once: enough to overlap their job latencies on 2 cores without each one's cached,
# assembled rows crowding storage memory.
TRAINING_THREADS = 3


# An extraction (REFRESH FEATURES) writes each layer's rows and trains nothing.
EXTRACTION_SCHEMA = "layer string, rows long, seconds double"


@dataclass(frozen=True)
class RunResult:
    """One plan's run: its result table and what it measured."""

    frame: DataFrame  # result_schema's columns, the baseline first, then layer by layer
    inferred: dict[int, tuple[str, int | None]]  # stage index → (what it reads, rows inferred)
    loaded: dict[str, str]  # layer → where its recorded features were loaded from
    baseline: training.TrainingResult | None = None  # what every layer is compared with
    held_out: dict = field(default_factory=dict)  # layer → its held-out predictions
    # `frame`'s rows as Python values: read back from `frame`, each took a job of Python tasks.
    rows: tuple = ()

    def metrics(self) -> dict:
        return {"inferred": dict(self.inferred), "loaded": dict(self.loaded)}


def run(
    spark,
    plan: PhysicalPlan,
    statement_id: int,
    counts: checks.Counts,
    *,
    baseline: bool | training.TrainingResult = True,
    on_model=None,
    train: bool = True,
) -> RunResult:
    """Run the plan: the baseline's rows, loaded layers, each stage, then the rows collected.

    `baseline`: another CNN's fit of the (identical) baseline, when that CNN's run trained it;
    `on_model(layer, result)` sees every layer's fitted model in layer order (SAVE BEST AS);
    `train=False` only writes the layers to MATERIALIZE INTO (rows of EXTRACTION_SCHEMA).
    """
    stages = lowering.lower(plan, statement_id)
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(plan.config.batch_size))
    steps = _Steps(spark, plan, on_model, counts, train, statement_id)
    try:
        steps.views.make()
        rows_in, baseline_fit = counts.rows, steps.baseline(train=baseline is True and train)
        rows = steps.loaded_layers()
        stage_rows, counters = steps.stages(stages, statement_id, rows_in)
        rows += stage_rows
        compared = baseline if isinstance(baseline, training.TrainingResult) else None
        if baseline_fit is not None:
            rows.append(steps.baseline_row(baseline_fit))
            compared = rows[-1].result
        held_out = {f.layer: f.result.held_out for f in rows} if train else {}
        if train:
            rows = results.rows(rows, compared, plan.query)
        # Read once every stage ran: a stage recomputed for a later one counts again.
        inferred = {s.index: (s.reads, counter.value) for s, counter in counters}
    finally:
        steps.close(stages)
        materialize.sweep_abandoned(spark)
    steps.drop_superseded_handovers()
    order = {name: i for i, name in enumerate([BASELINE, *(x.name for x in plan.layers)])}
    rows = sorted(rows, key=lambda row: order[row[0]])
    frame = spark.createDataFrame(rows, steps.schema)
    loaded = {r.layer.name: r.path for r in plan.loaded}
    baseline_result = compared if train else None
    return RunResult(frame, inferred, loaded, baseline_result, held_out, tuple(rows))


@dataclass(frozen=True)
class _StageTraining:
    """A cached stage's fits, started; a staged plan infers the next stage meanwhile."""

    stage: lowering.StageSql
    fits: tuple[tuple, ...]  # (layer, Future of (TrainingResult, seconds))


class _Steps:
    """The steps of one plan's run and what they share: the training pool, the split, the
    manifest lock and the hand-over tensors kept so far."""

    def __init__(
        self, spark, plan: PhysicalPlan, on_model, counts: checks.Counts, train: bool, statement_id
    ):
        q = plan.query
        self.spark, self.plan, self.on_model, self.training = spark, plan, on_model, train
        self.schema = result_schema(q) if train else EXTRACTION_SCHEMA
        self.common = dict(
            structured=list(q.features),
            key=lowering.KEY,
            label=lowering.LABEL,
            is_test=lowering.IS_TEST,
            spec=training.TrainingSpec(q.model, q.params, q.metrics, q.folds, q.split, q.seed),
        )
        self.classes, self.split = counts.classes, counts.split
        self.identity = None  # of the images, for the manifest of what MATERIALIZE writes
        self.handed_over: list[str] = []  # layers whose hand-over tensors the target keeps
        self.views = run_views.RunViews(spark, plan, statement_id)
        self.publishing = threading.Lock()  # layers of one stage write the same manifest
        self.mark = failures.Mark.now()  # evidence for errors, from the latest step's start
        self.pool = ThreadPoolExecutor(TRAINING_THREADS, thread_name_prefix="vista-train")
        self.joined = None  # joined_rows(), once asked for

    def baseline(self, train: bool) -> Future | None:
        """The split drawn from the joined rows and, when `train`, the baseline's fit started."""
        spark, plan, q = self.spark, self.plan, self.plan.query
        if q.materialize:
            self.identity = recorded.images_identity(spark, q, plan.statistics.images)
        if not self.training:
            return None  # nothing is trained: neither the split nor the baseline is needed
        started = time.perf_counter()
        joined = self.joined_rows()
        if models.lookup(q.model).task == "classification":
            # Drawn once from the keys (counting them drew it already, for fewer than
            # checks.LOCAL_ROWS): each layer applies it without re-sorting its wide rows.
            self.common["split"] = self.split or training.draw_split(
                joined, key=lowering.KEY, label=lowering.LABEL, split=q.split, seed=q.seed
            )
        fit = None
        if train:

            def fit_baseline():
                return training.fit_and_score(
                    joined, image_features=None, image_dim=0, classes=self.classes, **self.common
                )

            fit = self._train_later(BASELINE, fit_baseline, time.perf_counter() - started)
        return fit

    def joined_rows(self):
        """The statement's joined rows (images ⋈ structured, filtered, labelled, split), cached
        until the statement ends: the baseline trains on them and every loaded layer joins its
        recorded features to them. Each of those once ran the join itself: bench/warm.py's
        recorded-layers statement listed the 1,000 image files and read the table four times."""
        if self.joined is None:
            plan = self.plan
            # As many partitions as the stages have: a file source over many small images would
            # otherwise give every training pass of the baseline dozens of tiny tasks.
            rows = self.spark.sql(lowering.baseline_sql(plan)).coalesce(plan.config.partitions)
            self.joined = rows.cache()
        return self.joined

    def loaded_layers(self) -> list[tuple]:
        """Train on the layers whose features were recorded by an earlier MATERIALIZE."""
        plan, q = self.plan, self.plan.query
        fits, self.mark = [], failures.Mark.now()
        for record in plan.loaded:
            if not self.training and Path(record.path).parent == Path(q.materialize):
                fits.append((record.layer, _done((record.rows, 0.0))))  # current as it is
                continue
            began = time.perf_counter()
            joined = self.joined_rows() if self.training else None
            frame = materialize.load_layer(self.spark, plan, record, joined)
            written_to = str(Path(record.path).parent)
            fit = self._train_later(
                record.layer.name,
                self._train_layer,
                time.perf_counter() - began,
                frame,
                record.layer,
                written_to,
            )
            fits.append((record.layer, fit))
        rows = self._collect(fits)
        resume = plan.resume
        if resume and q.materialize and Path(resume.record.path).parent == Path(q.materialize):
            self.handed_over.append(resume.record.layer.name)
        return rows

    def stages(self, stages, statement_id: int, rows_in: int) -> tuple[list[tuple], list]:
        """Infer and train stage by stage: (rows, (stage, counter of rows inferred) per stage)."""
        rows, counters, training = [], [], None
        for stage in stages:
            counter, seconds = self.infer(stage, statement_id, len(stages), rows_in)
            counters.append((stage.stage, counter))
            if training is not None:
                rows += self.finish(training)
            if stage.uncache_previous:  # only now: the previous stage's fits read its table
                self.spark.sql(stage.uncache_previous)
            training = self.train(stage, seconds)
            if self.plan.strategy != Strategy.STAGED:
                rows += self.finish(training)
                training = None
        if training is not None:
            rows += self.finish(training)
        return rows, counters

    def infer(self, stage, statement_id: int, count: int, rows_in: int):
        """Cache one CNN stage: the counter of the rows it inferred, and the seconds it took."""
        spark, q = self.spark, self.plan.query
        started, self.mark = time.perf_counter(), failures.Mark.now()
        counter = udfs.register(spark, stage.stage.udf_name, stage.task)
        with failures.during(stage_tables.name(stage, count), self.mark):
            stage_tables.cache(spark, stage, statement_id, count, rows_in)
        counter.settle(spark, stage.table)
        if stage.stage.index == 0:
            on_error = dict(q.options).get("on_error", "skip")
            checks.report_skipped(spark, stage.table, on_error, counter.failed)
        return counter, time.perf_counter() - started

    def train(self, stage, inference_seconds: float) -> _StageTraining:
        """Start the fits of a cached stage's layers; `finish` waits for them."""
        spark, plan, q = self.spark, self.plan, self.plan.query
        # A staged plan's hand-over tensors are kept with the layer as soon as it is written,
        # so a driver dying later resumes from there.
        last = stage.stage.index == plan.stages[-1].index
        # A refresh's stages hold only the images it inferred: too few to continue from.
        # A session record keeps features only: a block's tensors are tens of times larger.
        keep = q.materialize and stage.stage.cut == Cut.STAGED and not last and not plan.refresh
        keep = keep and not q.session_record
        then = (
            partial(stage_tables.keep_handover, spark, q, stage, self.handed_over) if keep else None
        )
        fits = []
        records = {r.layer.name: r for r in plan.refreshed}
        # Each row counts its share of the stage's inference (results.inference_shares).
        shares = results.inference_shares(plan, stage.stage)
        for layer, features, added, share in zip(
            stage.stage.layers, stage.features, stage.appended, shares, strict=True
        ):
            added = (spark.sql(added), records[layer.name]) if added else None
            inferring = inference_seconds * share
            # Extracting only, appended rows are all a layer needs: its whole rows (the record's
            # union the inferred) would be analysed for nothing, reading the record's schema.
            extracting = not self.training and bool(self.plan.query.materialize)
            rows = None if added and extracting else spark.sql(features)
            fit = self._train_later(
                layer.name,
                self._train_layer,
                inferring,
                rows,
                layer,
                None,
                then,
                added,
            )
            fits.append((layer, fit))
        return _StageTraining(stage, tuple(fits))

    def finish(self, training: _StageTraining) -> list[tuple]:
        """The rows of a stage's fits, once done. Its table stays cached until then; a lazy or
        eager stage feeds no later stage and is released here."""
        stage = training.stage
        rows = self._collect(list(training.fits))
        if stage.stage.reads == StageInput.IMAGES and self.plan.strategy != Strategy.STAGED:
            stage_tables.release(self.spark, stage.table)
        return rows

    def baseline_row(self, fit: Future) -> tuple:
        with failures.during("training the structured-only baseline", self.mark):
            result, seconds = fit.result()
        return results.Fitted(BASELINE, result, seconds)

    def close(self, stages) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        # Deepest first: each stage's view is defined over the one before it.
        for stage in reversed(stages):
            stage_tables.release(self.spark, stage.table)
        self.views.drop()
        if self.joined is not None:
            self.joined.unpersist()

    def drop_superseded_handovers(self) -> None:
        # Only once the stages' views are dropped: until then they name the files they read.
        for layer in self.handed_over[:-1]:
            materialize.drop_handover(self.plan.query.materialize, layer)

    def _train_later(self, name: str, fit, before: float, *args) -> Future:
        """Fit on the pool; the row is announced (events.ScoredEvent) the moment it is scored,
        long before the statement's table."""
        # Wrapped here, on the statement's thread: its job tags go with the fit.
        timed = remote.inheriting(self.spark, _timed)
        future = self.pool.submit(timed, self.spark, fit, before, *args)
        if self.training:
            future.add_done_callback(partial(_announce, name))
        return future

    def _train_layer(self, frame, layer, written_to: str | None, written=None, appended=None):
        """Write the layer's rows to MATERIALIZE INTO (when it is not where they come from) and
        fit its model. `appended`: (the rows its record lacks, the record) when only those are
        written beside the record's files."""
        q = self.plan.query
        # Training persists its own assembled rows; the raw ones are cached only when they are
        # also written (counted from the written files).
        writes = bool(q.materialize) and written_to != q.materialize
        cached = writes and appended is None and self.training
        if cached:
            frame = frame.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            if writes:
                # Each layer's version has a directory of its own: only recording it is shared.
                directory, rows = materialize.write_version(
                    frame, q, layer.name, self.views.image_versions, appended
                )
                with materialize.removed_unless_recorded(q.materialize, directory):
                    entry = materialize.entry(q, layer, self.identity, rows, directory)
                    with self.publishing:
                        materialize.record(q.materialize, layer.name, entry)
                        recorded.remember(self.spark, q.materialize)
                        if written is not None:
                            written()
            if not self.training:
                return entry.rows if writes else frame.count()
            return training.fit_and_score(
                frame,
                image_features="features",
                image_dim=layer.feature_dim,
                classes=self.classes,
                **self.common,
            )
        finally:
            if cached:
                frame.unpersist()

    def _collect(self, fits: list[tuple]) -> list[tuple]:
        """Wait for a step's fits, in layer order."""
        rows = []
        for layer, fit in fits:
            with failures.during(f"training on {layer.name}", self.mark):
                result, seconds = fit.result()
            if not self.training:
                rows.append((layer.name, result, round(seconds, 2)))
                continue
            if self.on_model is not None:  # SAVE BEST AS: offered in layer order, ties stable
                self.on_model(layer, result)
            rows.append(results.Fitted(layer.name, result, seconds))
        return rows


def _announce(name: str, future: Future) -> None:
    if future.cancelled() or future.exception() is not None:
        return  # the statement reports the failure
    result, seconds = future.result()
    if isinstance(result, training.TrainingResult):
        events.emit(events.ScoredEvent(name, dict(result.scores), seconds))


def _done(value) -> Future:
    done = Future()
    done.set_result(value)
    return done


def _timed(spark, fit, before: float, *args) -> tuple:
    """`fit(*args)` and the seconds it took, plus `before` (the work that prepared it), less
    the time its Spark stages stood waiting for a task slot (behind a CNN stage, typically)."""
    began = time.perf_counter()
    with queue_time.measured(spark) as waited:
        result = fit(*args)
    return result, before + max(0.0, time.perf_counter() - began - waited.seconds)
