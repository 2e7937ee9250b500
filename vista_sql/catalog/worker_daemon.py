"""PySpark's Python worker daemon, forking workers with TensorFlow already imported once one of
its workers has needed it.

Spark forks every Python worker of a pool from one daemon process. Each worker that runs a CNN
stage imports TensorFlow itself, 4.5 CPU-s, and so does every worker that replaces one that
failed, was killed or sat idle past Spark's minute. This daemon imports TensorFlow as soon as one
of its workers tells it (through a pipe; catalog/backend.py) that it did, and the workers it
forks from then on inherit it. Not before: a session has several pools (one per worker
environment; a TRANSFER uses two), and one whose workers never build a CNN would pay for nothing.
Imported
only: TensorFlow's runtime and its thread pools start in each worker, after the worker fixes its
thread budget (backend.keras), so no thread is lost across the fork. Nor does the import start
threads of TensorFlow's own (gdb on a process that imported both): the only others are
OpenBLAS's servers, numpy's and scipy's (none under the workers' OMP_NUM_THREADS=1, and OpenBLAS
stops them at a fork), and pyarrow's jemalloc thread, which PySpark's own daemon has as well.

Spark runs it as `python -m` (spark.python.daemon.module; vista_sql/spark/session.py names it).
"""

from __future__ import annotations

import gc
import os
import sys

from pyspark import daemon

from vista_sql.catalog import backend


def _forking_with_tensorflow_once_told(fork, told: int):
    def fork_a_worker() -> int:
        if "tensorflow" not in sys.modules:
            try:
                wanted = os.read(told, 64)
            except BlockingIOError:
                wanted = b""
            if wanted:
                backend.import_quietly()
        pid = fork()
        if pid == 0:  # the worker: a process it starts is forked as any other
            os.fork = fork
            os.close(told)
        return pid

    return fork_a_worker


def main() -> None:
    told, tell = os.pipe()
    os.set_blocking(told, False)
    os.environ[backend.DAEMON_CHANNEL] = f"{os.getpid()}:{tell}"
    os.fork = _forking_with_tensorflow_once_told(os.fork, told)
    # PySpark's modules are every worker's: left out of the collection each task ends with.
    gc.freeze()
    daemon.manager()


if __name__ == "__main__":
    main()
