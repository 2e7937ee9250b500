"""Statistics the optimizer plans with: counted from Spark (never reading image bytes)."""

from __future__ import annotations

import re

from pyspark.sql import functions as F

from vista_sql.execution.lowering import quoted
from vista_sql.plan.nodes import Statistics, TransferQuery
from vista_sql.spark import remote

_UNKNOWN = 2**62
_UNITS = {unit: 1024**i for i, unit in enumerate(("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"))}
_STATS = re.compile(r"Statistics\(sizeInBytes=([\d.E+]+) ([KMGTPE]?i?B)")


def _size_in_bytes(frame) -> int:
    # Catalyst's own estimate (file sizes for file sources); what its broadcast decision uses.
    if remote.is_connect(frame.sparkSession):
        return _explained_size(frame)
    try:
        return int(str(frame._jdf.queryExecution().optimizedPlan().stats().sizeInBytes()))
    except Exception:  # a source without statistics
        return _UNKNOWN


def _explained_size(frame) -> int:
    """The same estimate over Spark Connect, which only hands it out as EXPLAIN COST text."""
    try:
        text = frame._explain_string(mode="cost")
    except Exception:  # noqa: BLE001 - a source without statistics
        return _UNKNOWN
    found = _STATS.search(text)  # the first one is the plan's root
    if not found:
        return _UNKNOWN
    return int(float(found.group(1)) * _UNITS[found.group(2)])


def gather(spark, query: TransferQuery, baseline_sql: str) -> Statistics:
    """Row counts of both sides and of the join; `length()` of a binary column reads no pixels."""
    images = spark.table(query.images.name)
    counts = images.select(
        F.count(F.lit(1)).alias("n"), F.avg(F.length(F.col(quoted(query.image)))).alias("avg")
    ).first()
    joined = spark.sql(baseline_sql).count()
    return Statistics(
        images=int(counts["n"] or 0),
        joined=int(joined),
        structured_bytes=_size_in_bytes(spark.table(query.structured.name)),
        image_bytes=int(counts["avg"] or 0),
    )
