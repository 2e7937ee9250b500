"""Importing TensorFlow/Keras quietly and with the thread budget the plan gives each task."""

from __future__ import annotations

import contextlib
import gc
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@contextlib.contextmanager
def _stderr_silenced():
    # TensorFlow's C++ start-up banner (CUDA probing, oneDNN notes) bypasses Python logging and
    # TF_CPP_MIN_LOG_LEVEL; it would land in the user's shell through every Spark worker.
    fd = 2  # the C++ runtime writes to the process's fd 2, whatever sys.stderr is
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


# Whether this process has had its first keras() call: the thread budget is fixed then. A worker
# forked from catalog/worker_daemon.py may inherit TensorFlow imported, with this still False.
_configured = False
# "pid:fd" of the worker daemon that forked this process and of the pipe on which its workers
# tell it they imported TensorFlow (catalog/worker_daemon.py); absent elsewhere.
DAEMON_CHANNEL = "VISTA_SQL_WORKER_DAEMON"


def import_quietly():
    """TensorFlow and Keras imported without their start-up banner; TensorFlow's runtime (and so
    its thread pools) is not started."""
    if "tensorflow" not in sys.modules:
        with _stderr_silenced():
            import tensorflow as tf

            tf.get_logger().setLevel("ERROR")
            import keras as keras_module

            keras_module.config.disable_interactive_logging()
        # Python workers run a full collection after every task; TensorFlow's and Keras's
        # hundred thousand module objects live as long as the process, so they are left out.
        gc.freeze()
        _tell_the_daemon()
    import keras as keras_module

    return keras_module


def _tell_the_daemon() -> None:
    daemon, _, fd = os.environ.get(DAEMON_CHANNEL, "").partition(":")
    if daemon and int(daemon) == os.getppid():  # not a process this worker started
        try:
            os.write(int(fd), b"t")
        except OSError:
            pass  # the daemon is gone: nothing to tell


def keras(threads: int | None = None):
    """The keras module, with TensorFlow's intra-op threads set before its runtime starts (by
    the process's first call: later calls cannot change them)."""
    global _configured
    keras_module = import_quietly()
    if not _configured:
        _configured = True
        if threads:
            import tensorflow as tf

            # Possible only before the first op runs; where the process's own code ran one
            # first (a notebook, the driver), its threads stay as TensorFlow chose them.
            with contextlib.suppress(RuntimeError):
                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(1)
    return keras_module
