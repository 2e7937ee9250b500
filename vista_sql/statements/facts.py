"""Everything the optimizer plans a TRANSFER with, read from the session: row counts and sizes,
the resources it runs on (this machine, or the cluster's executors), its task slots and storage
memory, and the layers earlier MATERIALIZE INTO statements recorded.

The optimizer itself never touches Spark (optimizer/planner.py takes these as values, so tests
inject them); this module is the one place they are gathered.

On a cluster the optimizer plans per executor: its cores, its memory (JVM heap + memoryOverhead +
pyspark memory, what YARN and Kubernetes give its container) and how many executors there are.
A classic session asks the driver's status store (executors register a moment after the session
starts, so it waits for them briefly); a Spark Connect session has no driver at hand, so the
numbers come from the server's configuration.
"""

from __future__ import annotations

import dataclasses
import re
import time
from dataclasses import dataclass

from pyspark.sql import functions as F
from pyspark.sql.types import IntegralType, StringType

from vista_sql.execution import checks, image_versions, lowering, parquet_reads
from vista_sql.execution import recorded as records_on_disk
from vista_sql.optimizer import recorded
from vista_sql.optimizer import resources as machines
from vista_sql.optimizer.config import MIB, Resources
from vista_sql.plan import nodes
from vista_sql.plan.columns import KEY, quoted
from vista_sql.plan.manifest import VERSION, Manifest
from vista_sql.plan.nodes import UNKNOWN_SIZE, RecordedLayer, Statistics, TransferQuery
from vista_sql.spark import remote

OVERHEAD_MIN_MIB = 384  # spark.executor.minMemoryOverhead's default
REGISTER_WAIT = 30.0  # seconds to wait for the first executors of a fresh cluster session
_seen: dict[str, list[int]] = {}  # application id -> executor cores last found stable
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)b?\s*$", re.IGNORECASE)
_UNITS = {unit: 1024**i for i, unit in enumerate(("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"))}
_STATS = re.compile(r"Statistics\(sizeInBytes=([\d.E+]+) ([KMGTPE]?i?B)")


@dataclass(frozen=True)
class Facts:
    """The values optimizer.planner.plan takes besides the query (its keyword arguments)."""

    statistics: Statistics
    resources: Resources
    slots: int | None  # tasks one node runs side by side, None when unknown
    storage_limit: int | None  # storage memory the session's block managers really have
    records: tuple[RecordedLayer, ...]
    counts: checks.Counts  # the joined rows, also read by the checks and the run

    def arguments(self) -> dict:
        """planner.plan's keyword arguments."""
        planned = ("statistics", "resources", "slots", "storage_limit", "records")
        return {name: getattr(self, name) for name in planned}


def gather(
    spark, query: TransferQuery, counts: checks.Counts | None = None, labels: bool = True
) -> Facts:
    """What the planner needs for `query`; `counts` when already counted (they do not depend
    on the CNN, so a statement comparing CNNs counts them once); `labels=False` for an
    extraction, which needs no label statistics."""
    relist(spark, query.images.name)
    resources = of_session(spark)
    slots = task_slots(spark, resources)
    baseline = lowering.baseline_sql(nodes.draft(query))
    counts = counts or checks.count(spark, query, baseline, labels)
    statistics = Statistics(
        images=counts.image_rows,
        joined=counts.rows,
        structured_bytes=_size_in_bytes(spark.table(query.structured.name)),
        image_bytes=counts.image_bytes,
    )
    found = ()
    if dict(query.options).get("reuse", True):
        found = find_records(spark, query, statistics.images, baseline, counts.needed_keys)
    return Facts(statistics, resources, slots, session_storage(spark), found, counts)


# -- statistics: counted, never reading image bytes ----------------------------------------------


def relist(spark, relation: str) -> None:
    """List the files behind `relation` again (REFRESH TABLE): Spark keeps a view's file listing
    from when the view was made, and a statement re-run over a folder that gained or lost images
    must see them as they are now. A relation with nothing to refresh is left as it is."""
    try:
        spark.catalog.refreshTable(relation)
    except Exception:  # noqa: BLE001 - e.g. a source whose catalog does not refresh
        pass


def count(spark, query: TransferQuery, baseline_sql: str) -> Statistics:
    """Row counts of both sides and of the join (PREDICT WITH's, which has no label to check)."""
    images = spark.table(query.images.name)
    joined = spark.sql(baseline_sql).count()
    return Statistics(
        images=images.count(),
        joined=int(joined),
        structured_bytes=_size_in_bytes(spark.table(query.structured.name)),
        image_bytes=checks.average_image_bytes(images, query.image),
    )


def _size_in_bytes(frame) -> int:
    # Catalyst's own estimate (file sizes for file sources); what its broadcast decision uses.
    if remote.is_connect(frame.sparkSession):
        return _explained_size(frame)
    try:
        return int(str(frame._jdf.queryExecution().optimizedPlan().stats().sizeInBytes()))
    except Exception:  # a source without statistics
        return UNKNOWN_SIZE


def _explained_size(frame) -> int:
    """The same estimate over Spark Connect, which only hands it out as EXPLAIN COST text."""
    try:
        text = frame._explain_string(mode="cost")
    except Exception:  # noqa: BLE001 - a source without statistics
        return UNKNOWN_SIZE
    found = _STATS.search(text)  # the first one is the plan's root
    if not found:
        return UNKNOWN_SIZE
    return int(float(found.group(1)) * _UNITS[found.group(2)])


# -- layers earlier MATERIALIZE INTO statements recorded -----------------------------------------


def find_records(
    spark, query: TransferQuery, rows: int, baseline_sql: str, needed_keys: frozenset | None = None
) -> tuple[RecordedLayer, ...]:
    """One entry per requested layer that some manifest records. A record that needs no
    inference (unversioned and current) is taken as found; among versioned ones, all are compared
    with the images and the one leaving the fewest images to infer wins (the statement's own
    target on a tie): the session accumulates records of other image sets for the same CNN and
    layer, and the first one listed may hold none of these images. Candidates come from the
    statement's own target (so re-running a statement resumes) and from the session's
    `vista.reuse.paths`. `needed_keys`: the joined rows' keys, when counting collected them."""
    roots = [r for r in [query.materialize, *records_on_disk.reuse_paths(spark)] if r]
    manifests = [Manifest.read(root) for root in dict.fromkeys(roots)]
    if not any(m.layers for m in manifests):
        return ()
    identity = records_on_disk.images_identity(spark, query, rows)
    needed = spark.sql(baseline_sql).select(KEY)
    chosen: list[RecordedLayer] = []
    rivals: dict[int, list[RecordedLayer]] = {}  # position in `chosen` -> its versioned records
    for layer in query.layers:
        candidates, versioned = [], []
        for manifest in manifests:
            record = recorded.candidate(query, manifest, layer, identity)
            if record is None:
                continue
            if record.problem is None and record.versioned:
                versioned.append(record)
                continue
            if record.problem is None:
                missing = records_on_disk.missing_rows(spark, record.path, record.key, needed)
                if missing:
                    problem = f"lacks {missing} of the rows this statement needs"
                    record = dataclasses.replace(record, problem=problem)
            candidates.append(record)
            if record.problem is None:
                break
        if versioned and not (candidates and candidates[-1].problem is None):
            rivals[len(chosen)] = versioned
            chosen.append(versioned[0])
        elif candidates:
            chosen.append(candidates[-1])
    if rivals:
        compared = iter(
            _compared(
                spark,
                [r for group in rivals.values() for r in group],
                needed,
                query,
                here=rows <= checks.LOCAL_ROWS,
                needed_keys=needed_keys,
            )
        )
        for position, group in rivals.items():
            ranked = [next(compared) for _ in group]
            # min keeps the first listed (the statement's own target) on a tie
            chosen[position] = min(ranked, key=lambda r: r.new + r.changed)
    return tuple(chosen)


def _compared(
    spark, records: list[RecordedLayer], needed, query, here: bool, needed_keys=None
) -> list[RecordedLayer]:
    """`records`, each with the statement's images it lacks (new), holds for another version
    of the image (changed) and holds for no image the statement needs (removed), all counted at
    once, the images' versions read once. `here`: few enough rows to count on the driver from one
    scan of the records' (key, version) pairs, as checks.count counts the joined rows."""
    # Distinct: a key the join repeats is still one image.
    now = needed.distinct().join(image_versions.frame(spark, query), KEY)
    now = now.select(KEY, F.col(VERSION).alias("now"))
    stored = None
    for i, record in enumerate(records):
        rows = parquet_reads.read(spark, record.path).select(
            F.lit(i).alias("record"),
            F.col(quoted(record.key)).alias(KEY),
            F.col(VERSION).alias("was"),
        )
        stored = rows if stored is None else stored.unionByName(rows)
    if needed_keys is not None:  # the join's keys are at hand: only the versions are read
        versions = image_versions.frame(spark, query).collect()
        current = {key: version for key, version in versions if key in needed_keys}
        counted, needed_rows = _counted_here(current, stored)
    elif here and isinstance(now.schema[KEY].dataType, IntegralType | StringType):
        counted, needed_rows = _counted_here(dict(now.collect()), stored)
    else:
        counted, needed_rows = _counted_by_spark(now, stored)
    compared = []
    for i, record in enumerate(records):
        rows, removed, changed, *stale = counted.get(i, (0, 0, 0))
        compared.append(
            dataclasses.replace(
                record,
                new=needed_rows - (rows - removed),  # the needed images it holds no row for
                changed=int(changed),
                removed=int(removed),
                rows=int(rows),
                stale_keys=stale[0] if stale else None,
            )
        )
    return compared


def _counted_here(current: dict, stored) -> tuple[dict, int]:
    """Per record: (rows, removed, changed, the needed keys it lacks as they are now), and the
    needed images, from one scan of the records' keys and versions compared here with
    `current` (key → version of the images needed): the aggregate below costs eight jobs under
    adaptive execution (a shuffle is one)."""
    counted: dict[int, list[int]] = {}
    held: dict[int, dict] = {}
    for record, key, was in stored.collect():
        tally = counted.setdefault(record, [0, 0, 0])
        held.setdefault(record, {})[key] = was
        tally[0] += 1
        now = current.get(key)
        if now is None:  # as after the left join: no version now is no image now
            tally[1] += 1
        elif now != was:
            tally[2] += 1
    for record, versions in held.items():
        stale = frozenset(k for k, now in current.items() if versions.get(k) != now)
        counted[record].append(stale)
    return {record: tuple(tally) for record, tally in counted.items()}, len(current)


def _counted_by_spark(now, stored) -> tuple[dict, int]:
    now = now.cache()
    try:
        gone, current = F.col("now").isNull(), F.col("now").eqNullSafe(F.col("was"))

        def how_many(condition):
            return F.sum(F.when(condition, 1).otherwise(0))

        counted = {
            row["record"]: (row["rows"], row["removed"], row["changed"])
            for row in stored.join(now, KEY, "left")
            .groupBy("record")
            .agg(
                F.count(F.lit(1)).alias("rows"),
                how_many(gone).alias("removed"),
                how_many(~gone & ~current).alias("changed"),
            )
            .collect()
        }
        return counted, now.count()
    finally:
        now.unpersist()


# -- resources: this machine or the cluster's executors ------------------------------------------


def session_storage(spark) -> int | None:
    """Storage memory the running session's block managers really have."""
    try:
        status = spark.sparkContext._jsc.sc().getExecutorMemoryStatus()
        values = status.valuesIterator()
        total = 0
        while values.hasNext():
            total += int(values.next()._1())
        return total or None
    except Exception:  # Spark Connect and other sessions without the JVM at hand
        return None


def of_session(spark) -> Resources:
    master = _conf(spark, "spark.master") or "local[*]"
    if master.startswith("local"):
        return machines.machine()
    executors, cores, source = _executors(spark)
    heap = jvm_bytes(_conf(spark, "spark.executor.memory"), default_mib=1024)
    overhead = _conf(spark, "spark.executor.memoryOverhead")
    factor = float(_conf(spark, "spark.executor.memoryOverheadFactor") or 0.1)
    floor = jvm_bytes(
        _conf(spark, "spark.executor.minMemoryOverhead"), default_mib=OVERHEAD_MIN_MIB
    )
    overhead_bytes = jvm_bytes(overhead) if overhead else max(floor, int(factor * heap))
    pyspark = jvm_bytes(_conf(spark, "spark.executor.pyspark.memory"))
    return Resources(
        cores=cores,
        memory=heap + overhead_bytes + pyspark,
        nodes=executors,
        executor=True,
        gpus=float(_conf(spark, "spark.executor.resource.gpu.amount") or 0),
        source=source,
    )


def task_slots(spark, resources: Resources) -> int | None:
    """Tasks one node runs side by side (None when unknown)."""
    if resources.executor:
        return max(1, resources.cores // int(_conf(spark, "spark.task.cpus") or 1))
    return remote.default_parallelism(spark)


def _executors(spark) -> tuple[int, int, str]:
    """(executors, cores per executor, where that came from)."""
    cores_conf = _conf(spark, "spark.executor.cores")
    jvm = remote.jvm_context(spark)
    if jvm is not None:
        found = _registered(jvm)
        if found:
            cores = int(cores_conf) if cores_conf else min(found)
            return len(found), cores, "registered executors"
    cores = int(cores_conf) if cores_conf else 1
    instances = _conf(spark, "spark.executor.instances")
    maximum = _conf(spark, "spark.cores.max")
    if instances:
        return int(instances), cores, "spark.executor.instances"
    if maximum and cores_conf:
        return max(1, int(maximum) // cores), cores, "spark.cores.max / spark.executor.cores"
    return 1, cores, "unknown: set spark.executor.instances and spark.executor.cores"


def _registered(jvm) -> list[int]:
    """Cores of each executor registered with the driver, waiting for the first to arrive."""
    deadline = time.monotonic() + REGISTER_WAIT
    previous = _seen.get(jvm.applicationId(), [])
    while True:
        cores = []
        listing = jvm.statusStore().executorList(True).iterator()
        while listing.hasNext():
            summary = listing.next()
            if summary.id() != "driver":
                cores.append(int(summary.totalCores()))
        # Executors of one application register within a second or two of each other; the
        # count seen by an earlier statement needs no second look.
        if cores and len(cores) == len(previous):
            _seen[jvm.applicationId()] = cores
            return cores
        if time.monotonic() > deadline:
            return cores
        previous = cores
        time.sleep(1.0)


def _conf(spark, key: str) -> str | None:
    try:
        value = spark.conf.get(key, None)
    except Exception:  # noqa: BLE001 - a key the server refuses to show reads as unset
        return None
    return value or None


def jvm_bytes(value: str | None, default_mib: int = 0) -> int:
    """A JVM size ('2g', '512m', '1024' = MiB, as Spark reads executor memory) in bytes."""
    if not value:
        return default_mib * MIB
    found = _SIZE.match(value)
    if not found:
        raise ValueError(f"cannot read memory size '{value}'")
    number, unit = float(found.group(1)), (found.group(2) or "m").lower()
    return int(number * 1024 ** "kmgtp".index(unit) * 1024)
