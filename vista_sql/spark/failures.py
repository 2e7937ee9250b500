"""One line for whatever stopped a statement's Spark jobs; out of memory reads the same however
it happened.

Memory runs out in several places, and each reaches the driver in its own words: the kernel
kills a Python worker (Spark only says the worker "crashed"), TensorFlow raises
ResourceExhaustedError, NumPy or Python MemoryError, Arrow ArrowMemoryError and C++
std::bad_alloc inside a worker, and the JVM throws OutOfMemoryError (in local mode a task's
OutOfMemoryError ends the whole JVM with exit code 52, and PySpark sees a broken connection).
Each becomes `out of memory in <where>: <what happened>; <what to change>`, in the shell, Jupyter,
DB-API (OperationalError) and the console alike.
"""

from __future__ import annotations

import re
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass

from vista_sql.errors import VistaError, VistaExecutionError
from vista_sql.spark import jvm

_ATTEMPTS = re.compile(r"Task \S+ in stage \S+ failed (\d+) times?")
_CAUSE = re.compile(r"most recent failure: Lost task [^:]*: ([\w.$]+(?:Exception|Error)): ([^\n]*)")
_WORKER_RAISED = "An exception was thrown from the Python worker"
_WORKER_CRASHED = "Python worker exited unexpectedly (crashed)"
_JVM_OUT_OF_MEMORY_EXIT = 52  # SparkExitCode.OOM: an executor's OutOfMemoryError ended the JVM

# What ran out inside a Python worker, most specific first ("ArrowMemoryError" ends in
# "MemoryError" too).
_IN_WORKER = (
    (r"ResourceExhaustedError|OOM when allocating", "TensorFlow could not allocate a tensor"),
    (r"ArrowMemoryError", "Arrow could not allocate a buffer (ArrowMemoryError)"),
    (r"std::bad_alloc", "a C++ allocation failed (std::bad_alloc)"),
    (r"(?<![\w])_ArrayMemoryError\b", "NumPy could not allocate an array (MemoryError)"),
    (r"(?<![\w])MemoryError\b", "Python raised MemoryError"),
)
_IN_JVM = re.compile(r"(?:java\.lang\.|Spark)OutOfMemoryError(?::\s*([^\n]*))?")
_FATAL = re.compile(r"Fatal Python error: ([^\n]+)")  # what the worker's faulthandler wrote
_OOM_KILLS = re.compile(r"^oom_kill (\d+)$", re.M)


@dataclass(frozen=True)
class Mark:
    """Where the evidence stood when a phase began: the JVM's output and the kernel's kills."""

    jvm_lines: int
    kernel_kills: int | None

    @staticmethod
    def now() -> Mark:
        embedded = jvm.embedded()
        return Mark(embedded.output.mark() if embedded else 0, _kernel_oom_kills())


@contextmanager
def during(where: str, mark: Mark | None = None):
    """Spark failures inside become one-line VistaExecutionErrors that name `where`; `mark`
    (default: now) is where the evidence of this phase starts."""
    mark = mark or Mark.now()
    try:
        yield
    except VistaError:
        raise
    except Exception as error:
        if not is_spark_failure(error):
            raise
        raise VistaExecutionError(describe(error, where, mark)) from None


def is_spark_failure(error: BaseException) -> bool:
    """A failure of Spark, its Python workers or its JVM (not a bug in vista_sql)."""
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    return isinstance(error, (PySparkException, Py4JError, ConnectionError))


def describe(error: BaseException, where: str | None = None, mark: Mark | None = None) -> str:
    """One line from a Spark/PySpark/Py4J error: out of memory in one wording, else the Python
    worker's own error, the failed job's cause, or the first line."""
    text = str(error).strip()
    mark = mark or Mark(0, None)
    _let_a_dying_jvm_exit(error, text, mark)
    memory = out_of_memory(text, where, mark)
    if memory:
        return memory
    died = jvm.exit_code()
    if died is not None:
        return f"Spark's JVM exited (code {died}); start vista_sql again"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if _WORKER_RAISED in text:
        # The last traceback line names the real failure; the JVM stack beneath is noise.
        tail = [line for line in lines if not line.startswith(("at ", "File ", "^", "~"))]
        errors = [line for line in tail if re.match(r"^[\w.]+(Error|Exception):", line)]
        if errors:
            return errors[-1]
    failed = _job_failure(text)
    if failed:
        return failed
    return lines[0] if lines else type(error).__name__


def _attempts(text: str) -> int | None:
    """How many times a task failed, where it was tried more than once (a session that gives a
    task one attempt, `local[N,1]`, has no retry worth mentioning)."""
    found = _ATTEMPTS.search(text)
    return int(found.group(1)) if found and int(found.group(1)) > 1 else None


def out_of_memory(text: str, where: str | None, mark: Mark) -> str | None:
    """`out of memory in <where>: <what>; <fix>`, or None when nothing says memory ran out."""
    place = f"out of memory in {where}" if where else "out of memory"
    attempts = _attempts(text)
    tried = f"; a task failed {attempts} times" if attempts else ""
    embedded = jvm.embedded()
    logged = "\n".join(embedded.output.since(mark.jvm_lines)) if embedded else ""
    died = jvm.exit_code()
    jvm_said = _IN_JVM.search(text) or (_IN_JVM.search(logged) if died is not None else None)
    if jvm_said or died == _JVM_OUT_OF_MEMORY_EXIT:
        detail = (jvm_said.group(1) or "").strip() if jvm_said else ""
        what = "Spark's JVM could not allocate" + (f" ({detail})" if detail else "")
        if died is not None:
            what += f" and exited (code {died})"
        return f"{place}: {what}{tried}; {_jvm_fix(where, died is not None)}"
    in_worker = _WORKER_RAISED in text or _WORKER_CRASHED in text
    for pattern, what in _IN_WORKER:
        if in_worker and (re.search(pattern, text) or re.search(pattern, logged)):
            return f"{place}: {what} in a Python worker{tried}; {_worker_fix(where)}"
    if _WORKER_CRASHED in text:
        kills = _kernel_oom_kills()
        if mark.kernel_kills is not None and kills is not None and kills > mark.kernel_kills:
            what = "the kernel's out-of-memory killer stopped a Python worker"
            return f"{place}: {what}{tried}; {_worker_fix(where)}"
        # Nothing names memory; a worker that crashes mid-stage has nearly always hit a limit.
        signal = _FATAL.search(text)
        how = f" ({signal.group(1).strip()})" if signal else ""
        return f"{place} (most likely): a Python worker crashed{how}{tried}; {_worker_fix(where)}"
    return None


def _let_a_dying_jvm_exit(error: BaseException, text: str, mark: Mark) -> None:
    """A JVM ending on OutOfMemoryError breaks its connection, or answers with a bare first line,
    a moment before it has exited: wait for that moment, so the exit code can say why."""
    from pyspark.errors import PySparkException

    embedded = jvm.embedded()
    if embedded is None or embedded.process is None or jvm.exit_code() is not None:
        return
    if isinstance(error, PySparkException):
        return  # the JVM answered: it is alive
    dying = len(text.splitlines()) <= 1 or "Error while sending or receiving" in text
    if dying or _IN_JVM.search("\n".join(embedded.output.since(mark.jvm_lines))):
        try:
            embedded.process.wait(timeout=3)
            time.sleep(0.2)  # for its last lines to be read
        except subprocess.TimeoutExpired:
            pass


def _worker_fix(where: str | None) -> str:
    limit = _setting("spark.executor.pyspark.memory")
    now = f", now {limit}" if limit else ""
    options = "lower OPTIONS (batch_size = n, parallelism = n) or " if where else ""
    return (
        f"{options}give the Python workers more memory "
        f"(spark.executor.pyspark.memory{now}, or the machine's or container's)"
    )


def _jvm_fix(where: str | None, exited: bool) -> str:
    master = _setting("spark.master") or ""
    key = "spark.driver.memory" if master.startswith("local") else "spark.executor.memory"
    value = _setting(key)
    now = f", now {value}" if value else ""
    again = " and start vista_sql again" if exited else ""
    options = ", or lower OPTIONS (parallelism = n)" if where else ""
    return f"give Spark's JVM more memory ({key}{now}){again}{options}"


def _setting(key: str) -> str | None:
    """A setting of the running session, else of the embedded JVM as it was started."""
    from pyspark.sql import SparkSession

    if jvm.exit_code() is None:
        try:
            active = SparkSession.getActiveSession()
            if active is not None:
                return active.conf.get(key, None)
        except Exception:  # noqa: BLE001 - a session that cannot answer names no value
            pass
    embedded = jvm.embedded()
    return embedded.settings.get(key) if embedded else None


def _kernel_oom_kills() -> int | None:
    """Processes the kernel's OOM killer has ended since boot (Linux ≥ 4.13), or None."""
    try:
        with open("/proc/vmstat") as stats:
            found = _OOM_KILLS.search(stats.read())
    except OSError:
        return None
    return int(found.group(1)) if found else None


def _job_failure(text: str) -> str | None:
    """One line for a Spark job that failed after its task retries, or None for other errors.

    PySpark hands such failures over as a bare Py4JJavaError whose first line ("An error occurred
    while calling o45.sql.") says nothing; the cause is in the JVM text beneath.
    """
    if "Job aborted due to stage failure" not in text:
        return None
    attempts = _attempts(text)
    tried = f" (a task failed {attempts} times)" if attempts else ""
    cause = _CAUSE.search(text)
    if cause:
        kind = cause.group(1).rsplit(".", 1)[-1]
        return f"a Spark job failed{tried}: {kind}: {cause.group(2).strip()}"
    return f"a Spark job failed{tried}"
