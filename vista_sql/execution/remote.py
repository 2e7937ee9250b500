"""What differs between a classic SparkSession and a Spark Connect one, in one place.

A Connect session has no SparkContext: no accumulators, job groups, local properties or JVM to
ask. Each of those has a Connect counterpart here (job tags, interrupts, counting rows in a cached
table); classic sessions keep the SparkContext paths, which Ctrl-C and progress were built on.
"""

from __future__ import annotations

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


def cancel_all(spark) -> None:
    """Cancel every running job of the session (from any thread)."""
    if is_connect(spark):
        spark.interruptAll()
    else:
        spark.sparkContext.cancelAllJobs()
