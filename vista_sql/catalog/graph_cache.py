"""Zoo CNNs' graphs kept on disk, so that a new process plans without TensorFlow.

Planning a statement needs only a CNN's graph (`graph.CnnGraph`: layers, shapes, FLOPs); building
a zoo CNN for it costs the driver a TensorFlow import and a Keras build, seconds that every new
shell, kernel or DB-API process paid before its first statement ran anything. A zoo CNN's graph
depends on its builder, input size and the Keras that builds it, never on its weights, so it is
written once per (CNN, input size, Keras, TensorFlow) as JSON (never pickle: the directory is the
user's to write) under `$VISTA_SQL_CACHE` or `~/.cache/vista_sql`. A file that cannot be read as
this version wrote it is ignored and written again.
"""

from __future__ import annotations

import json
import os
import tempfile
from importlib import metadata
from pathlib import Path

from vista_sql import cache
from vista_sql.catalog.graph import CnnGraph, Op
from vista_sql.catalog.zoo import CnnSpec

FORMAT = 1  # bump when CnnGraph or what keras_graph reads from a model changes


def directory() -> Path:
    return cache.directory("graphs")


def _path(spec: CnnSpec) -> Path:
    versions = "-".join(_version(package) for package in ("keras", "tensorflow"))
    height, width = spec.input_size
    return directory() / f"{spec.name}-{height}x{width}-{versions}-v{FORMAT}.json"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "none"


_known: dict[Path, CnnGraph] = {}  # read or written by this process: read once


def load(spec: CnnSpec) -> CnnGraph | None:
    path = _path(spec)
    if path not in _known:
        try:
            _known[path] = _decoded(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError, TypeError):
            return None
    return _known[path]


def store(spec: CnnSpec, graph: CnnGraph) -> None:
    """Best effort: a read-only home only means the next process builds the CNN again."""
    path = _path(spec)
    if _known.get(path) is graph:
        return
    _known[path] = graph
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as f:
            json.dump(_encoded(graph), f)
        os.replace(f.name, path)  # whole or not at all, whichever process writes last
    except OSError:
        pass


def _encoded(graph: CnnGraph) -> dict:
    return {
        "ops": [[op.name, op.kind, op.position, op.inputs, op.outputs] for op in graph.ops],
        "inputs": graph.inputs,
        "outputs": graph.outputs,
        "shapes": {tensor: list(shape) for tensor, shape in graph.shapes.items()},
        "listed": graph.listed,
        "layers": dict(graph.layers),
        "flops": dict(graph.flops),
        "parameter_bytes": graph.parameter_bytes,
        "channels_first": sorted(graph.channels_first),
    }


def _decoded(data: dict) -> CnnGraph:
    ops = tuple(
        Op(name, kind, int(position), tuple(inputs), tuple(outputs))
        for name, kind, position, inputs, outputs in data["ops"]
    )
    return CnnGraph(
        ops=ops,
        inputs=tuple(data["inputs"]),
        outputs=tuple(data["outputs"]),
        shapes={tensor: tuple(shape) for tensor, shape in data["shapes"].items()},
        listed=tuple(data["listed"]),
        layers=dict(data["layers"]),
        flops={name: int(count) for name, count in data["flops"].items()},
        parameter_bytes=int(data["parameter_bytes"]),
        channels_first=frozenset(data["channels_first"]),
    )
