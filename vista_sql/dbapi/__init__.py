"""PEP 249 (DB-API 2.0) driver: `vista_sql.dbapi.connect(master=..., remote=..., conf={...})`.

Parameters bind in the `named` (:name) or `pyformat` (%(name)s) style as SQL literals, so
TRANSFER statements take them like any Spark SQL statement.
"""

from __future__ import annotations

from vista_sql.dbapi.connection import Connection, Cursor
from vista_sql.dbapi.exceptions import (
    DatabaseError,
    DataError,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    QueryCancelledError,
    Warning,
)
from vista_sql.dbapi.types import (
    BINARY,
    BOOLEAN,
    DATETIME,
    NUMBER,
    ROWID,
    STRING,
    Binary,
    Date,
    DateFromTicks,
    Time,
    TimeFromTicks,
    Timestamp,
    TimestampFromTicks,
)

apilevel = "2.0"
threadsafety = 1  # threads may share the module, not connections (cancel() excepted)
paramstyle = "named"  # pyformat works as well

__all__ = [
    "BINARY",
    "BOOLEAN",
    "DATETIME",
    "NUMBER",
    "ROWID",
    "STRING",
    "Binary",
    "Connection",
    "Cursor",
    "DataError",
    "DatabaseError",
    "Date",
    "DateFromTicks",
    "Error",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "QueryCancelledError",
    "Time",
    "TimeFromTicks",
    "Timestamp",
    "TimestampFromTicks",
    "Warning",
    "apilevel",
    "connect",
    "paramstyle",
    "threadsafety",
]


def connect(
    spark=None,
    *,
    master: str | None = None,
    remote: str | None = None,
    conf: dict | None = None,
    session=None,
) -> Connection:
    """A connection on `session` (a VistaSession), `spark` (a SparkSession), a Spark Connect
    server (`remote='sc://host:port'`), or the embedded local Spark (`master`, `conf`)."""
    if session is None:
        if remote is not None:
            if master is not None or spark is not None:
                raise InterfaceError("give remote= or master=/spark=, not both")
            spark = _remote(remote, conf or {})
        from vista_sql.session import VistaSession

        session = VistaSession(spark, master=master, conf=conf)
    return Connection(session)


def _remote(url: str, conf: dict):
    from vista_sql.errors import first_line
    from vista_sql.spark.session import remote_session

    try:
        return remote_session(url, {k: str(v) for k, v in conf.items()})
    except Exception as error:  # noqa: BLE001 - any failure here is one line for the caller
        raise OperationalError(f"cannot use Spark Connect at {url}: {first_line(error)}") from None
