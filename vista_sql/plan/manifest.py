"""The MATERIALIZE INTO manifest, `<target>/_vista_manifest.json`: one entry per layer written,
what a later statement checks before loading that layer instead of computing it.

Layout of a target:
    _vista_manifest.json        {"layers": {<layer>: Entry}}, replaced atomically
    <layer>/                    Parquet: the image key column and `features` (`layer_dir` names
                                a layer such as ONNX's "/layer1/Relu_output_0" safely)
    <layer>/_handover/          Parquet: key and the tensors a staged plan handed on from it
    .<layer>.tmp-*, _vista_manifest.tmp-*   writes in progress (or killed mid-way), never read

Plain JSON and files: the writer (execution/materialize.py), the optimizer (which only sees a
`Manifest` value) and the bind-time target check all go through this module.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST = "_vista_manifest.json"
HANDOVER = "_handover"  # inside a layer's directory: hidden from readers of its features


@dataclass(frozen=True)
class Entry:
    """One recorded layer. Fields an older or foreign manifest lacks read as unknown."""

    cnn: str | None = None  # the CNN and weights identity (ModelRef.identity())
    layer: str = ""
    pooling: str | None = None
    feature_dim: int = 0
    images: str = ""  # the images relation's name, for people reading the file
    images_identity: str | None = None
    key: str | None = None
    rows: int = 0
    written_at: str = ""
    handover: tuple[str, ...] = ()  # names of the hand-over tensors kept in <layer>/_handover

    def to_json(self) -> dict:
        data = dataclasses.asdict(self)
        data["handover"] = list(self.handover)
        if not self.handover:
            del data["handover"]
        return data

    @classmethod
    def from_json(cls, data: dict) -> Entry:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["handover"] = tuple(values.get("handover") or ())
        values["rows"] = int(values.get("rows") or 0)
        return cls(**values)


@dataclass(frozen=True)
class Manifest:
    """A target's manifest as read at one moment, with which of its datasets were on disk."""

    root: str
    layers: Mapping[str, Entry] = field(default_factory=dict)
    present: frozenset[str] = frozenset()  # layers whose dataset directory exists
    handovers: frozenset[str] = frozenset()  # layers whose hand-over directory exists

    @classmethod
    def read(cls, root: str) -> Manifest:
        """The manifest under `root`; empty when there is none or it cannot be read."""
        try:
            layers = read_strict(root)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return cls(root)
        return cls(
            root,
            layers,
            present=frozenset(n for n in layers if layer_path(root, n).is_dir()),
            handovers=frozenset(n for n in layers if handover_path(root, n).is_dir()),
        )


def read_strict(root: str) -> dict[str, Entry]:
    """The manifest's entries, raising what reading it raised (Manifest.read reads that as
    empty)."""
    raw = json.loads(manifest_path(root).read_text())["layers"]
    return {name: Entry.from_json(entry) for name, entry in raw.items()}


def manifest_path(root: str) -> Path:
    return Path(root) / MANIFEST


# What a directory name may hold on every file system and in a Hadoop path (no '/', ':', '%').
_UNSAFE = re.compile(r"[^A-Za-z0-9_.=-]")


def layer_dir(layer: str) -> str:
    """A layer's directory name: the name itself when it is safe (every Keras layer's), else its
    safe characters and a hash of the whole name, so that two names never share a directory and
    none starts with the '.' or '_' that Spark's readers skip."""
    safe = _UNSAFE.sub("_", layer).lstrip("._")
    if safe == layer:
        return layer
    return f"{safe[-60:] or 'layer'}-{hashlib.sha256(layer.encode()).hexdigest()[:10]}"


def layer_path(root: str, layer: str) -> Path:
    return Path(root) / layer_dir(layer)


def handover_path(root: str, layer: str) -> Path:
    return layer_path(root, layer) / HANDOVER


def is_temporary(path: Path) -> bool:
    """What a write in progress (or killed mid-way) leaves: hidden `.<layer>.tmp-*` datasets and
    `_vista_manifest.tmp-*` files, never read as results."""
    return ".tmp-" in path.name and path.name.startswith((".", "_vista_manifest"))


def update(root: str, change: Callable[[dict[str, Entry]], None]) -> None:
    """Apply `change` to the manifest's entries, replacing the file atomically."""
    target = manifest_path(root)
    # A manifest that cannot be read fails the write rather than being replaced by a blank one.
    layers = read_strict(root) if target.exists() else {}
    change(layers)
    staging = target.with_suffix(f".tmp-{uuid.uuid4().hex[:8]}")
    data = {name: entry.to_json() for name, entry in layers.items()}
    staging.write_text(json.dumps({"layers": data}, indent=2, sort_keys=True))
    os.replace(staging, target)


def set_handover(root: str, layer: str, names) -> None:
    """Note the hand-over tensors kept beside `layer`."""

    def keep(layers: dict) -> None:
        layers[layer] = dataclasses.replace(layers[layer], handover=tuple(names))

    update(root, keep)


def forget_handover(root: str, layer: str) -> None:
    def forget(layers: dict) -> None:
        if layer in layers:
            layers[layer] = dataclasses.replace(layers[layer], handover=())

    update(root, forget)
