"""The views a run's SQL reads besides its images and table, made before any stage and dropped
when the run ends: the recorded datasets (read with the schema their footers hold), every
image's version and, for a refresh, the keys it infers."""

from __future__ import annotations

from pyspark.sql import functions as F

from vista_sql.execution import image_versions, lowering, parquet_reads

# Up to this many stale keys known on the driver are a literal IN list (one py4j call each).
STALE_LITERALS = 1_000


class RunViews:
    def __init__(self, spark, plan, statement_id: int):
        self.spark, self.plan, self.statement_id = spark, plan, statement_id
        self.image_versions = None  # (KEY, VERSION) of every image, as the run found them
        self._made: list[tuple] = []  # (cached frame or None, view), to drop at the end

    def make(self) -> None:
        for view, path in lowering.datasets(self.plan, self.statement_id).items():
            parquet_reads.read(self.spark, path).createOrReplaceTempView(view)
            self._made.append((None, view))
        self._versions()

    def _versions(self) -> None:
        """Note every image's version once, before any inference: what MATERIALIZE records
        beside the features and what a refresh compares the records with. Taken first, so an
        image changed during the run reads as changed next time."""
        plan, statement_id = self.plan, self.statement_id
        if not plan.query.materialize and plan.refresh is None:
            return
        frame = image_versions.frame(self.spark, plan.query).cache()
        frame.count()
        frame.createOrReplaceTempView(lowering.versions_view(statement_id))
        self._made.append((frame, lowering.versions_view(statement_id)))
        self.image_versions = frame
        if plan.refresh is None:
            return
        # Every stage and every refreshed layer's rows read it: computed once.
        known = [r.stale_keys for r in plan.refreshed]
        union = None if None in known else frozenset().union(*known)
        if union is not None and len(union) <= STALE_LITERALS:
            # Compared on the driver already: a filter, not Spark's EXCEPT of the records.
            stale = frame.where(F.col(lowering.KEY).isin(sorted(union))).select(lowering.KEY)
        else:
            stale = self.spark.sql(lowering.to_sql(lowering.stale_keys(plan, statement_id)))
        stale = stale.cache()
        stale.createOrReplaceTempView(lowering.stale_view(statement_id))
        self._made.append((stale, lowering.stale_view(statement_id)))

    def drop(self) -> None:
        """Latest first: the stale keys are read from the versions."""
        for frame, view in reversed(self._made):
            self.spark.catalog.dropTempView(view)
            if frame is not None:
                frame.unpersist()
        self._made.clear()
