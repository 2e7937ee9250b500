"""Spark's JVM starts from an archive of the classes a session loads (Java's dynamic AppCDS).

A new session's JVM loads, parses and verifies some 10,000 classes before it answers: measured on
these 2 cores, 4.75 s to a session and 1.2 s for its first query. Java 17 dumps the classes a JVM
loaded into an archive at exit (-XX:ArchiveClassesAtExit) that later JVMs map instead
(-XX:SharedArchiveFile): 2.55 s and 0.47 s. Every `vista-sql`, kernel, console and endpoint
process pays the start, so the archive is kept in the cache directory.

An archive only fits the JVM binary and the class path it was dumped with (a JVM checks both and
refuses another's), so its name hashes them, and the JVM options too: each set of options keeps
the archive of the classes its own sessions load. A JVM that finds none, or refuses it, starts
as before and says nothing (its cds logging is off). A truncated archive
crashes the JVM that maps it (SIGBUS), so an archive is only written by `build`, in a JVM of its
own, under a temporary name renamed once that JVM has exited.

`$VISTA_SQL_CLASS_ARCHIVE`: `auto` (default) uses the archive and, when there is none, builds it
in the background after the process exits; `use` never builds; `off` neither uses nor builds.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

# Imported here, not in `path`: `build` may run on a thread while another imports pyspark.sql,
# and two threads importing pyspark at once fail on its circular imports.
import pyspark

from vista_sql import cache

MODE_ENV = "VISTA_SQL_CLASS_ARCHIVE"
DUMP_ENV = "VISTA_SQL_CLASS_ARCHIVE_DUMP"  # set for the builder's own JVM only
QUIET = "-Xshare:auto -Xlog:cds=off -Xlog:cds+dynamic=off"
BUILD_SECONDS = 300


def _java() -> Path | None:
    # Spark's launcher runs $JAVA_HOME/bin/java, else the java on PATH.
    home = os.environ.get("JAVA_HOME")
    found = Path(home, "bin", "java") if home else shutil.which("java")
    return Path(found).resolve() if found and Path(found).exists() else None


def path(java_options: str, environ=os.environ) -> Path | None:
    """The archive for JVMs started with `java_options`; None where no java is found."""
    java = _java()
    if java is None:
        return None
    jars = Path(pyspark.__file__).parent / "jars"
    stat = java.stat()
    key = "\n".join(
        [
            str(java),
            f"{stat.st_size}:{stat.st_mtime_ns}",
            *(sorted(os.listdir(jars)) if jars.is_dir() else []),
            environ.get("JDK_JAVA_OPTIONS", ""),
            java_options,
        ]
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache.directory("jvm") / f"spark-{pyspark.__version__}-{digest}.jsa"


def options(java_options: str) -> str:
    """What to add to `java_options`: map the archive, dump one (the builder), or nothing."""
    mode = os.environ.get(MODE_ENV, "auto")
    dump = os.environ.get(DUMP_ENV)
    if dump:
        return f"-XX:ArchiveClassesAtExit={dump} {QUIET}"
    archive = path(java_options) if mode != "off" else None
    if archive is None:
        return ""
    if archive.exists():
        return f"-XX:SharedArchiveFile={archive} {QUIET}"
    if mode == "auto" and java_options not in _building:
        _building.add(java_options)
        atexit.register(_build_in_background, java_options)
    return ""


_building: set[str] = set()  # option strings whose archive this process builds at exit


def _build_in_background(java_options: str) -> None:
    # After this process's own work: a detached builder, which outlives it.
    subprocess.Popen(
        [sys.executable, "-m", "vista_sql.spark.class_archive", java_options],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def build(java_options: str, environ=os.environ) -> Path | None:
    """The archive for `java_options` under `environ`, dumped by a session of its own if missing
    (one process at a time per archive); None where Java cannot dump one."""
    archive = path(java_options, environ)
    if archive is None:
        return None
    archive.parent.mkdir(parents=True, exist_ok=True)
    failed = archive.with_suffix(".failed")
    with _locked(archive.with_suffix(".lock")):
        if archive.exists() or failed.exists():
            return archive if archive.exists() else None
        # Left by a builder whose process ended before it could rename (a short test run).
        for stale in archive.parent.glob(f"{archive.stem}.*.partial"):
            stale.unlink(missing_ok=True)
        partial = archive.with_suffix(f".{os.getpid()}.partial")
        env = {**environ, DUMP_ENV: str(partial)}
        try:
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "import vista_sql.spark.class_archive as a; a._load_classes(a.sys.argv[1])",
                    java_options,
                ],
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=BUILD_SECONDS,
                check=True,
            )
            if not partial.exists() or partial.stat().st_size == 0:
                raise OSError("the JVM dumped no archive")
            os.replace(partial, archive)
        except subprocess.TimeoutExpired:
            return None  # a busy machine: the next process to exit tries again
        except (OSError, subprocess.SubprocessError):
            failed.touch()  # this Java cannot: not again at every exit (delete it to retry)
            return None
        finally:
            partial.unlink(missing_ok=True)
    return archive


@contextlib.contextmanager
def _locked(lock: Path):
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _doubled(values: pd.Series) -> pd.Series:
    return values * 2


def _load_classes(java_options: str) -> None:
    """What a statement makes the JVM load: SQL, Parquet and binary files, a broadcast join, an
    Arrow UDF, an MLlib fit. The JVM dumps them when it exits, after the session is stopped."""
    import tempfile

    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import VectorAssembler
    from pyspark.sql import functions as F

    from vista_sql.spark import jvm
    from vista_sql.spark.session import local_session

    spark = local_session("local[1]", {"spark.driver.extraJavaOptions": java_options})
    with tempfile.TemporaryDirectory() as scratch:
        rows = spark.range(64).selectExpr(
            "id", "CAST(id % 2 AS DOUBLE) AS label", "CAST(id AS DOUBLE) / 2 AS x"
        )
        rows.write.parquet(f"{scratch}/rows")
        Path(scratch, "files").mkdir()
        Path(scratch, "files", "one.bin").write_bytes(b"\x00" * 16)
        files = spark.read.format("binaryFile").load(f"{scratch}/files")
        doubled = F.pandas_udf(_doubled, "double")
        table = spark.read.parquet(f"{scratch}/rows").withColumn("y", doubled("x"))
        joined = table.join(F.broadcast(table.select("id", F.col("x").alias("z"))), "id")
        joined.persist().count()
        files.selectExpr("length(content)").collect()
        vectors = VectorAssembler(inputCols=["x", "y", "z"], outputCol="features").transform(joined)
        LogisticRegression(maxIter=2).fit(vectors).transform(vectors).collect()
        spark.read.parquet(f"{scratch}/rows").groupBy("label").count().collect()
    spark.stop()
    process = jvm.embedded().process
    process.stdin.close()  # Spark's gateway exits when its standard input ends
    process.wait(timeout=BUILD_SECONDS)


if __name__ == "__main__":
    build(sys.argv[1] if len(sys.argv) > 1 else "")
