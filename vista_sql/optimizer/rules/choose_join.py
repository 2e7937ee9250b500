"""Broadcast the structured side when it is small, else shuffle (hint first).

Options in order: the `join` hint; broadcast if Catalyst's size estimate is under b_max = 100 MB
(every task gets a copy; images never move); otherwise a shuffle hash join (both sides are
partitioned by key; safe for any size, costs a shuffle).
"""

from __future__ import annotations

import dataclasses

from vista_sql.plan.vocabulary import Join

B_MAX = 100 * 1024**2


def apply(plan, context):
    hint = context.hints.get("join")
    if hint:
        choice = Join(hint)
    else:
        small = plan.statistics.structured_bytes < B_MAX
        choice = Join.BROADCAST if small else Join.SHUFFLE
    return dataclasses.replace(plan, join=choice)
