"""Creating the embedded local SparkSession vista_sql runs on by default."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from vista_sql.spark import jvm, remote

LOG_CONFIG = Path(__file__).with_name("log4j2.properties")
JAVA_OPTIONS = f"-Dlog4j2.configurationFile={LOG_CONFIG.as_uri()}"
# The embedded JVM runs batch work on a machine's few cores, beside TensorFlow: the throughput
# collector, not G1's concurrent threads. `make bench-warm` (ResNet50, 1,000 images), the
# recorded-layers statement: 10.8 and 11.3 s against 11.9 and 12.1 s with G1; new layers 28.2
# and 28.9 s against 29.0 and 30.7 s. A collector chosen in JDK_JAVA_OPTIONS or JAVA_TOOL_OPTIONS
# wins (the JVM refuses two), as does a user's own spark.driver.extraJavaOptions.
COLLECTOR = "-XX:+UseParallelGC"
_CHOSEN_COLLECTOR = re.compile(r"-XX:\+Use\w+GC\b")
# Local mode gives a task one attempt (a cluster gives it spark.task.maxFailures = 4): one Python
# worker killed mid-stage, by the OOM killer or by hand, would fail the whole statement. Two
# attempts survive a lost worker; a task that fails for a deterministic reason reports after two.
LOCAL_ATTEMPTS = 2
CODEGEN_CACHE_ENTRIES = 1000
ARROW_POOL = ("ARROW_DEFAULT_MEMORY_POOL", "system")
# Named, not imported: the daemon forks CNN workers, a concern of vista_sql.catalog.
DAEMON_MODULE = "vista_sql.catalog.worker_daemon"
_LOCAL = re.compile(r"^local(?:\[(\d+|\*)\])?$")


def with_retries(master: str) -> str:
    """`local` / `local[N]` / `local[*]` as `local[N,LOCAL_ATTEMPTS]`; other masters unchanged."""
    found = _LOCAL.match(master.strip())
    if not found:
        return master
    return f"local[{found.group(1) or 1},{LOCAL_ATTEMPTS}]"


def java_options(environ=os.environ) -> str:
    """The embedded JVM's options (spark.driver.extraJavaOptions, which a user's value replaces):
    the log configuration, and the collector unless the environment chose one."""
    chosen = " ".join([environ.get("JDK_JAVA_OPTIONS", ""), environ.get("JAVA_TOOL_OPTIONS", "")])
    return JAVA_OPTIONS if _CHOSEN_COLLECTOR.search(chosen) else f"{JAVA_OPTIONS} {COLLECTOR}"


def local_session(master: str | None = None, conf: dict[str, str] | None = None):
    # Python workers must run this interpreter (the project's venv), or they import a Python
    # without pyspark/TensorFlow. PySpark reads the environment variable for local workers.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    if _LOCAL.match((master or "local").strip()):
        # Loopback for embedded Spark only: a cluster's executors must reach the driver.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # pyarrow's default pool (mimalloc) reserves address space in large segments; under a
    # worker limit (spark.executor.pyspark.memory is RLIMIT_AS) a task of 160 rows then died
    # with std::bad_alloc where one of 20 rows fit. Local workers inherit this environment.
    os.environ.setdefault(ARROW_POOL[0], ARROW_POOL[1])
    from pyspark.sql import SparkSession

    cores = os.cpu_count() or 1
    settings = {
        "spark.pyspark.python": sys.executable,
        "spark.pyspark.driver.python": sys.executable,
        "spark.app.name": "vista_sql",
        "spark.ui.showConsoleProgress": "false",
        "spark.ui.enabled": "false",
        "spark.driver.memory": "4g",
        # 200 shuffle partitions is tuned for clusters; here it only adds scheduling overhead.
        "spark.sql.shuffle.partitions": str(2 * cores),
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # A TRANSFER compiles 60-80 generated classes; Spark keeps the last 100, so each statement
        # evicted the previous one's and the same statement again compiled 68 of them anew (4
        # with this many kept). Static: it must be set before the session starts.
        "spark.sql.codegen.cache.maxEntries": str(CODEGEN_CACHE_ENTRIES),
        # A worker that crashes then says how (Segmentation fault, Aborted) in the job's error.
        "spark.python.worker.faulthandler.enabled": "true",
        # Workers forked with TensorFlow imported once a worker needed it (catalog/worker_daemon).
        "spark.python.daemon.module": DAEMON_MODULE,
        "spark.driver.extraJavaOptions": java_options(),
        f"spark.executorEnv.{ARROW_POOL[0]}": ARROW_POOL[1],  # a cluster's executors
        **(conf or {}),
    }
    master = with_retries(master or "local[*]")
    # Started here, not by getOrCreate, so that vista_sql reads the JVM's standard error.
    jvm.launch(master, settings)
    builder = SparkSession.builder.master(master)
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def remote_session(url: str, conf: dict[str, str]):
    """A Spark Connect session; fails fast, in one line, when the server cannot be reached."""
    import socket
    from urllib.parse import urlparse

    parsed = urlparse(url)
    if parsed.scheme != "sc" or not parsed.hostname:
        raise ValueError("--remote expects sc://HOST[:PORT]")
    # Spark Connect's client retries an unreachable server for minutes before giving up.
    socket.create_connection((parsed.hostname, parsed.port or 15002), timeout=5).close()
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.remote(url)
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def stop(spark, wait: float = 15.0) -> None:
    """Stop the session once no task runs any more. Stopping under a running task (one a failed
    job left behind, still being killed) makes the JVM print stack traces to the console."""
    if jvm.exit_code() is not None:
        return  # the JVM has died (the statement said why): nothing is left to stop
    try:
        spark.sparkContext.cancelAllJobs()
        remote.wait_for_tasks(spark, wait)
    except Exception:  # noqa: BLE001 - Spark Connect sessions have no context to ask
        pass
    spark.stop()
