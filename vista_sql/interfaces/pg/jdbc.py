"""The PostgreSQL JDBC driver's DatabaseMetaData queries, answered from the Spark catalog.

BI tools on the JVM (DBeaver, Metabase, DataGrip, Tableau's JDBC path) build their schema trees
with pgjdbc's getSchemas(), getTables() and getColumns(). Each is one fixed query over pg_catalog
written for a real PostgreSQL (regular expressions, current_schemas(), regclass casts) that no
emulated catalog can execute, so they are recognised by their opening and answered directly:
only their LIKE patterns and the relation kinds asked for vary, and the answer has exactly the
columns pgjdbc reads. Every relation is in the `public` schema (interfaces/pg/catalog.py).
"""

from __future__ import annotations

import re

import pg_mimic
from pg_mimic import ResultColumn, StaticStatement

from vista_sql.interfaces.pg import catalog, types

_SCHEMAS = re.compile(r"^SELECT\s+nspname\s+AS\s+TABLE_SCHEM\b", re.I)
_TABLES = re.compile(r"^SELECT\s+NULL\s+AS\s+TABLE_CAT\s*,\s*n\.nspname\s+AS\s+TABLE_SCHEM\b", re.I)
_COLUMNS = re.compile(r"^SELECT\s+\*\s+FROM\s+\(SELECT\s+n\.nspname\s*,\s*c\.relname\s*,", re.I)
_LIKE = r"\b{}\s+LIKE\s+'((?:[^']|'')*)'"
_KINDS = {"TABLE": re.compile(r"c\.relkind\s*=\s*'r'"), "VIEW": re.compile(r"c\.relkind\s*=\s*'v'")}
# pgjdbc reads a column's size from attlen: -1 is variable.
_LENGTHS = {
    pg_mimic.INT2: 2,
    pg_mimic.INT4: 4,
    pg_mimic.INT8: 8,
    pg_mimic.FLOAT4: 4,
    pg_mimic.FLOAT8: 8,
    pg_mimic.BOOL: 1,
    pg_mimic.DATE: 4,
    pg_mimic.TIMESTAMP: 8,
}
_T, _I4 = pg_mimic.TEXT, pg_mimic.INT4


def _columns(*pairs) -> list[ResultColumn]:
    return [ResultColumn(name, oid) for name, oid in pairs]


async def metadata(ctx) -> StaticStatement | None:
    sql = ctx.sql
    if _SCHEMAS.match(sql):
        columns = _columns(("table_schem", _T), ("table_catalog", _T))
        rows = [(catalog.SCHEMA, None)] if _like(sql, "nspname").match(catalog.SCHEMA) else []
        return StaticStatement(sql, columns, rows)
    if not (_TABLES.match(sql) or _COLUMNS.match(sql)):
        return None
    relations = await ctx.connection.session.relations()
    if not _like(sql, r"n\.nspname").match(catalog.SCHEMA):
        relations = []
    named = _like(sql, r"c\.relname")
    relations = [r for r in relations if named.match(r.name)]
    if _TABLES.match(sql):
        return _tables(sql, relations)
    return _table_columns(sql, relations)


def _tables(sql: str, relations) -> StaticStatement:
    asked = {kind for kind, pattern in _KINDS.items() if pattern.search(sql)}
    columns = _columns(
        *((name, _T) for name in ("table_cat", "table_schem", "table_name", "table_type")),
        *((name, _T) for name in ("remarks", "type_cat", "type_schem", "type_name")),
        ("self_referencing_col_name", _T),
        ("ref_generation", _T),
    )
    rows = [
        (None, catalog.SCHEMA, r.name, r.kind, None, "", "", "", "", "")
        for r in sorted(relations, key=lambda r: (r.kind, r.name))
        if r.kind in asked
    ]
    return StaticStatement(sql, columns, rows)


def _table_columns(sql: str, relations) -> StaticStatement:
    named = _like(sql, "attname")
    columns = _columns(
        ("nspname", _T),
        ("relname", _T),
        ("attname", _T),
        ("atttypid", pg_mimic.INT4),
        ("attnotnull", pg_mimic.BOOL),
        ("atttypmod", _I4),
        ("attlen", pg_mimic.INT2),
        ("typtypmod", _I4),
        ("attnum", pg_mimic.INT8),
        ("attidentity", _T),
        ("attgenerated", _T),
        ("adsrc", _T),
        ("description", _T),
        ("typbasetype", _I4),
        ("typtype", _T),
    )
    rows = []
    for relation in sorted(relations, key=lambda r: r.name):
        for number, (name, spark_type) in enumerate(relation.columns, start=1):
            if not named.match(name):
                continue
            kind = types.oid(spark_type)
            rows.append(
                (catalog.SCHEMA, relation.name, name, kind, False, -1, _LENGTHS.get(kind, -1))
                + (-1, number, None, None, None, None, 0, "b")
            )
    return StaticStatement(sql, columns, rows)


def _like(sql: str, column: str) -> re.Pattern:
    """The LIKE pattern the query gives `column` as a regular expression; any name without."""
    found = re.search(_LIKE.format(column), sql, re.I)
    if not found:
        return re.compile(".*", re.S)
    pattern, escaped, out = found.group(1).replace("''", "'"), False, []
    for char in pattern:
        if escaped:
            out.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        else:
            out.append(re.escape(char))
    return re.compile("".join(out) + r"\Z", re.S)
