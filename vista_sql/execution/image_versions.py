"""Each image's version: what MATERIALIZE INTO records beside its features, and what a later
statement compares with it to infer only the images that are new or changed.

Images read through a `binaryFile` view (directly, or through views that only project and
filter it) are versioned by their file's path, length and modification time: local files are
stat'ed here from one scan of (key, file name), others read by a second, metadata-only scan of
the same files. No image byte is read. Any other source is versioned by a SHA-256 of the bytes,
computed in Spark. Either way nothing but keys, file names and versions leaves Spark.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
from urllib.parse import unquote, urlparse

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from vista_sql.plan.columns import KEY, quoted
from vista_sql.plan.manifest import VERSION
from vista_sql.plan.nodes import TransferQuery
from vista_sql.spark import remote

_FILE = "__vista_file"
# Up to this many image files are stat'ed here rather than by a metadata scan in Spark.
LOCAL_FILES = 100_000
# Operators that keep each row next to the file it was read from, so that input_file_name()
# above them still names that file (a shuffle or an aggregate in between would blank it).
_ROW_PRESERVING = {"Project", "Filter", "SubqueryAlias", "View"}
_NODE = re.compile(r"^[\s:|+-]*(\w+)")


# Within a statement (`held`): its images' versions by relation, cached when first read, so the
# comparison with the records and the run's own use read the files' metadata once.
_held: contextvars.ContextVar[dict | None] = contextvars.ContextVar("vista_versions", default=None)


@contextlib.contextmanager
def held():
    """Read each images relation's versions at most once until the block ends."""
    token = _held.set({})
    try:
        yield
    finally:
        for versions in _held.get().values():
            versions.unpersist()
        _held.reset(token)


def frame(spark, query: TransferQuery) -> DataFrame:
    """(KEY, VERSION) for every key of the statement's images relation, once: the versions of
    several images under one key are joined into one."""
    known = _held.get()
    name = (query.images.name, query.key, query.image)
    if known is not None and name in known:
        return known[name]
    versions = _stated_here(spark, query)
    if versions is None:
        versions = _per_row(spark, query)
        joined = F.array_join(F.sort_array(F.collect_list(VERSION)), " ")
        versions = versions.groupBy(KEY).agg(joined.alias(VERSION))
    if known is not None:
        known[name] = versions = versions.cache()
    return versions


def _per_row(spark, query: TransferQuery) -> DataFrame:
    images = spark.table(query.images.name)
    files = _binary_files(images)
    if not files:
        digest = F.sha2(F.col(quoted(query.image)), 256)
        return images.select(
            F.col(quoted(query.key)).alias(KEY), F.concat(F.lit("sha256:"), digest).alias(VERSION)
        )
    keys = images.select(F.col(quoted(query.key)).alias(KEY), F.input_file_name().alias(_FILE))
    modified = F.unix_millis(F.col("modificationTime")).cast("string")
    stat = F.concat_ws("|", F.col(_FILE), F.col("length").cast("string"), modified)
    # Their directories, not the files: Spark lists more than 32 paths in a job of its own (a
    # second or more); files there that are not the images' join no key.
    folders = sorted({f.rpartition("/")[0] for f in files})  # URIs: '//' must stay
    metadata = (
        spark.read.format("binaryFile")
        .option("recursiveFileLookup", "true")  # subdirectories are files here, not partitions
        .load(folders)
        .select(F.input_file_name().alias(_FILE), "length", "modificationTime")
        .select(_FILE, stat.alias(VERSION))
    )
    return keys.join(metadata, _FILE).select(KEY, VERSION)


def _stated_here(spark, query: TransferQuery) -> DataFrame | None:
    """The versions `_per_row` and the grouping give, from one scan of (key, file) and the files'
    metadata read here: up to LOCAL_FILES local files, where the metadata scan, its join and
    the grouping took four jobs (0.5 s of a statement on 1,000 images). None otherwise."""
    images = spark.table(query.images.name)
    files = _binary_files(images)
    if not files or len(files) > LOCAL_FILES:
        return None
    if any(urlparse(f).scheme not in ("file", "") for f in files):
        return None  # not this machine's files
    keys = images.select(F.col(quoted(query.key)).alias(KEY), F.input_file_name().alias(_FILE))
    held: dict = {}
    stats: dict[str, str] = {}
    for key, file in keys.collect():
        if file not in stats:
            try:
                stat = os.stat(unquote(urlparse(file).path))
            except OSError:
                return None  # gone since the scan: Spark's path reports it its own way
            # As Spark's binaryFile source reads them: bytes, and milliseconds since the epoch.
            stats[file] = f"{file}|{stat.st_size}|{stat.st_mtime_ns // 1_000_000}"
        held.setdefault(key, []).append(stats[file])
    # sort_array orders strings by their UTF-8 bytes, which is Python's code point order.
    rows = [(key, " ".join(sorted(versions))) for key, versions in held.items()]
    schema = StructType(
        [StructField(KEY, keys.schema[KEY].dataType), StructField(VERSION, StringType())]
    )
    return spark.createDataFrame(rows, schema)


def _binary_files(images: DataFrame) -> list[str]:
    """The files behind `images` when it is a binaryFile source seen through projections and
    filters only; [] otherwise (its versions are then hashes of the bytes)."""
    if remote.is_connect(images.sparkSession):
        return []  # no plan to inspect: hashing is always right
    try:
        plan = images._jdf.queryExecution().optimizedPlan().toString()
    except Exception:  # noqa: BLE001 - a plan we cannot read is not one we can trust
        return []
    nodes = [m.group(1) for line in plan.splitlines() if (m := _NODE.match(line))]
    relations = [line for line in plan.splitlines() if _NODE.match(line) and "Relation" in line]
    if len(relations) != 1 or not relations[0].rstrip().endswith("binaryFile"):
        return []
    if any(node not in _ROW_PRESERVING | {"Relation"} for node in nodes):
        return []
    return sorted(remote.input_files(images))
