"""Where a CNN's weights come from, and building the model with them.

Random weights are drawn from numpy's seeded generator rather than Keras initialisers, so the
driver and every Spark worker process build bit-identical models without shipping a weights file.
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vista_sql.catalog import backend
from vista_sql.catalog.zoo import CnnSpec
from vista_sql.errors import VistaBindError


@dataclass(frozen=True)
class WeightsRef:
    kind: str  # "random" | "imagenet" | "file"
    seed: int = 0
    path: str | None = None

    def describe(self) -> str:
        if self.kind == "random":
            return f"random (seed {self.seed})"
        return self.path if self.kind == "file" else "imagenet"


def keras_cache_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"


def check_available(spec: CnnSpec, weights: WeightsRef) -> None:
    """Fail at bind time, with the file to fetch, rather than inside a Spark task."""
    if weights.kind == "imagenet":
        if not spec.imagenet_file:
            raise VistaBindError(
                f"{spec.name} has no ImageNet weights; use WEIGHTS RANDOM or a weights file"
            )
        expected = keras_cache_dir() / spec.imagenet_file
        if not expected.exists():
            try:
                # Where a network exists, Keras downloads the file into its cache on first use.
                backend.keras()
                getattr(spec.module(), spec.builder)(weights="imagenet")
            except Exception:
                raise VistaBindError(
                    f"ImageNet weights for {spec.name} are not in the Keras cache and cannot be "
                    f"downloaded: put {spec.imagenet_file} in {expected.parent} "
                    "(or use WEIGHTS RANDOM)"
                ) from None
    elif weights.kind == "file" and not Path(weights.path).exists():
        raise VistaBindError(f"weights file '{weights.path}' does not exist")


def build(spec: CnnSpec, weights: WeightsRef, threads: int | None = None):
    keras = backend.keras(threads)  # quiet import, thread budget fixed before TF starts
    # Layers a builder leaves unnamed get a per-process counter suffix (a second MobileNetV2
    # would have "global_average_pooling2d_1"); reset it so every build has the same names.
    keras.utils.clear_session(free_memory=False)
    factory = getattr(spec.module(), spec.builder)
    with _initialised_to_zeros(keras):  # every weight is overwritten below: don't draw it first
        if weights.kind == "imagenet":
            return factory(weights=str(keras_cache_dir() / spec.imagenet_file))
        model = factory(weights=None)
    if weights.kind == "file":
        model.load_weights(weights.path)
    else:
        _randomize(model, weights.seed)
    return model


_patching = threading.Lock()


@contextlib.contextmanager
def _initialised_to_zeros(keras):
    """Keras' random initialisers return zeros while a model is built (a third of its build
    time goes into drawing ResNet50's 25M kernel values, which the weights then replace)."""
    try:
        from keras.src.initializers import random_initializers
    except ImportError:  # another Keras layout: build as usual
        yield
        return
    drawn = [
        cls
        for cls in vars(random_initializers).values()
        if isinstance(cls, type)
        and issubclass(cls, random_initializers.RandomInitializer)
        and "__call__" in vars(cls)
    ]

    def zeros(self, shape, dtype=None):
        return keras.ops.zeros(shape, dtype=dtype)

    with _patching:
        saved = {cls: vars(cls)["__call__"] for cls in drawn}
        try:
            for cls in drawn:
                cls.__call__ = zeros
            yield
        finally:
            for cls, call in saved.items():
                cls.__call__ = call


def _randomize(model, seed: int) -> None:
    # Glorot-uniform kernels like Keras' defaults; biases and batch-norm statistics keep their
    # constant initial values, which are already deterministic.
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        shape = tuple(variable.shape)
        if len(shape) < 2 or not variable.path.endswith("kernel"):
            continue
        receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
        fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        values = rng.random(shape, dtype=np.float32) * np.float32(2 * limit) - np.float32(limit)
        variable.assign(values)
