"""Importing TensorFlow/Keras quietly and with the thread budget the plan gives each task."""

from __future__ import annotations

import contextlib
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


def keras(threads: int | None = None):
    """The keras module, with TensorFlow's intra-op threads set before its runtime starts."""
    if "tensorflow" not in sys.modules:
        with _stderr_silenced():
            import tensorflow as tf

            if threads:
                # Must happen before the first op runs; later calls raise RuntimeError.
                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(1)
            tf.get_logger().setLevel("ERROR")
            import keras as keras_module

            keras_module.config.disable_interactive_logging()
        return keras_module
    import keras as keras_module

    return keras_module
