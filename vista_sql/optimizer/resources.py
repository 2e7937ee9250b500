"""The resources a session runs on: this machine (local masters) or the cluster's executors.

On a cluster the optimizer plans per executor: its cores, its memory (JVM heap + memoryOverhead +
pyspark memory, what YARN and Kubernetes give its container) and how many executors there are.
A classic session asks the driver's status store (executors register a moment after the session
starts, so it waits for them briefly); a Spark Connect session has no driver at hand, so the
numbers come from the server's configuration.
"""

from __future__ import annotations

import os
import re
import time

from vista_sql.optimizer import container
from vista_sql.optimizer.config import MIB, Resources
from vista_sql.spark import remote

OVERHEAD_MIN_MIB = 384  # spark.executor.minMemoryOverhead's default
REGISTER_WAIT = 30.0  # seconds to wait for the first executors of a fresh cluster session
_seen: dict[str, list[int]] = {}  # application id -> executor cores last found stable
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)b?\s*$", re.IGNORECASE)


def machine() -> Resources:
    """This machine as embedded Spark sees it: the cores this process may run on and its
    physical memory, each within the container's limits when it runs in one."""
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    within = container.limits()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = container.cores(usable or 1, within.cpus)
    if within.memory is not None and within.memory < physical:
        return Resources(cores, within.memory, source=f"container limit, {within.source}")
    return Resources(cores=cores, memory=physical)


def of_session(spark) -> Resources:
    master = _conf(spark, "spark.master") or "local[*]"
    if master.startswith("local"):
        return machine()
    executors, cores, source = _executors(spark)
    heap = _bytes(_conf(spark, "spark.executor.memory"), default_mib=1024)
    overhead = _conf(spark, "spark.executor.memoryOverhead")
    factor = float(_conf(spark, "spark.executor.memoryOverheadFactor") or 0.1)
    floor = _bytes(_conf(spark, "spark.executor.minMemoryOverhead"), default_mib=OVERHEAD_MIN_MIB)
    overhead_bytes = _bytes(overhead) if overhead else max(floor, int(factor * heap))
    pyspark = _bytes(_conf(spark, "spark.executor.pyspark.memory"))
    return Resources(
        cores=cores,
        memory=heap + overhead_bytes + pyspark,
        nodes=executors,
        executor=True,
        gpus=float(_conf(spark, "spark.executor.resource.gpu.amount") or 0),
        source=source,
    )


def task_slots(spark, resources: Resources) -> int | None:
    """Tasks one node runs side by side (None when unknown)."""
    if spark is None:
        return None
    if resources.executor:
        return max(1, resources.cores // int(_conf(spark, "spark.task.cpus") or 1))
    return remote.default_parallelism(spark)


def restart_hint(resources: Resources, parallelism: int) -> str:
    """How to start a session that runs `parallelism` tasks per node."""
    if resources.executor:
        return f"set spark.task.cpus = spark.executor.cores / {parallelism} when starting it"
    return f"start it with --master local[{parallelism}]"


def _executors(spark) -> tuple[int, int, str]:
    """(executors, cores per executor, where that came from)."""
    cores_conf = _conf(spark, "spark.executor.cores")
    jvm = remote.jvm_context(spark)
    if jvm is not None:
        found = _registered(jvm)
        if found:
            cores = int(cores_conf) if cores_conf else min(found)
            return len(found), cores, "registered executors"
    cores = int(cores_conf) if cores_conf else 1
    instances = _conf(spark, "spark.executor.instances")
    maximum = _conf(spark, "spark.cores.max")
    if instances:
        return int(instances), cores, "spark.executor.instances"
    if maximum and cores_conf:
        return max(1, int(maximum) // cores), cores, "spark.cores.max / spark.executor.cores"
    return 1, cores, "unknown: set spark.executor.instances and spark.executor.cores"


def _registered(jvm) -> list[int]:
    """Cores of each executor registered with the driver, waiting for the first to arrive."""
    deadline = time.monotonic() + REGISTER_WAIT
    previous = _seen.get(jvm.applicationId(), [])
    while True:
        cores = []
        listing = jvm.statusStore().executorList(True).iterator()
        while listing.hasNext():
            summary = listing.next()
            if summary.id() != "driver":
                cores.append(int(summary.totalCores()))
        # Executors of one application register within a second or two of each other; the
        # count seen by an earlier statement needs no second look.
        if cores and len(cores) == len(previous):
            _seen[jvm.applicationId()] = cores
            return cores
        if time.monotonic() > deadline:
            return cores
        previous = cores
        time.sleep(1.0)


def _conf(spark, key: str) -> str | None:
    try:
        value = spark.conf.get(key, None)
    except Exception:  # noqa: BLE001 - a key the server refuses to show reads as unset
        return None
    return value or None


def _bytes(value: str | None, default_mib: int = 0) -> int:
    """A JVM size ('2g', '512m', '1024' = MiB, as Spark reads executor memory) in bytes."""
    if not value:
        return default_mib * MIB
    found = _SIZE.match(value)
    if not found:
        raise ValueError(f"cannot read memory size '{value}'")
    number, unit = float(found.group(1)), (found.group(2) or "m").lower()
    return int(number * 1024 ** "kmgtp".index(unit) * 1024)
