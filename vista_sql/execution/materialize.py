"""MATERIALIZE INTO: one Parquet dataset per layer, published only when complete."""

from __future__ import annotations

import glob
import os
import shutil
import time
import uuid
from pathlib import Path

from pyspark.sql import functions as F

from vista_sql.execution import lowering
from vista_sql.plan import manifest
from vista_sql.spark import remote

# How long a failed write waits for its killed tasks to end before removing what they wrote.
WRITE_TASKS_STOP_SECONDS = 60.0
LATE_WRITE_JOB_SECONDS = 5.0  # from Ctrl-C to the interrupted write's job starting
_abandoned: set[Path] = set()  # temporaries of failed writes, until they are gone for good


def record(root: str, layer: str, entry: manifest.Entry) -> None:
    """Note a complete layer in the manifest."""
    manifest.update(root, lambda layers: layers.__setitem__(layer, entry))


def _publish(frame, target: Path) -> None:
    """Write `frame` as Parquet to a hidden temporary sibling, then rename it into place."""
    # A driver killed mid-write leaves its temporary sibling behind: never visible, now redundant.
    for stale in target.parent.glob(f".{glob.escape(target.name)}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    token = uuid.uuid4().hex[:8]
    staging = target.parent / f".{target.name}.tmp-{token}"
    spark = frame.sparkSession
    group = f"vista-write-{token}"
    try:
        try:
            with remote.job_group(spark, group, f"vista_sql: write {target.name}"):
                frame.write.parquet(str(staging))
        except KeyboardInterrupt:
            # The JVM may not have created `staging` or started the write's job yet: it would
            # do both after the cleanup below.
            remote.cancel_late_jobs(spark, group, LATE_WRITE_JOB_SECONDS)
            raise
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        if staging.exists():
            # A cancelled write fails before its tasks have stopped; one still running would
            # recreate the directory it writes into after it was removed.
            _abandoned.add(staging)
            remote.wait_for_tasks(spark, WRITE_TASKS_STOP_SECONDS, group)
            shutil.rmtree(staging, ignore_errors=True)


def sweep_abandoned(spark=None) -> None:
    """Remove again what failed writes left, once no task runs any more (`spark` None: the
    session has stopped). CI found a cancelled write's temporary recreated after its own cleanup
    had waited for the write's tasks; whatever made it, it was made before every task ended."""
    if not _abandoned:
        return
    if spark is not None:
        remote.wait_for_tasks(spark, WRITE_TASKS_STOP_SECONDS)
    for path in list(_abandoned):
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            _abandoned.discard(path)


def write_handover(spark, root: str, layer: str, table: str, names) -> None:
    """Keep the tensors a staged plan hands on from `layer` (its stage table), so a re-run or a
    later statement can continue from them instead of from the images."""
    out = lowering.quoted(lowering.OUT)
    frame = spark.table(lowering.quoted(table)).where(F.col(f"{out}.error").isNull())
    tensors = F.col(f"{out}.tensors").alias("tensors")
    target = manifest.handover_path(root, layer)
    _publish(frame.select(F.col(lowering.quoted(lowering.KEY)), tensors), target)
    manifest.set_handover(root, layer, names)


def drop_handover(root: str, layer: str) -> None:
    """Once a deeper layer's tensors are kept, a shallower layer's are never the better start.
    Only called once the statement is done: its stage views still name the files until then."""
    manifest.forget_handover(root, layer)
    shutil.rmtree(manifest.handover_path(root, layer), ignore_errors=True)


def write_layer(frame, root: str, layer: str, key: str) -> Path:
    """Write `<root>/<layer>/` with columns `<key>` and `features`."""
    target = manifest.layer_path(root, layer)
    target.parent.mkdir(parents=True, exist_ok=True)
    features = frame.selectExpr(
        f"{lowering.quoted(lowering.KEY)} AS {lowering.quoted(key)}", "features"
    )
    _publish(features, target)
    return target


def entry(q, layer, images_identity: str | None, rows: int) -> manifest.Entry:
    """What a later statement checks before loading this layer instead of computing it."""
    return manifest.Entry(
        cnn=q.cnn.identity(),
        layer=layer.name,
        pooling=q.pooling.describe(),
        feature_dim=layer.feature_dim,
        images=q.images.name,
        images_identity=images_identity,
        key=q.key,
        rows=rows,
        written_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )


def load_layer(spark, plan, record):
    """Training rows of a recorded layer: this statement's join, split and filters, with the
    features read back instead of computed."""
    stored = spark.read.parquet(record.path).select(
        F.col(lowering.quoted(record.key)).alias(lowering.KEY), F.col("features")
    )
    return spark.sql(lowering.baseline_sql(plan)).join(stored, lowering.KEY)
