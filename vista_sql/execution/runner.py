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
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from pyspark import StorageLevel

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


def run(
    spark,
    plan: PhysicalPlan,
    statement_id: int,
    metrics: dict | None = None,
    *,
    baseline: bool = True,
    on_model=None,
):
    """Run the plan; `metrics` (if given) receives rows inferred per stage (udfs.InferredRows)."""
    q = plan.query
    stages = lowering.lower(plan, statement_id)
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(plan.config.batch_size))
    common = dict(
        structured=list(q.features),
        key=lowering.KEY,
        label=lowering.LABEL,
        is_test=lowering.IS_TEST,
        spec=training.TrainingSpec(q.model, q.params, q.metrics, q.folds, q.split, q.seed),
    )
    schema = result_schema(q)
    rows, counters = [], []
    handed_over = []  # layers whose hand-over tensors this statement's target keeps
    publishing = threading.Lock()  # layers of one stage write the same manifest
    pool = ThreadPoolExecutor(TRAINING_THREADS, thread_name_prefix="vista-train")

    def train_later(fit, before: float, *args):
        # Wrapped here, on the statement's thread: its job tags go with the fit.
        return pool.submit(remote.inheriting(spark, _timed), fit, before, *args)

    try:
        started = time.perf_counter()
        # As many partitions as the stages have: a file source over many small images would
        # otherwise give every training pass of the baseline dozens of tiny tasks.
        joined = spark.sql(lowering.baseline_sql(plan)).coalesce(plan.config.partitions).cache()
        classes = joined.select(lowering.LABEL).distinct().count()
        if models.lookup(q.model).task == "classification":
            # Drawn once from the keys: each layer applies it without re-sorting its wide rows.
            common["split"] = training.draw_split(
                joined, key=lowering.KEY, label=lowering.LABEL, split=q.split, seed=q.seed
            )
        rows_in = joined.count()
        baseline_fit = None
        if baseline:

            def fit_baseline():
                try:
                    return training.fit_and_score(
                        joined, image_features=None, image_dim=0, classes=classes, **common
                    )
                finally:
                    joined.unpersist()

            baseline_fit = train_later(fit_baseline, time.perf_counter() - started)
        else:  # another CNN of the same statement trained the (identical) baseline
            joined.unpersist()
        identity = (
            recorded.images_identity(spark, q, plan.statistics.images) if q.materialize else None
        )

        def train_layer(frame, layer, written_to: str | None, written=None):
            # Training persists its own assembled rows; the raw ones are cached only when they
            # are also written and counted.
            writes = bool(q.materialize) and written_to != q.materialize
            if writes:
                frame = frame.persist(StorageLevel.MEMORY_AND_DISK)
            try:
                if writes:
                    with publishing:
                        materialize.write_layer(frame, q.materialize, layer.name, q.key)
                        entry = materialize.entry(q, layer, identity, frame.count())
                        materialize.record(q.materialize, layer.name, entry)
                        recorded.remember(spark, q.materialize)
                        if written is not None:
                            written()
                return training.fit_and_score(
                    frame,
                    image_features="features",
                    image_dim=layer.feature_dim,
                    classes=classes,
                    **common,
                )
            finally:
                if writes:
                    frame.unpersist()

        def collect(fits: list[tuple], before: float, mark: failures.Mark) -> None:
            """Wait for a stage's fits; the first layer's row also counts the stage's time."""
            for i, (layer, fit) in enumerate(fits):
                with failures.during(f"training on {layer.name}", mark):
                    result, seconds = fit.result()
                if on_model is not None:  # SAVE BEST AS: offered in layer order, ties stable
                    on_model(layer, result)
                rows.append(_row(layer.name, result, seconds + (before if i == 0 else 0), schema))

        loaded, mark = [], failures.Mark.now()
        for record in plan.loaded:
            began = time.perf_counter()
            frame = materialize.load_layer(spark, plan, record)
            written_to = str(Path(record.path).parent)
            fit = train_later(
                train_layer, time.perf_counter() - began, frame, record.layer, written_to
            )
            loaded.append((record.layer, fit))
        collect(loaded, 0.0, mark)
        if (
            plan.resume
            and q.materialize
            and Path(plan.resume.record.path).parent == Path(q.materialize)
        ):
            handed_over.append(plan.resume.record.layer.name)
        for stage in stages:
            started, mark = time.perf_counter(), failures.Mark.now()
            counter = udfs.register(spark, stage.stage.udf_name, stage.task)
            counters.append((stage.stage, counter))
            with failures.during(_stage_name(stage, len(stages)), mark):
                _materialize_stage(spark, stage, statement_id, len(stages), rows_in)
            counter.settle(spark, stage.table)
            if stage.uncache_previous:
                spark.sql(stage.uncache_previous)
            if stage.stage.index == 0:
                _report_skipped(spark, stage.table, dict(q.options).get("on_error", "skip"))
            # A staged plan's hand-over tensors are kept with the layer as soon as it is written,
            # so a driver dying later resumes from there.
            keep = q.materialize and stage.stage.cut == Cut.STAGED and stage is not stages[-1]
            then = partial(_keep_handover, spark, q, stage, handed_over) if keep else None
            fits = []
            for layer, features in zip(stage.stage.layers, stage.features, strict=True):
                frame = spark.sql(features)
                fit = train_later(train_layer, 0.0, frame, layer, None, then)
                fits.append((layer, fit))
            # The stage's table stays cached until every layer it feeds is trained.
            collect(fits, time.perf_counter() - started, mark)
            if stage.stage.reads == StageInput.IMAGES and plan.strategy != Strategy.STAGED:
                _release(spark, stage.table)  # lazy and eager stages feed no later stage
        if baseline_fit is not None:
            with failures.during("training the structured-only baseline", mark):
                result, seconds = baseline_fit.result()
            rows.append(_row(BASELINE, result, seconds, schema))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        # Deepest first: each stage's view is defined over the one before it.
        for stage in reversed(stages):
            _release(spark, stage.table)
        if metrics is not None:
            metrics["inferred"] = {s.index: (s.reads, acc.value) for s, acc in counters}
            metrics["loaded"] = {r.layer.name: r.path for r in plan.loaded}
    # Only now: until their views are dropped, stages still name the files they were read from.
    for layer in handed_over[:-1]:
        materialize.drop_handover(q.materialize, layer)
    order = {name: i for i, name in enumerate([BASELINE, *(x.name for x in plan.layers)])}
    return spark.createDataFrame(sorted(rows, key=lambda row: order[row[0]]), schema)


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
