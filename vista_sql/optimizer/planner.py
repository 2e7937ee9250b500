"""From a bound query to a physical plan: Vista's default strategy and a configuration.

Staged inference with the join placed before inference (join pushdown) is Vista's default and the
only strategy so far; the plan records the choice so EXPLAIN can show it and later rules can
replace it.
"""

from __future__ import annotations

import os
import re

from vista_sql.plan.nodes import ExecConfig, PhysicalPlan, Stage, TransferQuery

DEFAULT_BATCH = 32
# Conv tensors are large (conv4 of ResNet50 is 800 KB a row); memory and disk keeps a stage that
# outgrows storage memory on disk instead of recomputing or failing.
DEFAULT_STORAGE = "MEMORY_AND_DISK"


def configure(query: TransferQuery, parallelism: int, cores: int | None = None) -> ExecConfig:
    options = dict(query.options)
    cores = cores or os.cpu_count() or 1
    return ExecConfig(
        parallelism=parallelism,
        # At least one partition per concurrent task, or cores sit idle during inference.
        partitions=int(options.get("partitions", 2 * parallelism)),
        batch_size=int(options.get("batch_size", DEFAULT_BATCH)),
        # Oversubscribing cores with TF threads is the usual silent slowdown.
        tf_threads=max(1, cores // max(1, parallelism)),
        storage_level=DEFAULT_STORAGE,
    )


def udf_name(query: TransferQuery, index: int) -> str:
    # Registered CNN names are identifiers, but a model file's name may hold any character.
    safe = re.sub(r"[^0-9a-zA-Z_]", "_", query.cnn.name.lower())
    return f"vista_{safe}_stage{index}"


def plan(query: TransferQuery, parallelism: int, cores: int | None = None) -> PhysicalPlan:
    stages = tuple(
        Stage(
            index=i,
            layer=layer,
            udf_name=udf_name(query, i),
            reads="images" if i == 0 else "tensors",
        )
        for i, layer in enumerate(query.layers)
    )
    return PhysicalPlan(
        query=query,
        strategy="staged",
        join_placement="before",
        stages=stages,
        config=configure(query, parallelism, cores),
    )
