"""The stages each logical plan runs (Vista's Lazy, Eager and Staged)."""

from __future__ import annotations

import re

from vista_sql.optimizer import cost
from vista_sql.plan.nodes import PlannedStage, TransferQuery
from vista_sql.plan.vocabulary import Cut, JoinPlacement, StageInput, Strategy


def udf_name(query: TransferQuery, index: int) -> str:
    # Registered CNN names are identifiers, but a model file's name may hold any character.
    safe = re.sub(r"[^0-9a-zA-Z_]", "_", query.cnn.name.lower())
    return f"vista_{safe}_stage{index}"


def build(
    query: TransferQuery, strategy: Strategy, placement: JoinPlacement, workload
) -> tuple[PlannedStage, ...]:
    sizes = cost.stage_bytes(workload, strategy, placement)
    if strategy == Strategy.EAGER:
        udf = udf_name(query, 0)
        return (PlannedStage(0, query.layers, udf, StageInput.IMAGES, Cut.ALL, sizes[0]),)
    staged = strategy == Strategy.STAGED
    return tuple(
        PlannedStage(
            index=i,
            layers=(layer,),
            udf_name=udf_name(query, i),
            reads=StageInput.TENSORS if staged and i > 0 else StageInput.IMAGES,
            cut=Cut.STAGED if staged else Cut.PREFIX,
            estimated_bytes=sizes[i],
        )
        for i, layer in enumerate(query.layers)
    )
