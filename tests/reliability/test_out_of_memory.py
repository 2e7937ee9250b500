"""Out of memory reads the same however it happens: each kind is provoked for real.

Inside a Python worker: NumPy, Arrow and TensorFlow each asked for a petabyte (refused at once
by the allocator, so the machine never comes near its limit) in a UDF of the shared session; the
DB-API and the shell print the same line. The JVM: a child whose 512 MB heap a task overflows,
so the JVM ends (exit code 52). The kernel: a child in a memory cgroup whose worker touches more
memory than the group holds, so the OOM killer stops it (skipped where cgroups are not writable).
The TRANSFER case, a stage's workers over their limit, is test_memory_pressure.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vista_sql import dbapi
from vista_sql.interfaces.cli import Shell

# Starts a JVM in a child process (shell, server, kernel, cluster daemons) or in this one.
pytestmark = pytest.mark.spark

ROOT = Path(__file__).resolve().parents[2]
PETABYTE = 10**15


def _tensorflow_ones(count: int):
    """A UDF allocating `count` floats with TensorFlow (nested, so that it is pickled whole: the
    worker cannot import this test module)."""

    def ones(_):
        # oneDNN's allocator waits 10 s for memory to come free before it raises, in each task
        # attempt's worker; the system allocator raises the same ResourceExhaustedError at once.
        # It is read at the worker's first TensorFlow allocation (a worker that already made one
        # keeps oneDNN's, and this case only takes longer).
        import os

        os.environ.setdefault("TF_ONEDNN_USE_SYSTEM_ALLOCATOR", "1")
        import tensorflow as tf

        return float(tf.ones((count,)).shape[0])

    return ones


ALLOCATE = {
    "numpy_petabyte": (
        lambda _: float(__import__("numpy").ones(PETABYTE, dtype="uint8").sum()),
        "NumPy could not allocate an array (MemoryError)",
    ),
    "arrow_petabyte": (
        lambda _: float(len(__import__("pyarrow").allocate_buffer(PETABYTE))),
        "Arrow could not allocate a buffer (ArrowMemoryError)",
    ),
    "tensorflow_petabyte": (
        _tensorflow_ones(PETABYTE // 4),
        "TensorFlow could not allocate a tensor",
    ),
}


WORKER_FIX = (
    "give the Python workers more memory (spark.executor.pyspark.memory, or the machine's or "
    "container's)"
)


@pytest.fixture(scope="module")
def allocating(spark):
    for name, (function, _) in ALLOCATE.items():
        spark.udf.register(name, function, "double")
    return spark


def _expected(udf: str) -> str:
    return f"out of memory: {ALLOCATE[udf][1]} in a Python worker; {WORKER_FIX}"


@pytest.mark.parametrize("udf", sorted(ALLOCATE))
def test_a_workers_failed_allocation_is_one_out_of_memory_line(allocating, udf):
    connection = dbapi.connect(spark=allocating)
    with pytest.raises(dbapi.OperationalError) as raised:
        connection.cursor().execute(f"SELECT {udf}(id) FROM range(1)")
    assert str(raised.value) == _expected(udf)


def test_the_shell_prints_a_workers_failed_allocation_as_the_same_line(allocating, vista, capsys):
    # The shell prints whatever error the statement raised; which allocator failed only changes
    # the words above.
    udf = "numpy_petabyte"
    assert not Shell(vista, "table", debug=False).run_script(f"SELECT {udf}(id) FROM range(1);")
    assert capsys.readouterr().err.splitlines() == [f"error: {_expected(udf)}"]


# One child for the two kinds that need a process of their own: its worker meets the memory
# cgroup's limit (where this machine lets a test make one), then its JVM its 512 MB heap. The
# shell prints each error as `vista-sql` would.
CHILD = """
import sys
from vista_sql import VistaSession
from vista_sql.spark.session import stop
from vista_sql.interfaces.cli import Shell

vista = VistaSession(master="local[1]", conf={"spark.driver.memory": "512m"})
shell = Shell(vista, "table", debug=False)

def touch(_):
    import numpy
    pages = numpy.ones(6 * 2**30, dtype="uint8")  # every page written: resident, not reserved
    return float(pages[::4096].sum())

vista.spark.udf.register("touch_six_gigabytes", touch, "double")
if sys.argv[1] == "cgroup":
    shell.run_script("SELECT touch_six_gigabytes(id) FROM range(1);")
shell.run_script(
    "SELECT length(concat_ws(',', collect_list(repeat('x', 1000000)))) FROM range(3000);"
)
stop(vista.spark)
"""
JVM_LINE = (
    "error: out of memory: Spark's JVM could not allocate (Java heap space) and exited (code 52);"
    " give Spark's JVM more memory (spark.driver.memory, now 512m) and start vista_sql again"
)
KERNEL_LINE = "error: out of memory: the kernel's out-of-memory killer stopped a Python worker"


def test_the_kernel_killing_a_worker_and_a_jvm_out_of_heap_each_read_out_of_memory():
    sys.path.insert(0, str(ROOT))
    from bench.cgroup import MemoryCgroup

    group = MemoryCgroup.create(3 * 2**30)
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, "cgroup" if group else "none"],
            capture_output=True,
            text=True,
            timeout=400,
            preexec_fn=group.join if group else None,
        )
        killed = group.oom_kills() if group else 0
    finally:
        if group:
            group.close()
    lines = done.stderr.splitlines()
    assert lines[-1] == JVM_LINE, done.stderr[-3000:]
    if group is None:
        assert len(lines) == 1, done.stderr[-3000:]
        pytest.skip("the JVM's case passed; this machine does not let a test make a memory cgroup")
    assert killed >= 1 and len(lines) == 2, done.stderr[-3000:]
    assert lines[0].startswith(KERNEL_LINE), lines[0]
    assert lines[0].endswith(WORKER_FIX), lines[0]


# A JVM that dies mid-command resets py4j's socket; py4j then logs the traceback on the root
# logger (timing decides whether the JVM case above meets it). A listener that hangs up on its
# first byte resets the socket the same way, without a JVM.
HUNG_UP = """
import socket, sys, threading
if sys.argv[1] == "vista":
    import vista_sql.session
from py4j.java_gateway import GatewayClient, GatewayParameters

listener = socket.create_server(("127.0.0.1", 0))

def hang_up():
    while True:
        connection, _ = listener.accept()
        connection.recv(1)
        connection.close()  # unread bytes left: the kernel answers with a reset

threading.Thread(target=hang_up, daemon=True).start()
port = listener.getsockname()[1]
GatewayClient(gateway_parameters=GatewayParameters(port=port)).send_command("c\\nx\\ne\\n")
"""


def test_py4j_logs_nothing_when_its_connection_resets_once_vista_sql_is_imported():
    def stderr(imported: str) -> str:
        child = [sys.executable, "-c", HUNG_UP, imported]
        return subprocess.run(child, capture_output=True, text=True, timeout=60).stderr

    # Without vista_sql the same reset prints py4j's traceback, so the listener did reset it.
    assert "Exception while sending command" in stderr("plain")
    assert stderr("vista") == ""


# The kinds no test here can provoke on demand (std::bad_alloc needs a C++ allocation to fail
# in a worker; Spark's own OutOfMemoryError needs its memory manager to refuse a task), as Spark
# words them: the same line, from the same rules.
SPARK_WORDED = {
    "std::bad_alloc": (
        "An exception was thrown from the Python worker. Please see the stack trace below.\n"
        "RuntimeError: std::bad_alloc",
        "a C++ allocation failed (std::bad_alloc) in a Python worker",
    ),
    "MemoryError": (
        "An exception was thrown from the Python worker. Please see the stack trace below.\n"
        'Traceback (most recent call last):\n  File "x.py", line 1, in f\nMemoryError',
        "Python raised MemoryError in a Python worker",
    ),
    "SparkOutOfMemoryError": (
        "Job aborted due to stage failure: Task 0 in stage 3.0 failed 2 times, most recent "
        "failure: Lost task 0.1 in stage 3.0 (TID 7): org.apache.spark.memory."
        "SparkOutOfMemoryError: [UNABLE_TO_ACQUIRE_MEMORY] Unable to acquire 65536 bytes",
        "Spark's JVM could not allocate ([UNABLE_TO_ACQUIRE_MEMORY] Unable to acquire 65536 bytes)"
        "; a task failed 2 times",
    ),
}


@pytest.mark.parametrize("kind", sorted(SPARK_WORDED))
def test_other_kinds_read_the_same(spark, kind):
    from vista_sql.spark import failures

    text, what = SPARK_WORDED[kind]
    line = failures.out_of_memory(text, "training on avg_pool", failures.Mark.now())
    assert line.startswith(f"out of memory in training on avg_pool: {what}; "), line
    assert "OPTIONS (" in line and "memory (spark." in line
