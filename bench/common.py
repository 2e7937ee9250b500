"""What every measured system shares: the workload, image decoding, pooling, result files.

Children import only this module (plus their own stack), never the driver, so each one pays for
exactly the libraries it uses.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

# The deepest cut points of each CNN, shallow → deep: the same rosters vista_sql's `LAYERS TOP k`
# takes from (vista_sql/catalog/zoo.py), written out so the peers do not depend on vista_sql.
ROSTERS = {
    "resnet50": (
        "conv4_block6_out",
        "conv5_block1_out",
        "conv5_block2_out",
        "conv5_block3_out",
        "avg_pool",
    ),
    "vgg16": ("block5_conv3", "block5_pool", "fc1", "fc2"),
}
KERAS_APPS = {"resnet50": ("resnet50", "ResNet50"), "vgg16": ("vgg16", "VGG16")}
INPUT_SIZE = (224, 224)
# Downstream model, the same everywhere: vista_sql's defaults for TRAIN logistic_regression.
MAX_ITER, REG_PARAM, ELASTIC_NET = 10, 0.01, 0.5
SPLIT, SEED = 0.2, 42
BATCH = 32


def run_tag(series: str, system: str, cnn: str, k: int, n: int, budget: str | None) -> str:
    """The file-name stem of one run's log, result and profile under build/bench/logs/."""
    tag = f"{series}-{system}-{cnn}-k{k}-n{n}" + (f"-{budget}" if budget else "")
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in tag)


def top_layers(cnn: str, k: int) -> list[str]:
    roster = ROSTERS[cnn]
    if k > len(roster):
        raise ValueError(f"{cnn}: only {len(roster)} layers known")
    return list(roster[-k:])


def child_args(description: str, extra=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", type=Path, required=True, help="dir from bench/data.py")
    parser.add_argument("--cnn", choices=sorted(ROSTERS), required=True)
    parser.add_argument("--layers", required=True, help="comma-separated, shallow → deep")
    parser.add_argument("--out", type=Path, required=True, help="JSON result file")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    if extra:
        extra(parser)
    args = parser.parse_args()
    args.layers = args.layers.split(",")
    return args


def image_paths(data: Path) -> list[tuple[int, Path]]:
    paths = sorted((data / "images").glob("*.jpg"), key=lambda p: int(p.stem))
    return [(int(p.stem), p) for p in paths]


def decode(data: bytes, size: tuple[int, int] = INPUT_SIZE) -> np.ndarray:
    """JPEG bytes → (h, w, 3) float32 0..255: Pillow, reduced-scale JPEG draft, bilinear resize."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", size)
        rgb = image.convert("RGB").resize((size[1], size[0]), Image.Resampling.BILINEAR)
        return np.asarray(rgb, dtype=np.float32)


def pool(batch: np.ndarray, grid: int = 2) -> np.ndarray:
    """(n, h, w, c) → (n, grid·grid·c) adaptive max pooling (Vista's g_l); vectors flattened."""
    if batch.ndim != 4:
        return batch.reshape(batch.shape[0], -1).astype(np.float32, copy=False)
    _, height, width, _ = batch.shape

    def bounds(size, cells):
        return [(i * size // cells, math.ceil((i + 1) * size / cells)) for i in range(cells)]

    cells = [
        batch[:, r0:r1, c0:c1, :].max(axis=(1, 2))
        for r0, r1 in bounds(height, min(grid, height))
        for c0, c1 in bounds(width, min(grid, width))
    ]
    return np.stack(cells, axis=1).reshape(batch.shape[0], -1).astype(np.float32, copy=False)


def keras_with_threads(threads: int):
    """Import TensorFlow/Keras with `threads` intra-op threads (before the runtime starts)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras

    keras.config.disable_interactive_logging()
    return keras


def build_cnn(keras, cnn: str):
    module, builder = KERAS_APPS[cnn]
    app = getattr(keras.applications, module)
    return getattr(app, builder)(weights=None), app.preprocess_input


class Phases:
    """Named wall-clock phases of one run, in order, plus free-form facts."""

    def __init__(self):
        self.started = time.perf_counter()
        self.phases: list[dict] = []
        self.facts: dict = {}

    @contextmanager
    def phase(self, name: str, images: int | None = None, **extra):
        begin = time.perf_counter()
        yield
        seconds = time.perf_counter() - begin
        entry = {"name": name, "seconds": round(seconds, 3), **extra}
        if images:
            entry["images"] = images
            entry["images_per_s"] = round(images / seconds, 2) if seconds else None
        self.phases.append(entry)

    def add(self, name: str, seconds: float, images: int | None = None, **extra):
        entry = {"name": name, "seconds": round(seconds, 3), **extra}
        if images:
            entry["images"] = images
            entry["images_per_s"] = round(images / seconds, 2) if seconds else None
        self.phases.append(entry)

    def write(self, out: Path, **result):
        payload = {
            "inner_seconds": round(time.perf_counter() - self.started, 3),
            "phases": self.phases,
            **self.facts,
            **result,
        }
        out.write_text(json.dumps(payload, indent=2, default=str))


def spark_conf_pairs(values: list[str] | None) -> dict[str, str]:
    conf = {}
    for item in values or []:
        key, _, value = item.partition("=")
        conf[key] = value
    return conf


class StorageWatcher:
    """Polls the Spark block manager: peak cached bytes in memory and on disk (spill)."""

    def __init__(self, spark, interval: float = 0.5):
        self.spark, self.interval = spark, interval
        self.peak_memory = self.peak_disk = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)
        self.sample()

    def sample(self):
        try:
            infos = self.spark.sparkContext._jsc.sc().getRDDStorageInfo()
            memory = sum(int(info.memSize()) for info in infos)
            disk = sum(int(info.diskSize()) for info in infos)
        except Exception:
            return
        self.peak_memory = max(self.peak_memory, memory)
        self.peak_disk = max(self.peak_disk, disk)

    def _loop(self):
        while not self._stop.wait(self.interval):
            self.sample()

    def facts(self) -> dict:
        return {
            "cached_peak_memory_bytes": self.peak_memory,
            "cached_peak_disk_bytes": self.peak_disk,
        }


def fail(out: Path, error: BaseException, phases: Phases | None = None) -> None:
    """Record the failure's last line in the result file and exit non-zero."""
    text = str(error).strip().splitlines()
    lines = [line.strip() for line in text if line.strip()]
    errors = [line for line in lines if "Error" in line or "Exception" in line]
    message = (errors[-1] if errors else (lines[0] if lines else type(error).__name__))[:500]
    (phases or Phases()).write(out, status="crash", error=f"{type(error).__name__}: {message}")
    sys.exit(3)


def mllib_scores(predictions, label: str = "label") -> dict:
    """The metrics vista_sql reports per layer: accuracy, F1 and (binary labels) AUC."""
    from pyspark.ml.evaluation import (
        BinaryClassificationEvaluator,
        MulticlassClassificationEvaluator,
    )

    scores = {
        name: MulticlassClassificationEvaluator(labelCol=label, metricName=name).evaluate(
            predictions
        )
        for name in ("accuracy", "f1")
    }
    scores["auc"] = BinaryClassificationEvaluator(labelCol=label).evaluate(predictions)
    return {k: round(v, 4) for k, v in scores.items()}
