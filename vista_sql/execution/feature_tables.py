"""Feature tables in the session's catalog: `name` (a temporary view) or `db.name` (a view in that
database, persistent where the session has a metastore), columns `key, layer, features` (`cnn`
first when several CNNs ran), over the current version of every layer the table's manifests
record. Replaced after every statement that writes the table, so a query sees one refresh or the
next; a new session registers the tables it finds in vista.features.dir.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from pyspark.sql import functions as F
from sqlglot import exp

from vista_sql.execution import parquet_reads
from vista_sql.execution.lowering import to_sql
from vista_sql.plan import feature_tables
from vista_sql.plan.feature_tables import FEATURES_DIR_CONF, TableInfo
from vista_sql.plan.manifest import Manifest

log = logging.getLogger("vista_sql")


def features_dir(spark) -> Path:
    return feature_tables.features_dir(spark.conf.get(FEATURES_DIR_CONF, None))


def publish(spark, info: TableInfo) -> None:
    """Note what wrote the table and (re)make its view."""
    path = feature_tables.table_path(features_dir(spark), info.name)
    feature_tables.write_info(path, info)
    register(spark, info.name, path, info)


def register(spark, name: str, path: Path, info: TableInfo) -> bool:
    """Make the table's view; False when it records no layer yet."""
    datasets = []  # (cnn label or None, layer, key column, path)
    for label, target in feature_tables.targets(path, info):
        recorded = Manifest.read(str(target))
        for layer, entry in sorted(recorded.layers.items()):
            if layer in recorded.present:
                datasets.append((label, layer, entry.key, str(recorded.path(layer))))
    if not datasets:
        return False
    db, _, table = name.rpartition(".")
    if not db:
        # A temporary view can be a DataFrame's: read with the schema the files' footers hold,
        # where SQL over parquet.`path` runs a job per layer to infer it.
        frames = [
            parquet_reads.read(spark, where).select(
                *(F.expr(to_sql(c)) for c in _columns(label, layer, key))
            )
            for label, layer, key, where in datasets
        ]
        functools.reduce(lambda a, b: a.unionAll(b), frames).createOrReplaceTempView(table)
        return True
    selects = [
        exp.select(*_columns(label, layer, key)).from_(
            exp.Table(this=exp.to_identifier(where, quoted=True), db=exp.to_identifier("parquet"))
        )
        for label, layer, key, where in datasets
    ]
    union = functools.reduce(lambda a, b: exp.union(a, b, distinct=False), selects)
    view = exp.Table(
        this=exp.to_identifier(table, quoted=True), db=exp.to_identifier(db, quoted=True)
    )
    spark.sql(to_sql(exp.Create(this=view, kind="VIEW", replace=True, expression=union)))
    return True


def _columns(label: str | None, layer: str, key: str) -> list[exp.Expr]:
    """key, layer, features (cnn first when several CNNs ran), as SQL expressions."""
    columns = [
        exp.alias_(exp.column(key, quoted=True), "key", quoted=True),
        exp.alias_(exp.Literal.string(layer), "layer", quoted=True),
        exp.column("features", quoted=True),
    ]
    if label is not None:
        columns.insert(0, exp.alias_(exp.Literal.string(label), "cnn", quoted=True))
    return columns


def register_all(spark) -> None:
    """Every feature table in vista.features.dir, as a new session finds them. A table whose
    database this session lacks, or whose files cannot be read, is left out with a warning."""
    for name, path in feature_tables.find(features_dir(spark)):
        try:
            register(spark, name, path, feature_tables.read_info(path))
        except Exception as error:  # noqa: BLE001 - one bad table must not stop a session
            log.warning("feature table %s not registered: %s", name, str(error).splitlines()[0])
