"""The machine embedded Spark runs on, and how to give a session the parallelism a plan wants.

Only operating-system reads happen here; what a running session or cluster has is read by
statements/facts.py.
"""

from __future__ import annotations

import os

from vista_sql.optimizer import container
from vista_sql.optimizer.config import Resources


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


def restart_hint(resources: Resources, parallelism: int) -> str:
    """How to start a session that runs `parallelism` tasks per node."""
    if resources.executor:
        return f"set spark.task.cpus = spark.executor.cores / {parallelism} when starting it"
    return f"start it with --master local[{parallelism}]"
