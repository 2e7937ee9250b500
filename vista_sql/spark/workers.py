"""Python workers kept alive between statements, with TensorFlow imported and their CNNs built.

Spark stops every idle Python worker once a minute passes in which no worker was taken or given
back (PythonWorkerFactory's IDLE_WORKER_TIMEOUT, fixed, not a setting). The next CNN stage then
starts new workers, and each imports TensorFlow and builds its CNN again: seconds of CPU per
worker, paid by every statement typed more than a minute after the last one (the shell, Jupyter,
the console and DB-API all keep one session). So while no job runs, a daemon thread hands the
workers a no-op Arrow UDF every 30 s. It must be an Arrow UDF, the kind the CNN stages run:
workers serving RDD tasks come from another pool, and touching those keeps these from nothing.
"""

from __future__ import annotations

import os
import threading
import time

import pandas as pd
from pyspark.sql.functions import pandas_udf

from vista_sql.spark import remote

INTERVAL_SECONDS = 30.0
GROUP = "vista-keep-workers"
_kept: set[str] = set()  # application ids whose workers a thread keeps
_lock = threading.Lock()


def daemon_pid(ids: pd.Series) -> pd.Series:
    """The process id of the worker daemon that forked this worker: one per worker pool."""
    return pd.Series([os.getppid()] * len(ids))


def keep_alive(spark) -> None:
    """Start keeping the session's Python workers alive (once per application)."""
    if remote.is_connect(spark):
        return  # the server's workers are out of reach; their idle time is the server's
    application = spark.sparkContext.applicationId
    with _lock:
        if application in _kept:
            return
        _kept.add(application)
    threading.Thread(
        target=_touch_until_stopped, args=(spark,), name="vista-keep-workers", daemon=True
    ).start()


def _touch_until_stopped(spark) -> None:
    context = spark.sparkContext
    while True:
        time.sleep(INTERVAL_SECONDS)
        if context._jsc is None:  # the session was stopped
            return
        try:
            if not context.statusTracker().getActiveJobsIds():  # else busy workers stay alive
                touch(spark)
        except Exception:  # noqa: BLE001 - cancelled by Ctrl-C, or the session is stopping
            if context._jsc is None:
                return


def touch(spark) -> set[int]:
    """Hand each task slot's worker a no-op Arrow UDF, under the job group GROUP; returns the
    process ids of the daemons whose workers ran it (one per worker pool)."""
    slots = max(1, spark.sparkContext.defaultParallelism)
    with remote.job_group(spark, GROUP, "vista_sql: keep Python workers alive"):
        # Made here: PySpark makes a UDF only with a running session.
        pools = pandas_udf(daemon_pid, "long")
        rows = spark.range(0, slots, 1, slots).select(pools("id")).collect()
    return {row[0] for row in rows}
