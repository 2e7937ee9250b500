"""A DB-API error as the ErrorResponse a PostgreSQL client expects: its SQLSTATE, its one line,
and for a statement error the 1-based character position psql draws its caret under."""

from __future__ import annotations

import re

from pg_mimic import PgError

from vista_sql import dbapi
from vista_sql.dbapi import params

# Spark ends its messages with the code, which the client gets in its own field.
_SPARK_SQLSTATE = re.compile(r"\s*SQLSTATE: \w{5}\.?\s*$")
# When the error carries no code of its own (vista_sql.errors gives most): by DB-API class.
_BY_CLASS = (
    (dbapi.QueryCancelledError, "57014"),
    (dbapi.ProgrammingError, "42000"),
    (dbapi.NotSupportedError, "0A000"),
    (dbapi.OperationalError, "58000"),
)


def to_pg(error: dbapi.Error, sql: str) -> PgError:
    state = error.sqlstate or next(
        (code for kind, code in _BY_CLASS if isinstance(error, kind)), "XX000"
    )
    fields = {}
    if error.line is not None:
        fields["P"] = str(params.offset(sql, error.line, error.col or 1) + 1)
    return PgError(state, _SPARK_SQLSTATE.sub("", error.message), **fields)
