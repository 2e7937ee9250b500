"""The Spark catalog as PostgreSQL clients see it: every table and view a client could name (the
current database's and the session's temporary views) with its columns, all in the `public`
schema, for psql's \\dt and \\d (through pg-mimic's catalog emulation) and the JDBC driver's
metadata calls that BI tools' schema trees are built from (interfaces/pg/jdbc.py)."""

from __future__ import annotations

from dataclasses import dataclass

from vista_sql.interfaces.pg import types

SCHEMA = "public"


@dataclass(frozen=True)
class Relation:
    name: str
    kind: str  # "TABLE" or "VIEW" (Spark's views and temporary views)
    columns: tuple[tuple[str, str], ...]  # (name, Spark simple type string)


def relations(spark) -> list[Relation]:
    found = []
    for table in spark.catalog.listTables():
        try:
            schema = spark.table(_quoted(table)).schema
        except Exception:  # noqa: BLE001 - dropped or broken since it was listed: leave it out
            continue
        kind = "VIEW" if table.isTemporary or table.tableType == "VIEW" else "TABLE"
        columns = tuple((f.name, f.dataType.simpleString()) for f in schema.fields)
        found.append(Relation(table.name, kind, columns))
    return found


def declared(found: list[Relation]) -> dict[str, dict[str, str]]:
    """pg-mimic's Session.schema() shape: {table: {column: PostgreSQL type name}}."""
    return {r.name: {c: types.declared(t) for c, t in r.columns} for r in found}


def _quoted(table) -> str:
    parts = [] if table.isTemporary or not table.namespace else list(table.namespace)
    return ".".join(f"`{part.replace('`', '``')}`" for part in [*parts, table.name])
