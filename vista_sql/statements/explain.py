"""EXPLAIN [COST] TRANSFER: the chosen plan as a tree, its configuration and memory, the Spark SQL
each stage runs, and every rejected alternative with its estimate and why it lost."""

from __future__ import annotations

from vista_sql.catalog.roster import ALPHA
from vista_sql.execution import lowering
from vista_sql.optimizer import cost
from vista_sql.optimizer.config import MIN_STORAGE
from vista_sql.plan.nodes import PhysicalPlan
from vista_sql.plan.vocabulary import JoinPlacement, StageInput

MB = 1e6


def _mb(value: float) -> str:
    return f"{value / MB:,.1f} MB"


def _tree(plan: PhysicalPlan) -> list[str]:
    q = plan.query
    scan = [f"Scan {q.images.name} AS img (key {q.key}, image {q.image})"]
    if plan.image_filter is not None:
        scan[0] += f" WHERE {plan.image_filter.sql(dialect='spark')}"
    if plan.refresh is not None:
        scan[0] += f" (only new or changed images: est {plan.refresh.rows:,})"
    table = f"Scan {q.structured.name} AS tab"
    if plan.structured_filter is not None:
        table += f" WHERE {plan.structured_filter.sql(dialect='spark')}"
    join = f"Join {plan.join} ON {q.join_condition.sql(dialect='spark')}"
    if plan.residual_filter is not None:
        join += f" WHERE {plan.residual_filter.sql(dialect='spark')}"
    lines = [
        f"Train {q.model} per layer + structured-only baseline "
        f"(label {q.label}, {len(q.features)} structured features)"
    ]
    for record in plan.loaded:
        lines.append(f"  Load {record.layer.name} from '{record.path}' (recorded by MATERIALIZE)")
    for record in plan.refreshed:
        lines.append(f"  Keep {record.layer.name}'s unchanged rows from '{record.path}' (refresh)")
    for stage in reversed(plan.stages):
        names = ", ".join(layer.name for layer in stage.layers)
        source = {
            StageInput.TENSORS: "previous stage's tensors",
            StageInput.STORED: f"{plan.resume.record.layer.name}'s recorded tensors"
            if plan.resume
            else "",
        }.get(stage.reads, "images")
        lines.append(
            f"  Stage {stage.index} [{stage.cut}] {names} via {stage.udf_name}(reads {source}),"
            f" est {_mb(stage.estimated_bytes)}, {plan.config.storage_level}"
        )
    if plan.join_placement == JoinPlacement.BEFORE:
        lines += [
            f"    {join}  (before inference: only joined images are decoded)",
            f"      {scan[0]}",
            f"      {table}",
        ]
    else:
        lines += [f"    {scan[0]}", f"  {join}  (after inference, per layer) with {table}"]
    return lines


def tasks_line(c) -> str:
    """Tasks, partitions, batches and the CNN runtime's threads: EXPLAIN TRANSFER and PREDICT."""
    runtime = c.memory.runtime if c.memory else "TensorFlow"
    return (
        f"parallelism {c.parallelism}, partitions {c.partitions}, inference batch {c.batch_size}"
        f" (Arrow batch {c.batch_size}), {runtime} threads per task {c.tf_threads}"
    )


def configuration_details(c, s, structured_size: bool = True) -> list[str]:
    """Memory regions, where the resources came from, what the session cannot take, and the
    statistics planned with: shared by EXPLAIN TRANSFER and EXPLAIN PREDICT WITH."""
    lines = []
    if c.memory is not None:
        m = c.memory
        lines.append(
            f"memory per node: total {_mb(m.total)} = OS {_mb(m.os_reserve)} + Spark core "
            f"{_mb(m.core)} + {m.runtime} {_mb(m.inference)} + user {_mb(m.user)} + storage "
            f"{_mb(m.storage)}"
        )
    if c.resources:
        lines.append(c.resources)
    lines += [f"not applied: {note}" for note in c.unapplied]
    if s is not None:
        structured = f", structured side {_mb(s.structured_bytes)}" if structured_size else ""
        lines.append(
            f"statistics: {s.images} images ({s.image_bytes} B each on average), {s.joined} rows "
            f"after the join and filters{structured}"
        )
    return lines


def render(plan: PhysicalPlan, statement_id: int, with_cost: bool = False) -> str:
    q, c, s = plan.query, plan.config, plan.statistics
    params = ", ".join(f"{k}={v}" for k, v in q.params)
    lines = [
        "== vista_sql plan ==",
        f"strategy: {plan.strategy}, join {plan.join_placement} inference, join {plan.join}",
        f"cnn: {q.cnn.name} ({q.cnn.describe()}); pooling {q.pooling.describe()}",
        f"train: {q.model} ({params}); test split {q.split} (seed {q.seed})",
        *_tree(plan),
        "== configuration ==",
        f"{tasks_line(c)}, storage {c.storage_level}",
    ]
    lines += configuration_details(c, s)
    if plan.recorded:
        lines.append("== reuse of materialized layers ==")
        lines += [f"{r.layer.name} at '{r.path}': {r.verdict()}" for r in plan.recorded]
        if plan.resume is not None:
            r = plan.resume
            lines.append(
                f"deeper layers continue from {r.record.layer.name}'s hand-over tensors at "
                f"'{r.record.handover_path}': est {r.seconds:.1f} s vs {r.instead_of:.1f} s "
                "from the images"
            )
        if plan.refresh is not None:
            lines.append(
                f"refresh: infer only new or changed images: est {plan.refresh.seconds:.1f} s vs "
                f"{plan.refresh.instead_of:.1f} s from every image"
            )
    lines.append("== alternatives ==")
    for alt in plan.alternatives:
        lines.append(
            f"{alt.strategy:>6} join {alt.join_placement:<6} est {alt.seconds:8.1f} s, "
            f"peak storage {_mb(alt.peak_bytes)}: {alt.verdict}"
        )
    if plan.decisions:
        lines.append("== physical decisions ==")
        for decision in plan.decisions:
            lines.append(f"{decision.what} {decision.choice}: {decision.reason}")
            if decision.what == "parallelism":
                lines += _rejected(plan.config.rejected)
    if with_cost and plan.workload is not None and plan.query.layers:
        lines += _cost_inputs(plan)
    lines.append("== Spark SQL ==")
    for view, path in lowering.datasets(plan, statement_id).items():
        lines.append(f"-- {view}: the Parquet dataset at {path}")
    for stage in lowering.lower(plan, statement_id):
        names = ", ".join(layer.name for layer in stage.stage.layers)
        lines.append(f"-- stage {stage.stage.index}: {names}")
        lines.append(stage.cache + ";")
        if stage.uncache_previous:
            lines.append(stage.uncache_previous + ";")
        lines += [select + ";" for select in stage.features]
    return "\n".join(lines)


def _rejected(rejected) -> list[str]:
    """What ruled out larger configurations, one line per task count (its smallest batch tried,
    the most storage that count could leave)."""
    by_tasks: dict[int, list] = {}
    for candidate in rejected:
        by_tasks.setdefault(candidate.tasks, []).append(candidate)
    lines = []
    for tasks, tried in by_tasks.items():
        best = tried[-1].memory
        batches = ", ".join(str(c.batch) for c in tried)
        lines.append(
            f"  ruled out {tasks} task(s) with batch {batches}: at best {best.runtime} "
            f"{_mb(best.inference)} + user {_mb(best.user)} leave {_mb(best.storage)} storage "
            f"< {_mb(MIN_STORAGE)}"
        )
    return lines


def _cost_inputs(plan: PhysicalPlan) -> list[str]:
    work, footprint = plan.workload, plan.footprint
    source = "" if work.decoded else "; inference starts from recorded tensors, no image decoded"
    lines = [
        "== cost inputs ==",
        f"Eq. 1 row bytes = {ALPHA}·(8 + 8 + 4·floats)"
        f" + carried {work.structured_row_bytes} B; rows before join {work.rows_before}, "
        f"after {work.rows_after}; {work.cores} core(s)"
        f"{f' × {work.nodes} node(s)' if work.nodes > 1 else ''}{source}",
        f"throughput {cost.FLOPS_PER_CORE / 1e9:.0f} GFLOP/s per core, decode "
        f"{cost.DECODE_SECONDS * 1e3:.1f} ms/image, hand-over "
        f"{cost.SERDE_SECONDS_PER_BYTE * 1e9:.1f} ns/byte each way, "
        f"spill {1 / cost.SPILL_SECONDS_PER_BYTE / 1e6:.0f} MB/s",
        f"model: {_mb(footprint.parameter_bytes)} parameters, {_mb(footprint.activation_bytes)} "
        f"peak activations per image",
    ]
    start = "the recorded tensors" if not work.decoded else "the input"
    for layer in work.layers:
        lines.append(
            f"  {layer.name}: {layer.feature_dim} features, {layer.cumulative_flops / 1e6:,.0f} "
            f"MFLOPs from {start}, {layer.frontier_floats} floats handed on when cut here"
        )
    return lines
