"""Optimizer rules, Catalyst style: each module holds one rule `apply(plan, context) -> plan`.

Rules are grouped in batches that run once, in order. Every rule is idempotent: running the
batches again on their own output changes nothing (tests check this).
"""

from __future__ import annotations

from dataclasses import dataclass

from vista_sql.optimizer.rules import choose_join, choose_persistence, choose_strategy, push_filters


@dataclass(frozen=True)
class Batch:
    name: str
    rules: tuple


BATCHES = (
    Batch("filters", (push_filters.apply,)),
    Batch("strategy", (choose_strategy.apply,)),
    Batch("physical", (choose_join.apply, choose_persistence.apply)),
)


def run(plan, context):
    for batch in BATCHES:
        for rule in batch.rules:
            plan = rule(plan, context)
    return plan
