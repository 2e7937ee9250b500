"""System configuration, searched the way Vista's Algorithm 1 does: the most parallelism that fits.

For each candidate number of concurrent tasks (high to low) and inference batch (large to small),
the node's memory is split into Vista's regions; the first split that leaves the minimum storage
memory wins. If none does, planning fails before anything runs, naming the constraint.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from vista_sql.errors import VistaPlanningError
from vista_sql.plan.nodes import ExecConfig, MemoryPlan, Rejected
from vista_sql.plan.vocabulary import Storage
from vista_sql.plan.workload import ModelFootprint

GIB = 1024**3
MIB = 1024**2
P_MAX = 100 * MIB  # target partition size (Vista)
TF_RUNTIME = 400 * MIB  # TensorFlow's own footprint in a Python worker
# ONNX Runtime's: importing onnx and onnxruntime, a session and a run added 57 MB to a worker's
# RSS (TensorFlow and Keras with a tiny model: 715 MB, measured the same way).
ONNX_RUNTIME = 64 * MIB
MIN_STORAGE = 512 * MIB
SPARK_RESERVED = 300 * MIB  # heap every executor keeps for Spark's own objects
BATCHES = (32, 16, 8, 4, 2, 1)


@dataclass(frozen=True)
class Resources:
    cores: int  # per node
    memory: int  # bytes per node
    nodes: int = 1
    # True when a node is one Spark executor of a cluster (its memory: heap + overhead + pyspark
    # memory), False for this whole machine running embedded Spark.
    executor: bool = False
    gpus: float = 0.0  # per executor (spark.executor.resource.gpu.amount)
    source: str = ""  # where the numbers come from, for EXPLAIN

    def describe(self) -> str:
        if not self.executor:
            return f"machine: {self.cores} core(s), {self.memory / GIB:.1f} GB ({self.source})"
        gpus = f", {self.gpus:g} GPU(s)" if self.gpus else ""
        return (
            f"cluster: {self.nodes} executor(s) × {self.cores} core(s), "
            f"{self.memory / GIB:.1f} GB{gpus} each ({self.source or 'given'}); memory below is "
            "per executor"
        )


def regions(res: Resources, fp: ModelFootprint, tasks: int, batch: int) -> MemoryPlan:
    if res.executor:
        # An executor's memory is its container's: the host's OS lives outside it, and Spark
        # keeps only its reserved heap for itself (the rest of the heap is shared).
        os_reserve, core = 0, SPARK_RESERVED
    else:
        os_reserve = max(GIB, int(0.05 * res.memory))
        core = max(GIB, int(0.075 * res.memory))  # Vista: 2.4 GB on a 32 GB node
    per_task = 2 * fp.parameter_bytes + batch * fp.activation_bytes + fp.runtime_bytes
    inference = tasks * per_task
    user = tasks * max(2 * P_MAX, fp.downstream_bytes)
    storage = res.memory - os_reserve - core - inference - user
    return MemoryPlan(res.memory, os_reserve, core, inference, user, storage, fp.runtime)


def search(
    res: Resources,
    fp: ModelFootprint,
    single_stage_bytes: int,
    *,
    parallelism: int | None = None,
    batch_size: int | None = None,
    partitions: int | None = None,
) -> ExecConfig:
    """The configuration for a plan whose largest stage is `single_stage_bytes`."""
    task_counts = [parallelism] if parallelism else range(res.cores, 0, -1)
    batches = [batch_size] if batch_size else BATCHES
    rejected = []
    for tasks in task_counts:
        for batch in batches:
            memory = regions(res, fp, tasks, batch)
            if memory.storage >= MIN_STORAGE:
                config = _config(res, tasks, batch, memory, single_stage_bytes, partitions)
                return dataclasses.replace(config, rejected=tuple(rejected))
            rejected.append(Rejected(tasks, batch, memory))
    memory = regions(res, fp, min(task_counts), min(batches))
    need = memory.total - memory.storage + MIN_STORAGE
    node, more = "node", "a machine with more memory"
    if res.executor:
        node = "executor"
        more = "executors with more memory (spark.executor.memory, spark.executor.memoryOverhead)"
    elif res.source:  # the container's limit, not the machine, is what runs out
        more = "a higher memory limit for the container"
    raise VistaPlanningError(
        f"no feasible plan: {min(task_counts)} {fp.runtime} task(s) with batch {min(batches)} need "
        f"{memory.inference / GIB:.1f} GB, and with {memory.os_reserve / GIB:.1f} GB for the OS, "
        f"{memory.core / GIB:.1f} GB for Spark and {memory.user / GIB:.1f} GB of task buffers the "
        f"{node} needs {need / GIB:.1f} GB but has {res.memory / GIB:.1f} GB; use a smaller "
        f"CNN, OPTIONS (batch_size = 1, parallelism = 1), or {more}"
    )


def _config(res, tasks, batch, memory, single_stage_bytes, partitions) -> ExecConfig:
    slots = tasks * res.nodes
    chosen = partitions or max(slots, math.ceil(single_stage_bytes / (P_MAX * slots)) * slots)
    return ExecConfig(
        parallelism=tasks,
        partitions=chosen,
        batch_size=batch,
        tf_threads=max(1, res.cores // tasks),
        storage_level=Storage.DESERIALIZED,
        memory=memory,
        resources=res.describe() if res.executor or res.source else "",
    )
