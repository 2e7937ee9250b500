"""Finding the layers earlier MATERIALIZE INTO statements wrote, and whether each may stand in
for a layer this statement asks for.

A record is usable only when it was computed by the same CNN (weights identity), layer and
pooling, from images that have not changed since (same files, sizes, modification times, view
definition and row count), and it holds a row for every key this statement trains on. Candidates
come from the statement's own MATERIALIZE INTO target (so re-running a statement resumes) and
from the paths in the session's `vista.reuse.paths` (every target written in this session is
added there; users may list others).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

from pyspark.sql import functions as F

from vista_sql.catalog import models, staging
from vista_sql.execution.lowering import KEY, quoted
from vista_sql.plan.materialize_target import MANIFEST
from vista_sql.plan.nodes import RecordedLayer, TransferQuery

REUSE_PATHS = "vista.reuse.paths"
_EXPRESSION_IDS = re.compile(r"#\d+L?")


def reuse_paths(spark) -> list[str]:
    value = spark.conf.get(REUSE_PATHS, "") or ""
    return [path for path in value.split(",") if path]


def remember(spark, root: str) -> None:
    """Offer `root` to later statements of this session."""
    paths = reuse_paths(spark)
    if root not in paths:
        spark.conf.set(REUSE_PATHS, ",".join([*paths, root]))


def images_identity(spark, query: TransferQuery, rows: int) -> str | None:
    """A digest that changes when the images could have; None when that cannot be known."""
    frame = spark.table(query.images.name)
    try:
        files = frame.inputFiles()
    except Exception:
        return None
    entries = []
    for uri in sorted(files):
        parsed = urlparse(uri)
        if parsed.scheme not in ("file", ""):
            return None  # no cheap, trustworthy modification time off the local disk
        stat = os.stat(unquote(parsed.path))
        entries.append((uri, stat.st_size, stat.st_mtime_ns))
    if not entries:
        return None  # in-memory data: nothing tells whether it changed
    try:
        # The view's definition too: the same files read another way are other images per key.
        definition = _EXPRESSION_IDS.sub("", frame._jdf.queryExecution().analyzed().toString())
    except Exception:
        definition = ""
    digest = json.dumps([rows, definition, entries]).encode()
    return hashlib.sha256(digest).hexdigest()[:32]


def _manifest(root: str) -> dict:
    try:
        return json.loads((Path(root) / MANIFEST).read_text())["layers"]
    except (OSError, ValueError, KeyError):
        return {}


def _problem(entry: dict, query: TransferQuery, identity: str | None, path: Path) -> str | None:
    if entry.get("cnn") != query.cnn.identity():
        return f"computed by another CNN or weights ({entry.get('cnn')})"
    if entry.get("pooling") != query.pooling.describe():
        return f"pooled {entry.get('pooling')}"
    if identity is None:
        return "the images' identity cannot be established (not files on the local disk)"
    if entry.get("images_identity") != identity:
        return "the images changed since it was written"
    if not path.is_dir():
        return "its files are gone"
    return None


def _handover_inputs(query: TransferQuery, layer: str, stored: tuple[str, ...]):
    """Positions, among the stored hand-over tensors, of those this statement's deeper layers
    need; None when it needs one that was not stored (or has no deeper layer)."""
    deepest = query.layers[-1].name
    if not stored or layer == deepest:
        return None
    cut = staging.plan_cuts(models.model_for(query.cnn), [layer, deepest])[0]
    needed = [cut.outputs[i] for i in cut.frontier]
    if not set(needed) <= set(stored):
        return None
    return tuple(stored.index(name) for name in needed)


def find(spark, query: TransferQuery, rows: int, baseline_sql: str) -> tuple[RecordedLayer, ...]:
    """One entry per requested layer that some manifest records: the first usable one found."""
    roots = [r for r in [query.materialize, *reuse_paths(spark)] if r]
    entries = {root: _manifest(root) for root in dict.fromkeys(roots)}
    if not any(entries.values()):
        return ()
    identity = images_identity(spark, query, rows)
    needed = spark.sql(baseline_sql).select(KEY)
    found: list[RecordedLayer] = []
    for layer in query.layers:
        candidates = []
        for root, layers in entries.items():
            entry = layers.get(layer.name)
            if entry is None:
                continue
            path = Path(root) / layer.name
            stored = tuple(entry.get("handover") or ()) if (path / "_handover").is_dir() else ()
            inputs = _handover_inputs(query, layer.name, stored)
            record = RecordedLayer(
                layer,
                str(path),
                entry.get("key", query.key),
                int(entry.get("rows", 0)),
                handover=stored if inputs is not None else (),
                handover_inputs=inputs or (),
            )
            problem = _problem(entry, query, identity, path)
            if problem is None:
                stored = spark.read.parquet(str(path)).select(F.col(quoted(record.key)).alias(KEY))
                missing = needed.join(stored, KEY, "left_anti").count()
                if missing:
                    problem = f"lacks {missing} of the rows this statement needs"
            candidates.append(dataclasses.replace(record, problem=problem))
            if problem is None:
                break
        if candidates:
            found.append(candidates[-1])
    return tuple(found)
