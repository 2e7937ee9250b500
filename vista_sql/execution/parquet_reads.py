"""The Parquet datasets vista_sql wrote (recorded layers, hand-over tensors), read from their
footers: their row counts, and their schema without Spark's schema inference, which reads a
footer in a job of its own per read (about 13 such jobs in a +1 % REFRESH on 1,000 images,
0.05–0.1 s each). The schema Spark wrote is in every file's footer, read here in a millisecond.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from urllib.parse import unquote, urlparse

import pyarrow.parquet as pq
from pyspark.sql.types import StructType

# Where Spark's Parquet writer keeps the schema it wrote (ParquetWriteSupport).
_SPARK_SCHEMA = b"org.apache.spark.sql.parquet.row.metadata"


def _local(path: str) -> Path | None:
    parsed = urlparse(path)
    if parsed.scheme not in ("", "file"):
        return None  # another filesystem: Spark reads it
    return Path(unquote(parsed.path) if parsed.scheme else path)


def spark_schema(path: str) -> StructType | None:
    """The schema Spark wrote into the dataset at `path`; None where it cannot be read here
    (another filesystem, no data file, a file Spark did not write): Spark then infers it."""
    directory = _local(path)
    if directory is None or not directory.is_dir():
        return None
    for data in sorted(data_files(directory)):
        try:
            stat = data.stat()
            return _schema_in(str(data), stat.st_size, stat.st_mtime_ns)
        except (OSError, ValueError):
            return None
    return None


@functools.lru_cache(maxsize=256)
def _schema_in(file: str, size: int, modified: int) -> StructType | None:
    """Keyed by the file's size and time too: a version's directory name comes back after its
    older namesake is swept. Parsed once: pyspark's fromJson took 13 ms a schema."""
    stored = (pq.read_metadata(file).metadata or {}).get(_SPARK_SCHEMA)
    return StructType.fromJson(json.loads(stored)) if stored else None


def data_files(directory: Path) -> list[Path]:
    # Spark's markers (_SUCCESS) and checksums (.crc) hold no rows.
    return [f for f in directory.iterdir() if f.is_file() and not f.name.startswith(("_", "."))]


def rows_in(directory: Path) -> int:
    return sum(pq.read_metadata(data).num_rows for data in data_files(directory))


def read(spark, path: str):
    """spark.read.parquet(path), with the schema from its footer when it can be read here."""
    schema = spark_schema(path)
    reader = spark.read if schema is None else spark.read.schema(schema)
    return reader.parquet(path)
