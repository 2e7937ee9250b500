"""What differs between a classic SparkSession and a Spark Connect one, in one place.

A Connect session has no SparkContext: no accumulators, job groups, local properties or JVM to
ask. Each of those has a Connect counterpart here (job tags, interrupts, counting rows in a cached
table); classic sessions keep the SparkContext paths, which Ctrl-C and progress were built on.
"""

from __future__ import annotations

import os
import re
import time
from contextlib import contextmanager


def is_connect(spark) -> bool:
    try:
        from pyspark.sql.connect.session import SparkSession as ConnectSession
    except ImportError:  # the Connect client's extras (grpcio, ...) are not installed
        return False
    return isinstance(spark, ConnectSession)


def jvm_context(spark):
    """The JVM SparkContext of a classic session; None under Spark Connect."""
    if is_connect(spark):
        return None
    return spark.sparkContext._jsc.sc()


@contextmanager
def job_group(spark, group: str, description: str):
    """Tag every Spark job started inside with `group`, so that it can be found and cancelled."""
    if is_connect(spark):
        # Job tags are per Connect session and thread; interruptTag(group) cancels them.
        spark.addTag(group)
        try:
            yield
        finally:
            spark.removeTag(group)
        return
    context = spark.sparkContext
    # interruptOnCancel: cancelling the group (Ctrl-C) also stops its Python workers.
    context.setJobGroup(group, description, True)
    try:
        yield
    finally:
        context.setLocalProperty("spark.jobGroup.id", None)
        context.setLocalProperty("spark.job.description", None)


def input_files(frame) -> list[str]:
    """DataFrame.inputFiles(), in one call to the JVM: pyspark reads the Java array back one
    element per py4j round trip (1,000 files: 0.35 s, paid a few times per statement)."""
    spark = frame.sparkSession
    if is_connect(spark):
        return list(frame.inputFiles())
    files = frame._jdf.inputFiles()
    # NUL is the one character no path holds.
    joined = spark._jvm.scala.collection.immutable.ArraySeq.unsafeWrapArray(files).mkString("\0")
    return joined.split("\0") if joined else []


def default_parallelism(spark) -> int:
    """Tasks the session runs side by side: SparkContext.defaultParallelism, or over Spark Connect
    what the server's master and configuration say (its executors are out of sight)."""
    if not is_connect(spark):
        return spark.sparkContext.defaultParallelism
    configured = spark.conf.get("spark.default.parallelism", None)
    if configured:
        return int(configured)
    master = spark.conf.get("spark.master", None) or ""
    local = re.match(r"local(?:\[(\d+|\*)[],])?", master)
    if local:
        threads = local.group(1)
        return (os.cpu_count() or 1) if threads == "*" else int(threads or 1)
    instances = int(spark.conf.get("spark.executor.instances", None) or 1)
    return instances * int(spark.conf.get("spark.executor.cores", None) or 1)


def cancel_all(spark) -> None:
    """Cancel every running job of the session (from any thread)."""
    if is_connect(spark):
        spark.interruptAll()
    else:
        spark.sparkContext.cancelAllJobs()


def cancel_late_jobs(spark, group: str, timeout: float) -> None:
    """Cancel the job group's jobs as they start, until one of them has ended or `timeout`
    seconds pass. Ctrl-C stops Python waiting on the JVM, not the JVM's command: a write
    interrupted early submits its job afterwards, which a single cancel, made before, misses."""
    if is_connect(spark):
        spark.interruptTag(group)
        return
    context = spark.sparkContext
    tracker = context.statusTracker()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        context.cancelJobGroup(group)
        infos = [tracker.getJobInfo(job) for job in tracker.getJobIdsForGroup(group)]
        if any(info is not None and info.status in ("SUCCEEDED", "FAILED") for info in infos):
            return
        time.sleep(0.1)


def wait_for_tasks(spark, timeout: float, group: str | None = None) -> None:
    """Until no task of the job group's jobs (of any job, without a group) runs any more, or
    `timeout` seconds. A cancelled job fails at once; its tasks end when they next notice the
    kill. Over Spark Connect, whose tasks are out of sight, returns at once."""
    if is_connect(spark):
        return
    tracker = spark.sparkContext.statusTracker()
    executors = jvm_context(spark).statusTracker()
    # The tracker reads what Spark's listeners were told, and they hear it late: under load a
    # job that has already failed may not be known yet, nor the tasks it launched. Once told,
    # a task counts as running from its launch until the executor says it ended.
    drain_listeners(spark, timeout)

    def running() -> int:
        if group is None:
            return sum(info.numRunningTasks() for info in executors.getExecutorInfos())
        stages = [
            stage
            for job in tracker.getJobIdsForGroup(group)
            if (info := tracker.getJobInfo(job)) is not None
            for stage in info.stageIds
        ]
        return sum(info.numActiveTasks for s in stages if (info := tracker.getStageInfo(s)))

    deadline = time.monotonic() + timeout
    while running() and time.monotonic() < deadline:
        time.sleep(0.1)


def inheriting(spark, target):
    """`target` to run on another thread with this thread's local properties and job tags, so
    that a DB-API cancel stops its jobs too."""
    from pyspark import inheritable_thread_target

    return inheritable_thread_target(spark)(target)


def drain_listeners(spark, timeout: float) -> None:
    """Wait until Spark's listeners have heard every event posted so far (a classic session)."""
    from py4j.protocol import Py4JError

    try:
        jvm_context(spark).listenerBus().waitUntilEmpty(int(timeout * 1000))
    except Py4JError:  # a timeout: the wait below still holds for the tasks already heard of
        pass
