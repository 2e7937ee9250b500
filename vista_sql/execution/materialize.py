"""MATERIALIZE INTO: one Parquet dataset per layer, published only when complete.

A layer written again (a refresh, or a recompute) goes to a new directory and becomes current
when the manifest names it: a reader sees the old version or the new one, never a mix, and a
refresh reads the old version's rows while it writes the new. One statement at a time writes a
target (an exclusive lock on `.vista.lock`).
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import re
import shutil
import time
import uuid
from pathlib import Path

from pyspark.sql import functions as F

from vista_sql.errors import VistaExecutionError
from vista_sql.execution import lowering, parquet_reads
from vista_sql.plan import manifest
from vista_sql.plan.vocabulary import Join
from vista_sql.spark import remote

# How long a failed write waits for its killed tasks to end before removing what they wrote.
WRITE_TASKS_STOP_SECONDS = 60.0
LATE_WRITE_JOB_SECONDS = 5.0  # from Ctrl-C to the interrupted write's job starting
_abandoned: set[Path] = set()  # temporaries of failed writes, until they are gone for good


@contextlib.contextmanager
def locked(roots):
    """Hold every target in `roots` for one statement; refuse one another statement holds. A
    target that did not exist and got nothing is removed again."""
    with contextlib.ExitStack() as held:
        for root in sorted(set(roots)):
            held.enter_context(_locked(root))
        yield


@contextlib.contextmanager
def _locked(root: str):
    path = Path(root)
    made = not path.exists()
    path.mkdir(parents=True, exist_ok=True)
    lock = path / manifest.LOCK
    with open(lock, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise VistaExecutionError(
                f"MATERIALIZE INTO '{root}' is being written by another statement; "
                "run this one when it has finished"
            ) from None
        try:
            yield
        finally:
            if made and [p.name for p in path.iterdir()] == [manifest.LOCK]:
                shutil.rmtree(path, ignore_errors=True)
            fcntl.flock(handle, fcntl.LOCK_UN)


def record(root: str, layer: str, entry: manifest.Entry) -> None:
    """Make `entry` the layer's current version. The one it replaces stays until sweep_versions:
    this statement's stages may still read it, and this session's feature table view names it."""
    manifest.update(root, lambda layers: layers.__setitem__(layer, entry))


def _publish(frame, target: Path, beside: Path | None = None) -> int:
    """Write `frame` as Parquet to a hidden temporary sibling, then rename it into place; with
    `beside`, that dataset's files are part of it too (linked, or copied across devices). The
    rows it holds, from the files' footers: counting them in Spark took another job per layer
    (a refresh's anti-join again), and one cancelled between publishing and recording would
    have left a version nothing names."""
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
        if beside is not None:
            _link_data_files(beside, staging)
        rows = parquet_reads.rows_in(staging)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
        return rows
    finally:
        if staging.exists():
            # A cancelled write fails before its tasks have stopped; one still running would
            # recreate the directory it writes into after it was removed.
            _abandoned.add(staging)
            remote.wait_for_tasks(spark, WRITE_TASKS_STOP_SECONDS, group)
            shutil.rmtree(staging, ignore_errors=True)


def _link_data_files(source: Path, into: Path) -> None:
    # Names a writer gives are unique per write job; "kept-" keeps them apart from `into`'s own.
    for data in parquet_reads.data_files(source):
        name = data.name if data.name.startswith("kept-") else f"kept-{data.name}"
        try:
            os.link(data, into / name)
        except OSError:
            shutil.copy2(data, into / name)


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


def write_version(frame, q, layer: str, versions, appended=None) -> tuple[str, int]:
    """(directory, rows) of the layer's new version in the statement's MATERIALIZE INTO, its
    rows with their image versions (`versions`: KEY, VERSION); current once `record`ed. All of
    `frame`'s rows, or with `appended` = (the rows its record lacks, the record) just those,
    beside the record's files: nothing it holds is read or written again."""
    if appended is None:
        return _write(frame, q.materialize, layer, q.key, versions, None)
    lacking, record = appended
    return _write(lacking, q.materialize, layer, q.key, versions, Path(record.path))


@contextlib.contextmanager
def removed_unless_recorded(root: str, directory: str):
    """Around recording a version just written: if the block fails before the manifest names
    it (a cancelled statement), the version is deleted, so that only recorded layers remain."""
    try:
        yield
    except BaseException:
        if directory not in _named_versions(root):
            shutil.rmtree(Path(root) / directory, ignore_errors=True)
        raise


def _write(frame, root: str, layer: str, key: str, versions, beside) -> tuple[str, int]:
    directory = manifest.fresh_directory(root, layer)
    target = Path(root) / directory
    target.parent.mkdir(parents=True, exist_ok=True)
    features = frame.select(lowering.KEY, "features").join(versions, lowering.KEY, "left")
    features = features.select(
        F.col(lowering.KEY).alias(key), F.col("features"), F.col(manifest.VERSION)
    )
    return directory, _publish(features, target, beside)


def sweep_versions(root: str, layers) -> None:
    """Delete the versions of `layers` the manifest does not name: superseded ones, and any a
    killed statement wrote but never recorded. Only once a statement succeeded and its views
    name the current versions; a reader elsewhere still on a removed one must query again."""
    named = _named_versions(root)
    for layer in layers:
        first = manifest.layer_dir(layer)
        versions = re.compile(rf"{re.escape(first)}(\.v[0-9]+)?")
        for path in Path(root).iterdir():
            if versions.fullmatch(path.name) and path.name not in named and path.is_dir():
                shutil.rmtree(path, ignore_errors=True)


def _named_versions(root: str) -> set[str]:
    return {entry.directory or manifest.layer_dir(name) for name, entry in _entries(root)}


def _entries(root: str):
    return manifest.read_strict(root).items() if manifest.manifest_path(root).exists() else ()


def entry(q, layer, images_identity: str | None, rows: int, directory: str = "") -> manifest.Entry:
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
        directory=directory,
        row_versions=True,
    )


def load_layer(spark, plan, record, joined=None):
    """Training rows of a recorded layer: this statement's join, split and filters (`joined`,
    when the run already holds them), with the features read back instead of computed."""
    stored = parquet_reads.read(spark, record.path).select(
        F.col(lowering.quoted(record.key)).alias(lowering.KEY), F.col("features")
    )
    if joined is None:
        joined = spark.sql(lowering.baseline_sql(plan))
    if plan.join == Join.BROADCAST:
        # The structured side is small (optimizer/rules/choose_join.py), so are its joined rows:
        # they go to every task and the features never move. Left to Spark, the features were
        # the side it broadcast (under its 10 MB bound at N = 1,000, where the joined rows, not
        # cached yet, were estimated at the images' size): bench/warm.py's recorded-layers
        # statement, A/B twice over 4 repetitions, 123 against 149 machine CPU-s.
        joined = F.broadcast(joined)
    return joined.join(stored, lowering.KEY)
