"""Broadcast the structured side when it is small, else shuffle (hint first).

Options in order: the `join` hint; broadcast if Catalyst's size estimate is under b_max = 100 MB
(every task gets a copy; images never move); otherwise a shuffle hash join (both sides are
partitioned by key; safe for any size, costs a shuffle).
"""

from __future__ import annotations

import dataclasses

from vista_sql.plan.nodes import UNKNOWN_SIZE
from vista_sql.plan.vocabulary import Join

B_MAX = 100 * 1024**2


def apply(plan, context):
    hint = context.hints.get("join")
    size = plan.statistics.structured_bytes
    if hint:
        choice, reason = Join(hint), f"OPTIONS (join = '{hint}')"
    elif size < B_MAX:
        choice = Join.BROADCAST
        reason = (
            f"structured side est {size / 1e6:,.1f} MB < {B_MAX / 1e6:,.1f} MB: a copy to every "
            "task, images never move"
        )
    else:
        choice = Join.SHUFFLE
        estimate = "size unknown" if size >= UNKNOWN_SIZE else f"est {size / 1e6:,.1f} MB"
        reason = (
            f"structured side {estimate} ≥ {B_MAX / 1e6:,.1f} MB: too big to copy to every "
            "task, both sides hash-partitioned by key"
        )
    return dataclasses.replace(plan, join=choice).decided("join", choice, reason)
