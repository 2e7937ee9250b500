"""How stage tables are cached, from their estimated size against storage memory (hint first).

Deserialized (MEMORY_AND_DISK) when the plan's peak fits in storage memory: fastest to read.
Serialized (MEMORY_AND_DISK_SER) otherwise: the compact form (≈ 1/α of the Eq. 1 size) holds
more, and blocks that still do not fit spill to disk instead of failing or being recomputed.
"""

from __future__ import annotations

import dataclasses

from vista_sql.optimizer import cost
from vista_sql.plan.vocabulary import Persist, Storage


def apply(plan, context):
    hint = context.hints.get("persist")
    if hint:
        level = Storage.DESERIALIZED if hint == Persist.DESER else Storage.SERIALIZED
        reason = f"OPTIONS (persist = '{hint}')"
    else:
        peak = cost.peak_storage(context.workload, plan.strategy, plan.join_placement)
        fits = peak <= context.storage
        level = Storage.DESERIALIZED if fits else Storage.SERIALIZED
        reason = (
            f"the plan's peak {peak / 1e6:,.1f} MB {'≤' if fits else '>'} storage memory "
            f"{context.storage / 1e6:,.1f} MB: "
            + ("deserialized, fastest to read" if fits else "serialized, compact; the rest spills")
        )
    config = dataclasses.replace(plan.config, storage_level=level)
    return dataclasses.replace(plan, config=config).decided("storage", level, reason)
