"""A reference to one CNN with its weights, and building it — the same way on driver and workers.

A `ModelRef` is a small frozen value that travels inside Spark UDF closures; each Python process
builds the CNN it names once (a `KerasCnn`, or an `OnnxCnn` for an .onnx file) and keeps it while
it is among the last few used (`model_for`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vista_sql.catalog import backend, graph_cache, zoo
from vista_sql.catalog.graph import CnnGraph
from vista_sql.catalog.keras_cnn import KerasCnn
from vista_sql.catalog.resident import Resident
from vista_sql.catalog.weights import WeightsRef
from vista_sql.catalog.weights import build as build_zoo_model
from vista_sql.errors import VistaBindError, first_line

PREPROCESS_MODES = ("none", "caffe", "tf", "torch")
ONNX_SUFFIX = ".onnx"

# keras.applications.imagenet_utils' definitions, in NumPy: an ONNX CNN's workers never load
# TensorFlow. `torch` is torchvision's normalization, `caffe` BGR minus the ImageNet means.
_TORCH_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_TORCH_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
_CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)


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

    @property
    def is_onnx(self) -> bool:
        return bool(self.path) and self.path.lower().endswith(ONNX_SUFFIX)

    def describe(self) -> str:
        if self.is_onnx:
            from vista_sql.catalog.onnx_cnn import providers

            runtime = f"run by ONNX Runtime, {providers()[0]}"
            return f"ONNX file {self.path} (preprocess {self.preprocess_mode}; {runtime})"
        if self.path:
            return f"model file {self.path} (preprocess {self.preprocess_mode})"
        return f"{self.zoo}, weights {self.weights.describe()}"

    def identity(self) -> str:
        """Changes whenever the weights could have: a file's size and modification time count."""
        if self.path:
            stat = os.stat(self.path)
            return f"file:{Path(self.path).resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
        return f"{self.zoo}:{self.weights.describe()}"

    def preprocess(self, batch: np.ndarray) -> np.ndarray:
        """RGB 0..255 images (N, H, W, 3) as the CNN expects them."""
        if self.spec:
            return self.spec.preprocess(batch)
        if self.preprocess_mode == "torch":
            return (batch / np.float32(255) - _TORCH_MEAN) / _TORCH_STD
        if self.preprocess_mode == "caffe":
            return batch[..., ::-1] - _CAFFE_MEAN_BGR
        if self.preprocess_mode == "tf":
            return batch / np.float32(127.5) - np.float32(1)
        return batch


# Two: a statement over several CNNs binds them side by side; a worker runs one at a time.
RESIDENT_MODELS = 2
_models: Resident = Resident(RESIDENT_MODELS)


def resident_key(ref: ModelRef) -> tuple:
    """What a built CNN is kept under: a model file rewritten in place (another size or
    modification time) is another model, and must not be served from the copy built before."""
    return (ref, ref.identity() if ref.path and Path(ref.path).exists() else None)


def model_for(ref: ModelRef, threads: int | None = None):
    """The CNN `ref` names (`KerasCnn` or `OnnxCnn`), built once per process while it stays
    resident."""
    key = resident_key(ref)
    if key not in _models:
        _models.discard(lambda kept: kept[0] != ref)  # an older version of the same file
    return _models.get(key, lambda: build(ref, threads))


def graph_for(ref: ModelRef) -> CnnGraph:
    """What planning needs of the CNN, refused here if it cannot be built. A zoo CNN's comes
    from the graph cache once any process has built it, so planning needs no TensorFlow."""
    spec = ref.spec
    if spec is None:
        cnn = model_for(ref)
        cnn.check()
        return cnn.graph
    found = None if is_resident(ref) else graph_cache.load(spec)
    if found is None:
        found = model_for(ref).graph
        graph_cache.store(spec, found)
    return found


def is_resident(ref: ModelRef) -> bool:
    return resident_key(ref) in _models


def build(ref: ModelRef, threads: int | None = None):
    if ref.spec:
        return KerasCnn(build_zoo_model(ref.spec, ref.weights, threads), ref.spec.input_size)
    if not Path(ref.path).exists():
        raise VistaBindError(f"model file '{ref.path}' does not exist")
    if ref.is_onnx:
        from vista_sql.catalog.onnx_cnn import OnnxCnn

        return OnnxCnn(ref.path, threads)
    return KerasCnn(_load_user_model(ref.path, ref.unsafe, threads))


def _load_user_model(path: str, unsafe: bool, threads: int | None):
    source = Path(path)
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
