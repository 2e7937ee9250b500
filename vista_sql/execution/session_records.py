"""Session records: a TRANSFER without MATERIALIZE INTO still keeps the features it computed, for
the rest of the session, so that a later statement on the same images and CNN (other layers,
another learner, the same statement again) loads them instead of inferring.

Each (CNN, pooling, images relation) gets a directory under the session's root, written and read
exactly as a MATERIALIZE INTO target (manifest, per-image versions, refresh when images change):
the optimizer's reuse logic weighs a session record like any other record. Hand-over tensors are
not kept (a conv block's are tens of times its pooled features). The root lies under Spark's
local directory, is bounded by `vista.session.records.quota` (least recently used directories
go first; the current statement's never), and is deleted when the process ends.
`SET vista.session.records = false` turns it off.
"""

from __future__ import annotations

import atexit
import dataclasses
import hashlib
import os
import shutil
import tempfile
import threading
from pathlib import Path

from vista_sql.plan.nodes import TransferQuery

ENABLED = "vista.session.records"
QUOTA = "vista.session.records.quota"
DEFAULT_QUOTA = 2 * 1024**3
_UNITS = {"k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_roots: dict[int, Path] = {}
_lock = threading.Lock()


def enabled(spark) -> bool:
    return str(spark.conf.get(ENABLED, "true")).strip().lower() not in ("false", "0", "off")


def quota(spark) -> int:
    text = str(spark.conf.get(QUOTA, "") or "").strip().lower().rstrip("b")
    if not text:
        return DEFAULT_QUOTA
    unit = _UNITS.get(text[-1], 1)
    return int(float(text.rstrip("kmgt")) * unit)


def root(spark) -> Path:
    """This session's directory, made on first use under Spark's local directory."""
    with _lock:
        found = _roots.get(id(spark))
        if found is None:
            base = spark.conf.get("spark.local.dir", None) or tempfile.gettempdir()
            base = base.split(",")[0]
            Path(base).mkdir(parents=True, exist_ok=True)
            found = Path(tempfile.mkdtemp(prefix="vista-session-", dir=base))
            atexit.register(shutil.rmtree, found, True)
            _roots[id(spark)] = found
        return found


def applied(spark, query: TransferQuery) -> TransferQuery:
    """The query writing its layers to its session record, when it writes nowhere else."""
    if query.materialize or not enabled(spark):
        return query
    identity = "\0".join((query.cnn.identity(), query.pooling.describe(), query.images.name))
    name = hashlib.sha256(identity.encode()).hexdigest()[:16]
    target = root(spark) / name
    if target.exists():
        os.utime(target)  # the most recently used, last to be evicted
    return dataclasses.replace(query, materialize=str(target), session_record=True)


def usage(spark) -> tuple[int, int]:
    """(bytes the session's records take, the quota)."""
    return sum(_size(d) for d in _records(spark)), quota(spark)


def evict(spark, keep: set[str]) -> list[str]:
    """Remove least recently used records, never those in `keep`, until under the quota."""
    records = sorted(_records(spark), key=lambda d: d.stat().st_mtime)
    sizes = {d: _size(d) for d in records}
    total, limit, removed = sum(sizes.values()), quota(spark), []
    for record in records:
        if total <= limit:
            break
        if str(record) in keep:
            continue
        shutil.rmtree(record, ignore_errors=True)
        total -= sizes[record]
        removed.append(str(record))
    return removed


def _records(spark) -> list[Path]:
    found = _roots.get(id(spark))
    return [d for d in found.iterdir() if d.is_dir()] if found and found.exists() else []


def _size(directory: Path) -> int:
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())
