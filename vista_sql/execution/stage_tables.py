"""A CNN stage's cached table: cached under its own job group, so progress listeners hear of it
and Ctrl-C cancels it; named in errors; its hand-over tensors kept with its layer; released."""

from __future__ import annotations

from vista_sql.catalog import models as cnn_models
from vista_sql.execution import events, lowering, materialize
from vista_sql.spark import remote


def cache(spark, stage, statement_id: int, count: int, rows_in: int) -> None:
    """CACHE TABLE the stage under its own job group (a job tag under Spark Connect), announcing
    it to progress listeners."""
    names = ", ".join(layer.name for layer in stage.stage.layers)
    group = f"vista-{statement_id}-stage{stage.stage.index}"
    event = dict(index=stage.stage.index, stages=count, layer=names, rows=rows_in, job_group=group)
    events.emit(events.StageEvent("started", **event))
    with remote.job_group(spark, group, f"vista_sql: {names}"):
        spark.sql(stage.cache)
    events.emit(events.StageEvent("finished", **event))


def name(stage, count: int) -> str:
    names = ", ".join(layer.name for layer in stage.stage.layers)
    return f"CNN stage {stage.stage.index + 1} of {count} ({names})"


def keep_handover(spark, q, stage, kept: list[str]) -> None:
    """Store the stage's hand-over tensors beside its layer; add that layer's name to `kept`."""
    cut = stage.task.plan_cut(cnn_models.graph_for(q.cnn))
    names = [cut.outputs[i] for i in cut.frontier]
    layer = stage.stage.layers[0].name
    materialize.write_handover(spark, q.materialize, layer, stage.table, names)
    kept.append(layer)


def release(spark, table: str) -> None:
    for statement in lowering.release_sql(table):
        spark.sql(statement)
