"""The session's Python workers are touched while idle, so Spark's one-minute idle limit never
stops them (and their TensorFlow and CNNs) between statements."""

from __future__ import annotations

import os
import signal
import threading

import pandas as pd
from pyspark.sql.functions import pandas_udf

from vista_sql.spark import workers


def _daemon_of_rdd_workers(spark) -> set[int]:
    return set(spark.sparkContext.parallelize([0], 1).map(lambda _: os.getppid()).collect())


def test_one_thread_per_application_touches_the_cnn_stages_worker_pool(vista, spark):
    workers.keep_alive(spark)  # the session already started one: no second thread
    keepers = [t for t in threading.enumerate() if t.name == "vista-keep-workers" and t.daemon]
    assert len(keepers) == 1
    # A CNN stage's UDF (pandas, Arrow batches) is served by the pool the touch uses: the same
    # worker daemon forks both. RDD tasks are a pool of their own, which a touch would not keep.
    spark.udf.register("vista_test_pool", pandas_udf(workers.daemon_pid, "long"))
    stages = {row[0] for row in spark.sql("SELECT vista_test_pool(id) FROM range(2)").collect()}
    touched = workers.touch(spark)
    assert touched == stages
    assert _daemon_of_rdd_workers(spark).isdisjoint(touched)
    tracker = spark.sparkContext.statusTracker()
    runs = [tracker.getJobInfo(job) for job in tracker.getJobIdsForGroup(workers.GROUP)]
    assert runs and all(info.status == "SUCCEEDED" for info in runs)


def test_workers_forked_after_one_imported_tensorflow_inherit_it_with_their_own_threads(spark):
    # Nested functions: cloudpickle ships them by value to workers that cannot import tests/.
    def import_tensorflow(ids: pd.Series) -> pd.DataFrame:
        from vista_sql.catalog import backend

        backend.import_quietly()
        return pd.DataFrame({"worker": os.getpid(), "daemon": os.getppid()}, index=ids.index)

    def inherited(ids: pd.Series) -> pd.DataFrame:
        import sys

        found = "tensorflow" in sys.modules  # before this task imports anything
        from vista_sql.catalog import backend

        backend.keras(threads=1)
        import tensorflow as tf

        threads = tf.config.threading.get_intra_op_parallelism_threads()
        return pd.DataFrame(
            {"worker": os.getpid(), "daemon": os.getppid(), "found": found, "threads": threads},
            index=ids.index,
        )

    rows = "worker long, daemon long"
    first = _run(spark, pandas_udf(import_tensorflow, rows))
    for worker in {row.worker for row in first}:
        os.kill(worker, signal.SIGKILL)
    later = _run(spark, pandas_udf(inherited, rows + ", found boolean, threads int"))
    assert {row.daemon for row in later} == {row.daemon for row in first}
    assert not {row.worker for row in later} & {row.worker for row in first}  # new forks
    # Imported in the daemon, but its runtime not started there: each worker sets its threads.
    assert {(row.found, row.threads) for row in later} == {(True, 1)}


def _run(spark, udf):
    slots = spark.sparkContext.defaultParallelism
    return spark.range(0, slots, 1, slots).select(udf("id").alias("r")).select("r.*").collect()
