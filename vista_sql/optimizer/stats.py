"""Statistics the optimizer plans with: counted from Spark (never reading image bytes)."""

from __future__ import annotations

from pyspark.sql import functions as F

from vista_sql.execution.lowering import quoted
from vista_sql.plan.nodes import Statistics, TransferQuery


def _size_in_bytes(frame) -> int:
    # Catalyst's own estimate (file sizes for file sources); what its broadcast decision uses.
    try:
        return int(str(frame._jdf.queryExecution().optimizedPlan().stats().sizeInBytes()))
    except Exception:  # a source without statistics
        return 2**62


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
