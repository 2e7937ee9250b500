"""How stage tables are cached, from their estimated size against storage memory (hint first).

Deserialized (MEMORY_AND_DISK) when the plan's peak fits in storage memory: fastest to read.
Serialized (MEMORY_AND_DISK_SER) otherwise: the compact form (≈ 1/α of the Eq. 1 size) holds
more, and blocks that still do not fit spill to disk instead of failing or being recomputed.
"""

from __future__ import annotations

import dataclasses

from vista_sql.optimizer import cost


def apply(plan, context):
    hint = context.hints.get("persist")
    if hint:
        level = "MEMORY_AND_DISK" if hint == "deser" else "MEMORY_AND_DISK_SER"
    else:
        peak = cost.peak_storage(context.workload, plan.strategy, plan.join_placement)
        level = "MEMORY_AND_DISK" if peak <= context.storage else "MEMORY_AND_DISK_SER"
    return dataclasses.replace(plan, config=dataclasses.replace(plan.config, storage_level=level))
