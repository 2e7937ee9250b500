"""The session's Python workers are touched while idle, so Spark's one-minute idle limit never
stops them (and their TensorFlow and CNNs) between statements."""

from __future__ import annotations

import os
import threading

from pyspark.sql.functions import pandas_udf

from vista_sql.spark import workers


def _daemon_of_rdd_workers(spark) -> set[int]:
    return set(spark.sparkContext.parallelize([0], 1).map(lambda _: os.getppid()).collect())


def test_one_thread_per_application_touches_the_cnn_stages_worker_pool(vista, spark):
    workers.keep_alive(spark)  # the session already started one: no second thread
    keepers = [t for t in threading.enumerate() if t.name == "vista-keep-workers" and t.daemon]
    assert len(keepers) == 1
    # A CNN stage's UDF (pandas, Arrow batches) is served by the pool the touch uses: the same
    # pyspark.daemon forks both. RDD tasks are a pool of their own, which a touch would not keep.
    spark.udf.register("vista_test_pool", pandas_udf(workers.daemon_pid, "long"))
    stages = {row[0] for row in spark.sql("SELECT vista_test_pool(id) FROM range(2)").collect()}
    touched = workers.touch(spark)
    assert touched == stages
    assert _daemon_of_rdd_workers(spark).isdisjoint(touched)
    tracker = spark.sparkContext.statusTracker()
    runs = [tracker.getJobInfo(job) for job in tracker.getJobIdsForGroup(workers.GROUP)]
    assert runs and all(info.status == "SUCCEEDED" for info in runs)
