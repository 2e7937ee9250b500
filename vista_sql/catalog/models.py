"""A reference to one CNN with its weights, and building it — the same way on driver and workers.

A `ModelRef` is a small frozen value that travels inside Spark UDF closures; each Python process
builds the Keras model it names once and keeps it while it is among the last few used
(`model_for`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vista_sql.catalog import backend, zoo
from vista_sql.catalog.resident import Resident
from vista_sql.catalog.weights import WeightsRef
from vista_sql.catalog.weights import build as build_zoo_model
from vista_sql.errors import VistaBindError, first_line

PREPROCESS_MODES = ("none", "caffe", "tf", "torch")
DEFAULT_INPUT = (224, 224)


@dataclass(frozen=True)
class ModelRef:
    name: str  # what statements call it
    zoo: str | None = None  # a zoo CNN ...
    weights: WeightsRef = field(default_factory=lambda: WeightsRef("imagenet"))
    path: str | None = None  # ... or a user's model file / SavedModel directory
    unsafe: bool = False  # Keras safe mode off (Lambda layers run arbitrary Python)
    preprocess_mode: str = "none"  # user models only; zoo CNNs use their own preprocessing

    @property
    def spec(self) -> zoo.CnnSpec | None:
        return zoo.ZOO[self.zoo] if self.zoo else None

    def describe(self) -> str:
        if self.path:
            return f"model file {self.path} (preprocess {self.preprocess_mode})"
        return f"{self.zoo}, weights {self.weights.describe()}"

    def identity(self) -> str:
        """Changes whenever the weights could have: a file's size and modification time count."""
        if self.path:
            stat = os.stat(self.path)
            return f"file:{Path(self.path).resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
        return f"{self.zoo}:{self.weights.describe()}"

    def input_size(self, model) -> tuple[int, int]:
        if self.spec:
            return self.spec.input_size
        height, width = tuple(model.inputs[0].shape[1:3])
        return (height or DEFAULT_INPUT[0], width or DEFAULT_INPUT[1])

    def preprocess(self, batch: np.ndarray) -> np.ndarray:
        if self.spec:
            return self.spec.preprocess(batch)
        if self.preprocess_mode == "none":
            return batch
        from keras.applications import imagenet_utils

        return imagenet_utils.preprocess_input(batch, mode=self.preprocess_mode)


# Two: a statement over several CNNs binds them side by side; a worker runs one at a time.
RESIDENT_MODELS = 2
_models: Resident = Resident(RESIDENT_MODELS)


def model_for(ref: ModelRef, threads: int | None = None):
    """The Keras model `ref` names, built once per process while it stays resident."""
    return _models.get(ref, lambda: build(ref, threads))


def is_resident(ref: ModelRef) -> bool:
    return ref in _models


def build(ref: ModelRef, threads: int | None = None):
    if ref.spec:
        return build_zoo_model(ref.spec, ref.weights, threads)
    return _load_user_model(ref.path, ref.unsafe, threads)


def _load_user_model(path: str, unsafe: bool, threads: int | None):
    source = Path(path)
    if not source.exists():
        raise VistaBindError(f"model file '{path}' does not exist")
    keras = backend.keras(threads)
    try:
        if source.is_dir():
            return _saved_model(keras, path)
        return keras.saving.load_model(path, compile=False, safe_mode=not unsafe)
    except ValueError as error:
        if "Lambda" in str(error) and "safe_mode" in str(error):
            raise VistaBindError(
                f"model '{path}' contains a Lambda layer (arbitrary Python code), refused in Keras "
                "safe mode; if you trust the file, add OPTIONS (unsafe_deserialization = true)"
            ) from None
        raise VistaBindError(f"cannot load model '{path}': {first_line(error)}") from None
    except Exception as error:  # h5py, protobuf and zip errors all mean "not a model file"
        raise VistaBindError(f"cannot load model '{path}': {first_line(error)}") from None


def _saved_model(keras, path: str):
    # A SavedModel is opaque to Keras 3: only its serving signature's outputs are layers.
    import tensorflow as tf

    signature = tf.saved_model.load(path).signatures["serving_default"]
    (spec,) = signature.structured_input_signature[1].values()
    image = keras.Input(shape=tuple(spec.shape[1:]), name="input_layer")
    outputs = keras.layers.TFSMLayer(path, call_endpoint="serving_default")(image)
    named = [keras.layers.Identity(name=key)(outputs[key]) for key in sorted(outputs)]
    return keras.Model(image, named, name=Path(path).name)
