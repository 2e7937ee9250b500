"""What earlier MATERIALIZE INTO statements recorded, as Spark sees it: the identity of the images
a record was computed from, the session's list of targets to look in, and the rows a record holds.

Whether a record may stand in for a layer is the optimizer's call (optimizer/recorded.py); this
module only reads what that call needs from the session and the files.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from urllib.parse import unquote, urlparse

from pyspark.sql import functions as F

from vista_sql.execution import parquet_reads
from vista_sql.plan.columns import KEY, quoted
from vista_sql.plan.nodes import TransferQuery
from vista_sql.spark import remote

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
        files = remote.input_files(frame)
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


def missing_rows(spark, path: str, key: str, needed) -> int:
    """Keys of `needed` (a frame of KEY) the recorded dataset at `path` has no row for."""
    stored = parquet_reads.read(spark, path).select(F.col(quoted(key)).alias(KEY))
    return needed.join(stored, KEY, "left_anti").count()
