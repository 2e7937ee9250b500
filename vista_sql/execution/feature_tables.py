"""Feature tables in the session's catalog: `name` (a temporary view) or `db.name` (a view in that
database, persistent where the session has a metastore), columns `key, layer, features` (`cnn`
first when several CNNs ran), over the current version of every layer the table's manifests
record. Replaced after every statement that writes the table, so a query sees one refresh or the
next; a new session registers the tables it finds in vista.features.dir.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlglot import exp

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
    selects = []
    for label, target in feature_tables.targets(path, info):
        recorded = Manifest.read(str(target))
        for layer, entry in sorted(recorded.layers.items()):
            if layer not in recorded.present:
                continue
            columns = [
                exp.alias_(exp.column(entry.key, quoted=True), "key", quoted=True),
                exp.alias_(exp.Literal.string(layer), "layer", quoted=True),
                exp.column("features", quoted=True),
            ]
            if label is not None:
                columns.insert(0, exp.alias_(exp.Literal.string(label), "cnn", quoted=True))
            dataset = exp.Table(
                this=exp.to_identifier(str(recorded.path(layer)), quoted=True),
                db=exp.to_identifier("parquet"),
            )
            selects.append(exp.select(*columns).from_(dataset))
    if not selects:
        return False
    union = selects[0]
    for select in selects[1:]:
        union = exp.union(union, select, distinct=False)
    db, _, table = name.rpartition(".")
    view = exp.Table(
        this=exp.to_identifier(table, quoted=True),
        db=exp.to_identifier(db, quoted=True) if db else None,
    )
    properties = None if db else exp.Properties(expressions=[exp.TemporaryProperty()])
    create = exp.Create(
        this=view, kind="VIEW", replace=True, expression=union, properties=properties
    )
    spark.sql(to_sql(create))
    return True


def register_all(spark) -> None:
    """Every feature table in vista.features.dir, as a new session finds them. A table whose
    database this session lacks, or whose files cannot be read, is left out with a warning."""
    for name, path in feature_tables.find(features_dir(spark)):
        try:
            register(spark, name, path, feature_tables.read_info(path))
        except Exception as error:  # noqa: BLE001 - one bad table must not stop a session
            log.warning("feature table %s not registered: %s", name, str(error).splitlines()[0])
