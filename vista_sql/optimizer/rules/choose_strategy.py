"""Choose the logical plan: Lazy, Eager or Staged, with the join before or after inference.

Every combination is costed (optimizer/cost.py). Among the plans the hints allow, any within 10%
of the cheapest counts as a tie, decided by the order staged > lazy > eager, join before > after,
so ties go to Staged with the join first, Vista's default: its
UDFs hold one layer's tensors at a time and at most two stages are cached at once, which keeps
memory bounded when the estimates are off. Beyond the margin the cheaper estimate wins: the cost
model charges Staged for the tensors it hands from stage to stage, which for deep layers of a
large CNN (ResNet50's conv4/conv5 blocks) outweighs what it saves. The losers are kept, with their
estimates and the reason they lost, for EXPLAIN.
"""

from __future__ import annotations

import dataclasses

from vista_sql.optimizer import cost, stages
from vista_sql.plan.nodes import Alternative
from vista_sql.plan.vocabulary import ALTERNATIVES, StageInput

TIE = 1.10


def apply(plan, context):
    w, storage = context.workload, context.storage
    forced = {
        "plan": context.hints.get("plan"),
        "join_placement": context.hints.get("join_placement"),
    }
    scored = []
    for rank, (strategy, placement) in enumerate(ALTERNATIVES):
        seconds = cost.seconds(w, strategy, placement, storage, plan.config.parallelism)
        peak = cost.peak_storage(w, strategy, placement)
        permitted = forced["plan"] in (None, strategy) and forced["join_placement"] in (
            None,
            placement,
        )
        scored.append((strategy, placement, seconds, peak, permitted, rank))
    allowed = [s for s in scored if s[4]]
    cheapest = min(s[2] for s in allowed)
    best = min((s for s in allowed if s[2] <= cheapest * TIE), key=lambda s: s[5])
    alternatives = []
    for strategy, placement, seconds, peak, allowed, _ in scored:
        if (strategy, placement) == best[:2]:
            verdict = "chosen"
        elif not allowed and context.resume_from:
            verdict = f"excluded: continuing from {context.resume_from}'s recorded tensors"
        elif not allowed:
            verdict = "excluded by OPTIONS"
        else:
            verdict = f"est {seconds:.1f} s vs {best[2]:.1f} s"
            tie = f"tie, {best[0]} join {best[1]} preferred: "
            verdict = (tie if seconds <= cheapest * TIE else "slower: ") + verdict
            if peak > storage:
                verdict += f"; holds {peak / 1e6:.0f} MB > {storage / 1e6:.0f} MB storage, spills"
        alternatives.append(Alternative(strategy, placement, round(seconds, 2), peak, verdict))
    strategy, placement = best[0], best[1]
    built = stages.build(plan.query, strategy, placement, w)
    if context.resume_from:
        built = (dataclasses.replace(built[0], reads=StageInput.STORED), *built[1:])
    return dataclasses.replace(
        plan,
        strategy=strategy,
        join_placement=placement,
        stages=built,
        alternatives=tuple(alternatives),
    )
