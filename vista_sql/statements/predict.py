"""PREDICT WITH <saved model> ON images JOIN table ...: a saved model applied to new rows, planned
like a TRANSFER stage (the optimizer's memory-aware configuration: concurrent tasks, inference
batch, TensorFlow threads, partitions), and EXPLAIN PREDICT WITH to show that plan."""

from __future__ import annotations

import dataclasses

from vista_sql.dialect import nodes
from vista_sql.errors import VistaBindError
from vista_sql.execution import predict
from vista_sql.ml import saved
from vista_sql.optimizer import config as system_config
from vista_sql.optimizer import cost
from vista_sql.optimizer import resources as cluster
from vista_sql.optimizer import workload as workloads
from vista_sql.plan.binder import Binder
from vista_sql.plan.nodes import ExecConfig, LayerRef, TransferQuery
from vista_sql.plan.values import position
from vista_sql.plan.vocabulary import JoinPlacement, Strategy
from vista_sql.spark import failures
from vista_sql.statements import facts
from vista_sql.statements.context import Context, Outcome
from vista_sql.statements.explain import configuration_details, tasks_line


def handle(context: Context, tree: nodes.PredictWith) -> Outcome:
    with failures.during(f"PREDICT WITH {tree.this.name}"):
        prediction = plan(context.spark, context.binder, tree)
        return Outcome(predict.predict(context.spark, prediction))


def handle_explain(context: Context, tree: nodes.ExplainPredict) -> Outcome:
    """EXPLAIN PREDICT WITH: the configuration and its memory, and the Spark SQL; nothing run."""
    with failures.during(f"EXPLAIN PREDICT WITH {tree.this.this.name}"):
        prediction = plan(context.spark, context.binder, tree.this)
    return Outcome(context.spark.createDataFrame([(render(prediction),)], "plan string"))


def plan(spark, binder: Binder, tree: nodes.PredictWith) -> predict.Prediction:
    """Bind the saved model and both sides, count the rows, and configure the CNN stage."""
    name = tree.this.name
    root = saved.models_dir(spark)
    try:
        meta = saved.read(root, name)
    except VistaBindError as error:
        raise error.at(*position(tree.this)) from None
    images, key, image, table, _, condition, where = binder.sources(tree)
    real = {c.lower(): c for c in table.column_names()}
    missing = [c for c in meta["structured"] if c.lower() not in real]
    if missing:
        raise VistaBindError(
            f"saved model '{name}' needs structured column(s) {', '.join(missing)}, not in the "
            "joined table",
            *position(tree.args["structured"]),
        )
    query = TransferQuery(
        cnn=saved.model_ref(meta),
        layers=(LayerRef(meta["layer"], (), meta["feature_dim"]),),
        images=images,
        key=key,
        image=image,
        structured=table,
        join_condition=condition,
        where=where,
        label=meta["label"],
        features=tuple(real[c.lower()] for c in meta["structured"]),
        model=meta["learner"],
        params=(),
        split=0.0,
        seed=0,
        materialize=None,
        pooling=saved.pooling_of(meta),
    )
    draft = predict.Prediction(name, str(root), meta, query, ExecConfig(1, 1, 1, 1, "NONE"))
    statistics = facts.count(spark, query, predict.joined_select(draft).sql(dialect="spark"))
    resources = facts.of_session(spark)
    slots = facts.task_slots(spark, resources)
    work, footprint = workloads.build(query, statistics, resources.cores)
    # One stage, streamed into the model rather than cached: its rows only size the partitions.
    largest = max(cost.stage_bytes(work, Strategy.LAZY, JoinPlacement.BEFORE))
    chosen = system_config.search(resources, footprint, largest)
    return dataclasses.replace(
        draft, config=_in_session(chosen, resources, slots), statistics=statistics
    )


def _in_session(config: ExecConfig, resources, slots: int | None) -> ExecConfig:
    """The configuration as the running session can take it: its own concurrent tasks."""
    if not slots or slots == config.parallelism:
        return config
    note = (
        f"parallelism {config.parallelism}: the session runs {slots} concurrent tasks "
        f"({cluster.restart_hint(resources, config.parallelism)})"
    )
    # TensorFlow threads follow the tasks that will really run side by side.
    threads = max(1, resources.cores // slots)
    return dataclasses.replace(config, tf_threads=threads, unapplied=(note,))


def render(p: predict.Prediction) -> str:
    q, c, s, meta = p.query, p.config, p.statistics, p.meta
    condition = q.join_condition.sql(dialect="spark")
    lines = [
        "== vista_sql prediction plan ==",
        f"saved model: {p.name} ({meta['learner']} on {q.cnn.describe()} layer "
        f"{meta['layer']}, {meta['feature_dim']} features; pooling {q.pooling.describe()}; "
        f"structured columns {', '.join(meta['structured']) or 'none'})",
        f"Predict with the saved PipelineModel ({p.root}/{p.name.lower()})",
        f"  Stage 0 [prefix] {meta['layer']} via {p.udf_name}(reads images)",
        f"    Join ON {condition}"
        + (f" WHERE {q.where.sql(dialect='spark')}" if q.where is not None else ""),
        f"      Scan {q.images.name} AS img (key {q.key}, image {q.image})",
        f"      Scan {q.structured.name} AS tab",
        "== configuration ==",
        tasks_line(c),
    ]
    lines += configuration_details(c, s, structured_size=False)
    lines += ["== Spark SQL ==", predict.predict_sql(p) + ";"]
    return "\n".join(lines)
