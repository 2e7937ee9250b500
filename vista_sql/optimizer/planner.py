"""From a bound query to a physical plan: statistics, workload, configuration, then the rules."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from vista_sql.execution import lowering
from vista_sql.optimizer import config as system_config
from vista_sql.optimizer import cost, recorded, reuse, rules, stats
from vista_sql.optimizer import resources as cluster
from vista_sql.optimizer import workload as workloads
from vista_sql.optimizer.config import Resources
from vista_sql.optimizer.cost import Workload
from vista_sql.plan.nodes import (
    ExecConfig,
    PhysicalPlan,
    RecordedLayer,
    Resume,
    Statistics,
    TransferQuery,
)


@dataclass(frozen=True)
class Context:
    workload: Workload
    storage: int  # storage memory the stages may hold
    hints: dict


def session_storage(spark) -> int | None:
    """Storage memory the running session's block managers really have."""
    try:
        status = spark.sparkContext._jsc.sc().getExecutorMemoryStatus()
        values = status.valuesIterator()
        total = 0
        while values.hasNext():
            total += int(values.next()._1())
        return total or None
    except Exception:  # Spark Connect and other sessions without the JVM at hand
        return None


def plan(
    query: TransferQuery,
    spark=None,
    *,
    statistics: Statistics | None = None,
    resources: Resources | None = None,
    storage_limit: int | None = None,
    slots: int | None = None,
    records: tuple[RecordedLayer, ...] | None = None,
) -> PhysicalPlan:
    """Plan `query`; statistics, resources, storage and records come from `spark` unless
    injected."""
    hints = dict(query.options)
    resources = resources or cluster.of_session(spark)
    slots = slots or cluster.task_slots(spark, resources)
    draft = PhysicalPlan(
        query=query,
        strategy="staged",
        join_placement="before",
        stages=(),
        config=ExecConfig(1, 1, 1, 1, "MEMORY_AND_DISK"),
        residual_filter=query.where,
    )
    statistics = statistics or stats.gather(spark, query, lowering.baseline_sql(draft))
    if records is None:
        records = ()
        if spark is not None and hints.get("reuse", True):
            baseline = lowering.baseline_sql(draft)
            records = recorded.find(spark, query, statistics.images, baseline)
    work, footprint = workloads.build(query, statistics, resources.cores)
    largest = max(cost.stage_bytes(work, "staged", "before"))
    chosen = system_config.search(
        resources,
        footprint,
        largest,
        parallelism=hints.get("parallelism"),
        batch_size=hints.get("batch_size"),
        partitions=hints.get("partitions"),
    )
    storage = chosen.memory.storage * resources.nodes
    if storage_limit is None and spark is not None:
        storage_limit = session_storage(spark)
    if storage_limit is not None:
        storage = min(storage, storage_limit)
    if hints.get("plan", "staged") != "staged" or hints.get("join_placement") == "after":
        records = tuple(dataclasses.replace(r, handover=(), handover_inputs=()) for r in records)
    decision = reuse.decide(records, work, storage, chosen.parallelism, query.materialize)
    loaded = {r.layer.name for r in decision.records if r.loaded}
    start = decision.resume_from
    computed = dataclasses.replace(
        query, layers=tuple(x for x in query.layers if x.name not in loaded)
    )
    if start is not None:
        # Only a staged plan with the join first continues from stored tensors (they are keyed
        # by image and hold one cut's tensors), so that is the plan for the remaining layers.
        hints = {**hints, "plan": "staged", "join_placement": "before"}
    if loaded and computed.layers:
        work, _ = workloads.build(computed, statistics, resources.cores)
        if start is not None:
            full, _ = workloads.build(query, statistics, resources.cores)
            work = reuse.continued(full, start.layer.name)
        draft = dataclasses.replace(draft, query=computed)
    draft = dataclasses.replace(draft, config=chosen, statistics=statistics)
    planned = rules.run(draft, Context(work, storage, hints))
    planned = _finish(planned, work, resources, slots, storage, hints)
    if not loaded:
        return dataclasses.replace(planned, recorded=decision.records)
    if not computed.layers:
        # Everything is loaded: the plan above only fixed the configuration.
        planned = dataclasses.replace(planned, query=computed, stages=(), alternatives=())
    resume = None
    if start is not None:
        first = dataclasses.replace(planned.stages[0], reads="stored")
        planned = dataclasses.replace(planned, stages=(first, *planned.stages[1:]))
        planned = dataclasses.replace(planned, alternatives=_resumed(planned.alternatives, start))
        resume = Resume(start, decision.seconds, decision.from_images)
    return dataclasses.replace(
        planned, requested=query.layers, recorded=decision.records, resume=resume
    )


def _resumed(alternatives, start) -> tuple:
    reason = f"excluded: continuing from {start.layer.name}'s recorded tensors"
    return tuple(
        dataclasses.replace(a, verdict=reason) if a.verdict == "excluded by OPTIONS" else a
        for a in alternatives
    )


def _finish(plan, work, resources, slots, storage, hints) -> PhysicalPlan:
    """Partitions for the chosen plan's largest stage; what the running session cannot take."""
    config = plan.config
    if not hints.get("partitions"):
        largest = max(cost.stage_bytes(work, plan.strategy, plan.join_placement))
        per_round = config.parallelism * resources.nodes
        wanted = math.ceil(largest / (system_config.P_MAX * per_round)) * per_round
        config = dataclasses.replace(config, partitions=max(per_round, wanted))
    unapplied = []
    if slots and slots != config.parallelism:
        unapplied.append(
            f"parallelism {config.parallelism}: the session runs {slots} concurrent tasks "
            f"({cluster.restart_hint(resources, config.parallelism)})"
        )
        # TensorFlow threads follow the tasks that will really run side by side.
        config = dataclasses.replace(config, tf_threads=max(1, resources.cores // slots))
    peak = cost.peak_storage(work, plan.strategy, plan.join_placement)
    if peak > storage:
        unapplied.append(
            f"storage memory {storage / 1e6:.0f} MB < the plan's peak {peak / 1e6:.0f} MB: stages "
            "spill to disk (more spark.driver.memory / executor memory avoids it)"
        )
    config = dataclasses.replace(config, unapplied=tuple(unapplied))
    return dataclasses.replace(plan, config=config)
