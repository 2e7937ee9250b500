"""Spark result columns as PostgreSQL types, and their values as what pg-mimic encodes.

A column's Spark type arrives as the DB-API's type code (Spark's simple type string). Scalars
map to their PostgreSQL twin; an array of scalars to that scalar's array type; anything nested
(structs such as vista_predict_model's, maps, arrays of those) to json, its value rendered
as a JSON document, which psql prints and psycopg parses.
"""

from __future__ import annotations

import datetime
import decimal
import json
import re

import pg_mimic
from pg_mimic import ARRAY_OID

ELEMENT_OID = {array: element for element, array in ARRAY_OID.items()}

SCALARS = {
    "tinyint": pg_mimic.INT2,
    "smallint": pg_mimic.INT2,
    "int": pg_mimic.INT4,
    "bigint": pg_mimic.INT8,
    "float": pg_mimic.FLOAT4,
    "double": pg_mimic.FLOAT8,
    "decimal": pg_mimic.NUMERIC,
    "string": pg_mimic.TEXT,
    "varchar": pg_mimic.VARCHAR,
    "char": pg_mimic.TEXT,
    "boolean": pg_mimic.BOOL,
    "binary": pg_mimic.BYTEA,
    "date": pg_mimic.DATE,
    # Spark's TIMESTAMP is local to the session's time zone, as collected: without a zone.
    "timestamp": pg_mimic.TIMESTAMP,
    "timestamp_ntz": pg_mimic.TIMESTAMP,
    "void": pg_mimic.TEXT,
}
_ARRAY = re.compile(r"array<(\w+)(?:\(\d+(?:,\d+)?\))?>\Z")
# The names information_schema and psql's \d show for a Spark column type.
DECLARED = {
    pg_mimic.INT2: "smallint",
    pg_mimic.INT4: "integer",
    pg_mimic.INT8: "bigint",
    pg_mimic.FLOAT4: "real",
    pg_mimic.FLOAT8: "double precision",
    pg_mimic.NUMERIC: "numeric",
    pg_mimic.TEXT: "text",
    pg_mimic.VARCHAR: "character varying",
    pg_mimic.BOOL: "boolean",
    pg_mimic.BYTEA: "bytea",
    pg_mimic.DATE: "date",
    pg_mimic.TIMESTAMP: "timestamp without time zone",
    pg_mimic.JSON: "json",
}


def oid(spark_type: str) -> int:
    """The PostgreSQL type OID for a Spark simple type string."""
    base = spark_type.split("(")[0].lower()
    if base in SCALARS:
        return SCALARS[base]
    array = _ARRAY.match(spark_type.lower())
    if array and array.group(1) in SCALARS and SCALARS[array.group(1)] in ARRAY_OID:
        return ARRAY_OID[SCALARS[array.group(1)]]
    return pg_mimic.JSON


def declared(spark_type: str) -> str:
    """How the catalog names the column's type (an array of doubles: 'double precision[]')."""
    kind = oid(spark_type)
    for scalar, array in ARRAY_OID.items():
        if kind == array and scalar in DECLARED:
            return DECLARED[scalar] + "[]"
    return DECLARED.get(kind, "json")


def value(kind: int, cell):
    """A collected cell as pg-mimic encodes it for a column of OID `kind`."""
    if cell is None or kind != pg_mimic.JSON:
        return cell
    return json.dumps(_plain(cell), default=_jsonable)


def _plain(cell):
    if hasattr(cell, "asDict"):  # a Row: a struct
        return {k: _plain(v) for k, v in cell.asDict().items()}
    if isinstance(cell, dict):
        return {str(k): _plain(v) for k, v in cell.items()}
    if isinstance(cell, list | tuple):
        return [_plain(v) for v in cell]
    return cell


def _jsonable(cell):
    if isinstance(cell, datetime.date | datetime.datetime):
        return cell.isoformat()
    if isinstance(cell, decimal.Decimal):
        return str(cell)
    if isinstance(cell, bytes | bytearray):
        return cell.hex()
    return str(cell)


def parameter(kind: int | None, given):
    """A bound parameter as the Python value the DB-API binds as a literal. Text-format values
    arrive as the client wrote them ('7', 't', '2026-01-02'): typed here by the OID the client
    declared, so `$1` declared an integer binds as 7, not '7'. Undeclared ones stay text, which
    Spark casts where the statement needs a number, as PostgreSQL does with unknown literals."""
    if given is None:
        return None
    if isinstance(given, list):
        element = ELEMENT_OID.get(kind)
        return [parameter(element, item) for item in given]
    if not isinstance(given, str) or kind not in _FROM_TEXT:
        return given
    try:
        return _FROM_TEXT[kind](given)
    except ValueError:
        raise ValueError(f"'{given}' is not a valid {DECLARED.get(kind, kind)}") from None


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("t", "true", "on", "yes", "y", "1"):
        return True
    if lowered in ("f", "false", "off", "no", "n", "0"):
        return False
    raise ValueError(text)


_FROM_TEXT = {
    pg_mimic.INT2: int,
    pg_mimic.INT4: int,
    pg_mimic.INT8: int,
    pg_mimic.FLOAT4: float,
    pg_mimic.FLOAT8: float,
    pg_mimic.NUMERIC: decimal.Decimal,
    pg_mimic.BOOL: _bool,
    pg_mimic.DATE: datetime.date.fromisoformat,
    pg_mimic.TIMESTAMP: datetime.datetime.fromisoformat,
    pg_mimic.TIMESTAMPTZ: datetime.datetime.fromisoformat,
}
