"""EXPLAIN TRANSFER: the plan, its configuration and the Spark SQL each stage runs, as text."""

from __future__ import annotations

from vista_sql.execution import lowering
from vista_sql.plan.nodes import PhysicalPlan


def render(plan: PhysicalPlan, statement_id: int) -> str:
    q, c = plan.query, plan.config
    params = ", ".join(f"{k}={v}" for k, v in q.params)
    lines = [
        "== vista_sql plan ==",
        f"strategy: {plan.strategy}, join {plan.join_placement} inference",
        f"cnn: {q.cnn.name} ({q.cnn.describe()}); pooling {q.pooling.describe()}",
        f"images: {q.images.name} (key {q.key}, image {q.image}); structured: {q.structured.name}",
        f"train: {q.model} ({params}) on {len(q.features)} structured features"
        f" + image features; label {q.label}; test split {q.split} (seed {q.seed})",
        "stages:",
    ]
    for stage in plan.stages:
        layer = stage.layer
        lines.append(
            f"  {stage.index}: {layer.name} {layer.output_shape} -> {layer.feature_dim} features"
            f" via {stage.udf_name}, reads {stage.reads}"
        )
    if q.materialize:
        lines.append(f"materialize: {q.materialize}/<layer>/ (Parquet: {q.key}, features)")
    lines += [
        "configuration:",
        f"  parallelism {c.parallelism}, partitions {c.partitions}, inference batch {c.batch_size},"
        f" TensorFlow threads per task {c.tf_threads}, storage {c.storage_level}",
        "== Spark SQL ==",
    ]
    for stage in lowering.lower(plan, statement_id):
        lines.append(f"-- stage {stage.stage.index}: {stage.stage.layer.name}")
        lines.append(stage.cache + ";")
        if stage.uncache_previous:
            lines.append(stage.uncache_previous + ";")
        lines.append(stage.features + ";")
    return "\n".join(lines)
