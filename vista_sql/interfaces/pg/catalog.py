"""The Spark catalog as pg-mimic's catalog emulation wants it: every table and view a client
could name (the current database's and the session's temporary views) with its columns' types,
all in PostgreSQL's `public` schema, for psql's \\dt and \\d and the BI tools' schema trees."""

from __future__ import annotations

from vista_sql.interfaces.pg import types


def snapshot(spark) -> dict[str, dict[str, str]]:
    tables: dict[str, dict[str, str]] = {}
    for table in spark.catalog.listTables():
        try:
            schema = spark.table(_quoted(table)).schema
        except Exception:  # noqa: BLE001 - dropped or broken since it was listed: leave it out
            continue
        tables[table.name] = {
            field.name: types.declared(field.dataType.simpleString()) for field in schema.fields
        }
    return tables


def _quoted(table) -> str:
    parts = [] if table.isTemporary or not table.namespace else list(table.namespace)
    return ".".join(f"`{part.replace('`', '``')}`" for part in [*parts, table.name])
