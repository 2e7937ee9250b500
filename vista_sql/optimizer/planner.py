"""From a bound query to a physical plan: statistics, workload, configuration, then the rules."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from vista_sql.optimizer import config as system_config
from vista_sql.optimizer import cost, reuse, rules
from vista_sql.optimizer import resources as cluster
from vista_sql.optimizer import workload as workloads
from vista_sql.optimizer.config import Resources
from vista_sql.plan.nodes import (
    PhysicalPlan,
    RecordedLayer,
    Refresh,
    Resume,
    Statistics,
    TransferQuery,
    draft,
)
from vista_sql.plan.vocabulary import JoinPlacement, Strategy
from vista_sql.plan.workload import Profile, Workload


@dataclass(frozen=True)
class Context:
    workload: Workload
    storage: int  # storage memory the stages may hold
    hints: dict
    resume_from: str | None = None  # the recorded layer whose tensors stage 0 reads


def context(plan: PhysicalPlan, hints: dict | None = None) -> Context:
    """The context the rules ran in for `plan` (planned with `hints`, the query's OPTIONS unless
    given): running them again in it must leave the plan as it is."""
    hints = dict(plan.query.options) if hints is None else dict(hints)
    start = plan.resume.record.layer.name if plan.resume else None
    if start is not None:
        hints = {**hints, **_RESUMED}
    return Context(plan.workload, plan.storage_memory, hints, start)


# Only a staged plan with the join first continues from stored tensors (they are keyed by image
# and hold one cut's tensors), so that is the plan for the remaining layers.
_RESUMED = {"plan": Strategy.STAGED, "join_placement": JoinPlacement.BEFORE}


def plan(
    query: TransferQuery,
    *,
    statistics: Statistics,
    resources: Resources,
    slots: int | None = None,
    storage_limit: int | None = None,
    records: tuple[RecordedLayer, ...] = (),
    hints: dict | None = None,
    profile: Profile | None = None,
) -> PhysicalPlan:
    """Plan `query` from values alone (statements/facts.py reads them from a session): its
    statistics, the resources of a node, the task slots a node runs (None: unknown), the storage
    memory the session really has (None: no limit beyond the plan's), the layers earlier
    MATERIALIZE INTO statements recorded, the hints (the query's OPTIONS unless given) and the
    CNN's profile (measured from its graph unless given)."""
    hints = dict(query.options) if hints is None else dict(hints)
    work, footprint = workloads.build(query, statistics, resources.cores, profile, resources.nodes)
    largest = max(cost.stage_bytes(work, Strategy.STAGED, JoinPlacement.BEFORE))
    chosen = system_config.search(
        resources,
        footprint,
        largest,
        parallelism=hints.get("parallelism"),
        batch_size=hints.get("batch_size"),
        partitions=hints.get("partitions"),
    )
    storage = chosen.memory.storage * resources.nodes
    if storage_limit is not None:
        storage = min(storage, storage_limit)
    staged_first = hints.get("plan", Strategy.STAGED) == Strategy.STAGED
    if not staged_first or hints.get("join_placement") == JoinPlacement.AFTER:
        records = tuple(dataclasses.replace(r, handover=(), handover_inputs=()) for r in records)
    decision = reuse.decide(
        records, work, storage, chosen.parallelism, query.materialize, hints.get("refresh")
    )
    loaded = {r.layer.name for r in decision.records if r.loaded}
    start = decision.resume_from
    computed = dataclasses.replace(
        query, layers=tuple(x for x in query.layers if x.name not in loaded)
    )
    if start is not None:
        hints = {**hints, **_RESUMED}
    if decision.refresh_rows is not None:
        work = reuse.refreshing(work, decision.refresh_rows)
    if loaded and computed.layers:
        work, _ = workloads.build(computed, statistics, resources.cores, profile, resources.nodes)
        if start is not None:
            full, _ = workloads.build(query, statistics, resources.cores, profile, resources.nodes)
            work = reuse.continued(full, start.layer.name)
    unplanned = draft(computed if loaded and computed.layers else query)
    unplanned = dataclasses.replace(
        unplanned,
        config=chosen,
        statistics=statistics,
        workload=work,
        footprint=footprint,
        storage_memory=storage,
    )
    unplanned = unplanned.decided(*_sizing(chosen, resources, hints))
    resume_from = start.layer.name if start is not None else None
    planned = rules.run(unplanned, Context(work, storage, hints, resume_from))
    planned = _finish(planned, work, resources, slots, storage, hints)
    if decision.refresh_rows is not None:
        refresh = Refresh(decision.refresh_rows, decision.seconds, decision.from_images)
        return dataclasses.replace(planned, recorded=decision.records, refresh=refresh)
    if not loaded:
        return dataclasses.replace(planned, recorded=decision.records)
    if not computed.layers:
        # Everything is loaded: the plan above only fixed the configuration.
        planned = dataclasses.replace(planned, query=computed, stages=(), alternatives=())
    resume = None
    if start is not None:
        resume = Resume(start, decision.seconds, decision.from_images)
    return dataclasses.replace(
        planned, requested=query.layers, recorded=decision.records, resume=resume
    )


def _sizing(config, resources, hints) -> tuple[str, str, str]:
    """Concurrent tasks and inference batch as config.search chose them, and why (what it ruled
    out is on the configuration: config.rejected)."""
    choice = f"{config.parallelism}, batch {config.batch_size}"
    given = [f"{k} = {hints[k]}" for k in ("parallelism", "batch_size") if hints.get(k)]
    if len(given) == 2:
        return "parallelism", choice, f"OPTIONS ({', '.join(given)})"
    m = config.memory
    searched = {
        "parallelism": f"the most concurrent tasks (≤ {resources.cores} cores)",
        "batch_size": f"the largest batch (≤ {system_config.BATCHES[0]})",
    }
    sought = ", then ".join(v for k, v in searched.items() if not hints.get(k))
    reason = (
        f"{sought}, with ≥ {system_config.MIN_STORAGE / 1e6:,.1f} MB left for storage: {m.runtime} "
        f"{m.inference / 1e6:,.1f} MB + user {m.user / 1e6:,.1f} MB leave {m.storage / 1e6:,.1f} MB"
    )
    if given:
        reason = f"OPTIONS ({given[0]}); {reason}"
    return "parallelism", choice, reason


def _finish(plan, work, resources, slots, storage, hints) -> PhysicalPlan:
    """Partitions for the chosen plan's largest stage; what the running session cannot take."""
    config = plan.config
    if hints.get("partitions"):
        plan = plan.decided(
            "partitions", config.partitions, f"OPTIONS (partitions = {hints['partitions']})"
        )
    else:
        largest = max(cost.stage_bytes(work, plan.strategy, plan.join_placement))
        per_round = config.parallelism * resources.nodes
        wanted = math.ceil(largest / (system_config.P_MAX * per_round)) * per_round
        config = dataclasses.replace(config, partitions=max(per_round, wanted))
        plan = plan.decided(
            "partitions",
            config.partitions,
            f"largest stage est {largest / 1e6:,.1f} MB in partitions of ≤ "
            f"{system_config.P_MAX / 1e6:,.1f} MB, a multiple of the {per_round} task slot(s)",
        )
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
