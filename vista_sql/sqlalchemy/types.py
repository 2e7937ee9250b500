"""Spark SQL type strings <-> SQLAlchemy types."""

from __future__ import annotations

import re

from sqlalchemy import types as sqltypes
from sqlalchemy.sql import compiler

_SIMPLE = {
    "boolean": sqltypes.Boolean,
    "tinyint": sqltypes.SmallInteger,
    "byte": sqltypes.SmallInteger,
    "smallint": sqltypes.SmallInteger,
    "short": sqltypes.SmallInteger,
    "int": sqltypes.Integer,
    "integer": sqltypes.Integer,
    "bigint": sqltypes.BigInteger,
    "long": sqltypes.BigInteger,
    "float": sqltypes.Float,
    "real": sqltypes.Float,
    "double": sqltypes.Double,
    "string": sqltypes.String,
    "binary": sqltypes.LargeBinary,
    "date": sqltypes.Date,
    "timestamp": sqltypes.DateTime,
    "timestamp_ltz": sqltypes.DateTime,
    "timestamp_ntz": sqltypes.DateTime,
    "void": sqltypes.NullType,
}
_PARAMETERS = re.compile(r"^(\w+)\s*\((\d+)\s*(?:,\s*(\d+))?\)$")


def from_spark(type_string: str) -> sqltypes.TypeEngine:
    """The SQLAlchemy type of a Spark type string; arrays, maps and structs have none."""
    text = type_string.strip().lower()
    if text in _SIMPLE:
        return _SIMPLE[text]()
    found = _PARAMETERS.match(text)
    if found:
        name, first, second = found.group(1), int(found.group(2)), found.group(3)
        if name in ("decimal", "dec", "numeric"):
            return sqltypes.Numeric(first, int(second or 0))
        if name in ("varchar", "char"):
            return sqltypes.String(first)
    return sqltypes.NullType()


class TypeCompiler(compiler.GenericTypeCompiler):
    """DDL type names Spark understands (for pandas.to_sql and Table.create)."""

    def visit_VARCHAR(self, type_, **kw):  # noqa: N802 - SQLAlchemy's visitor names
        return "STRING"

    def visit_NVARCHAR(self, type_, **kw):  # noqa: N802
        return "STRING"

    def visit_TEXT(self, type_, **kw):  # noqa: N802
        return "STRING"

    def visit_CLOB(self, type_, **kw):  # noqa: N802
        return "STRING"

    def visit_BLOB(self, type_, **kw):  # noqa: N802
        return "BINARY"

    def visit_large_binary(self, type_, **kw):
        return "BINARY"

    def visit_DATETIME(self, type_, **kw):  # noqa: N802
        return "TIMESTAMP"

    def visit_INTEGER(self, type_, **kw):  # noqa: N802
        return "INT"
