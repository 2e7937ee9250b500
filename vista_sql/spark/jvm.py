"""The embedded Spark JVM: started by vista_sql with its standard error read here, not inherited.

The JVM writes to standard error what a vista_sql user did not ask for: start-up chatter (every
start prints `WARNING: Using incubator modules: jdk.incubator.vector`, from the `--add-modules`
that Spark's launcher always passes) and log4j errors whose cause vista_sql reports itself, in
one line. Its lines (the Python workers' too: they inherit the JVM's standard error) go to the
`vista_sql.jvm` logger at DEBUG, which `--debug` shows, and the last few hundred are kept: an
out-of-memory message among them says what a failed job or a dead JVM died of.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from dataclasses import dataclass

log = logging.getLogger("vista_sql.jvm")
JAVA_OPTIONS = "spark.driver.extraJavaOptions"
KEPT_LINES = 500


class Output:
    """Lines read from a pipe on a thread of their own, so the JVM never blocks on a full pipe."""

    def __init__(self):
        self._lines: collections.deque[tuple[int, str]] = collections.deque(maxlen=KEPT_LINES)
        self._read = 0
        self._lock = threading.Lock()

    def pipe(self) -> int:
        """The write end for the JVM; reading starts before the JVM does."""
        read, write = os.pipe()
        threading.Thread(
            target=self._pump, args=(read,), name="vista-jvm-stderr", daemon=True
        ).start()
        return write

    def _pump(self, fd: int) -> None:
        with os.fdopen(fd, "rb") as stream:
            for raw in stream:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                with self._lock:
                    self._read += 1
                    self._lines.append((self._read, line))
                log.debug("%s", line)

    def mark(self) -> int:
        """A position: `since(mark)` gives the lines read after it."""
        with self._lock:
            return self._read

    def since(self, mark: int) -> list[str]:
        with self._lock:
            return [line for number, line in self._lines if number > mark]


@dataclass(frozen=True)
class Embedded:
    process: object  # subprocess.Popen of spark-submit's JVM
    output: Output
    settings: dict  # what it was started with: the memory a message can name after it died


_embedded: Embedded | None = None


def launch(master: str, settings: dict[str, str]) -> None:
    """Start the JVM PySpark's next SparkContext will use, unless one runs in this process."""
    global _embedded
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway

    if SparkContext._gateway is not None or "PYSPARK_GATEWAY_PORT" in os.environ:
        return
    from vista_sql.spark import class_archive

    base = settings.get(JAVA_OPTIONS, "")
    started = {**settings, JAVA_OPTIONS: f"{base} {class_archive.options(base)}".strip()}
    conf = SparkConf(loadDefaults=False).setMaster(master).setAll(list(started.items()))
    output = Output()
    write = output.pipe()
    try:
        gateway = launch_gateway(conf, popen_kwargs={"stderr": write})
    except Exception as error:
        from vista_sql.errors import VistaExecutionError

        time.sleep(0.2)  # the pump's last lines: why the JVM did not start
        said = [line for line in output.since(0) if line.strip()]
        reason = said[-1].strip() if said else str(error).strip().splitlines()[0]
        raise VistaExecutionError(f"Spark's JVM did not start: {reason}") from None
    finally:
        os.close(write)
    SparkContext._ensure_initialized(gateway=gateway)
    _embedded = Embedded(gateway.proc, output, dict(settings, **{"spark.master": master}))


def embedded() -> Embedded | None:
    """The JVM vista_sql started in this process, or None (a user's session, Spark Connect)."""
    return _embedded


def exit_code() -> int | None:
    """The embedded JVM's exit code once it has died; None while it runs (or was not ours)."""
    if _embedded is None or _embedded.process is None:
        return None
    return _embedded.process.poll()
