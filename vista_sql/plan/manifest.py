"""The MATERIALIZE INTO manifest, `<target>/_vista_manifest.json`: one entry per layer written,
what a later statement checks before loading that layer instead of computing it.

Layout of a target:
    _vista_manifest.json        {"layers": {<layer>: Entry}}, replaced atomically
    <layer>/                    Parquet: the image key column, `features` and `image_version`
                                (`layer_dir` names a layer such as ONNX's "/layer1/Relu_output_0"
                                safely)
    <layer>.v2/, <layer>.v3/    the same layer written again (a refresh): the entry names the
                                version that is current, so a reader sees one or the other
    <layer>/_handover/          Parquet: key and the tensors a staged plan handed on from it
    .<layer>.tmp-*, _vista_manifest.tmp-*   writes in progress (or killed mid-way), never read
    .vista.lock                 held while a statement writes the target

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
# Each row's image as it was when its features were computed: the file's path, length and
# modification time, or a hash of the bytes (execution/image_versions.py).
VERSION = "image_version"
LOCK = ".vista.lock"
TABLE_INFO = "_vista_table.json"  # beside the manifest when the target is a table by name


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
    directory: str = ""  # the current version's directory; "" is layer_dir(layer)
    row_versions: bool = False  # rows carry VERSION: a refresh infers only what changed

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
            present=frozenset(n for n, e in layers.items() if dataset_path(root, n, e).is_dir()),
            handovers=frozenset(
                n for n, e in layers.items() if (dataset_path(root, n, e) / HANDOVER).is_dir()
            ),
        )

    def path(self, layer: str) -> Path:
        """Where the current version of a recorded layer is."""
        return dataset_path(self.root, layer, self.layers[layer])


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
    """A layer's first version (Manifest.path: the current one)."""
    return Path(root) / layer_dir(layer)


def dataset_path(root: str, layer: str, entry: Entry) -> Path:
    return Path(root) / (entry.directory or layer_dir(layer))


def handover_path(root: str, layer: str) -> Path:
    """The hand-over tensors beside the layer's current version."""
    entry = read_strict(root).get(layer) if manifest_path(root).exists() else None
    return (dataset_path(root, layer, entry) if entry else layer_path(root, layer)) / HANDOVER


def fresh_directory(root: str, layer: str) -> str:
    """A directory name for a new version of `layer` that nothing uses yet."""
    first = layer_dir(layer)
    if not (Path(root) / first).exists():
        return first
    n = 2
    while (Path(root) / f"{first}.v{n}").exists():
        n += 1
    return f"{first}.v{n}"


def is_temporary(path: Path) -> bool:
    """What a write in progress (or killed mid-way) leaves: hidden `.<layer>.tmp-*` datasets and
    `_vista_manifest.tmp-*` files, never read as results."""
    return ".tmp-" in path.name and path.name.startswith((".", "_vista_manifest", TABLE_INFO))


def is_ours(path: Path) -> bool:
    """What vista_sql keeps in a target besides layers: its manifest, lock and temporaries."""
    return path.name in (MANIFEST, LOCK, TABLE_INFO) or is_temporary(path)


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
