"""MATERIALIZE INTO: one Parquet dataset per layer, published only when complete."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

from vista_sql.execution import lowering
from vista_sql.plan.materialize_target import MANIFEST


def record(root: str, layer: str, entry: dict) -> None:
    """Note a complete layer in the manifest, replacing the file atomically."""
    manifest = Path(root) / MANIFEST
    layers = json.loads(manifest.read_text())["layers"] if manifest.exists() else {}
    layers[layer] = entry
    staging = manifest.with_suffix(f".tmp-{uuid.uuid4().hex[:8]}")
    staging.write_text(json.dumps({"layers": layers}, indent=2, sort_keys=True))
    os.replace(staging, manifest)


def write_layer(frame, root: str, layer: str, key: str) -> Path:
    """Write `<root>/<layer>/` with columns `<key>` and `features` via a temporary sibling."""
    target = Path(root) / layer
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{layer}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        frame.selectExpr(
            f"{lowering.quoted(lowering.KEY)} AS {lowering.quoted(key)}", "features"
        ).write.parquet(str(staging))
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target
