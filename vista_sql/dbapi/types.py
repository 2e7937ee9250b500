"""PEP 249 type objects and constructors; a column's type code is Spark's simple type string."""

from __future__ import annotations

import datetime
import time


class DBAPITypeObject:
    """Equal to every Spark type string of its family ('decimal(10,2)' == NUMBER)."""

    def __init__(self, *names: str):
        self.names = frozenset(names)

    def __eq__(self, other) -> bool:
        if isinstance(other, DBAPITypeObject):
            return self.names == other.names
        return isinstance(other, str) and other.split("(")[0].lower() in self.names

    def __hash__(self) -> int:
        return hash(self.names)

    def __repr__(self) -> str:
        return f"DBAPITypeObject{tuple(sorted(self.names))}"


STRING = DBAPITypeObject("string", "varchar", "char")
BINARY = DBAPITypeObject("binary")
NUMBER = DBAPITypeObject("tinyint", "smallint", "int", "bigint", "float", "double", "decimal")
DATETIME = DBAPITypeObject("date", "timestamp", "timestamp_ntz")
ROWID = DBAPITypeObject()
BOOLEAN = DBAPITypeObject("boolean")

Date = datetime.date
Time = datetime.time
Timestamp = datetime.datetime
Binary = bytes


def DateFromTicks(ticks: float) -> datetime.date:  # noqa: N802 - PEP 249 names
    return Date(*time.localtime(ticks)[:3])


def TimeFromTicks(ticks: float) -> datetime.time:  # noqa: N802
    return Time(*time.localtime(ticks)[3:6])


def TimestampFromTicks(ticks: float) -> datetime.datetime:  # noqa: N802
    return Timestamp(*time.localtime(ticks)[:6])


def description(schema) -> list[tuple]:
    """PEP 249's seven items per column from a Spark StructType."""
    from pyspark.sql.types import DecimalType

    columns = []
    for field in schema.fields:
        kind = field.dataType
        decimal = isinstance(kind, DecimalType)
        precision, scale = (kind.precision, kind.scale) if decimal else (None, None)
        columns.append(
            (field.name, kind.simpleString(), None, None, precision, scale, field.nullable)
        )
    return columns
