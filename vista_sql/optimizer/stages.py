"""The stages each logical plan runs (Vista's Lazy, Eager and Staged)."""

from __future__ import annotations

import re

from vista_sql.optimizer import cost
from vista_sql.plan.nodes import Stage, TransferQuery


def udf_name(query: TransferQuery, index: int) -> str:
    # Registered CNN names are identifiers, but a model file's name may hold any character.
    safe = re.sub(r"[^0-9a-zA-Z_]", "_", query.cnn.name.lower())
    return f"vista_{safe}_stage{index}"


def build(query: TransferQuery, strategy: str, placement: str, workload) -> tuple[Stage, ...]:
    sizes = cost.stage_bytes(workload, strategy, placement)
    if strategy == "eager":
        return (Stage(0, query.layers, udf_name(query, 0), "images", "all", sizes[0]),)
    return tuple(
        Stage(
            index=i,
            layers=(layer,),
            udf_name=udf_name(query, i),
            reads="tensors" if strategy == "staged" and i > 0 else "images",
            cut="staged" if strategy == "staged" else "prefix",
            estimated_bytes=sizes[i],
        )
        for i, layer in enumerate(query.layers)
    )
