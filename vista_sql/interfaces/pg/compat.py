"""What PostgreSQL clients ask before they ask anything of their own, answered here; everything
else goes to Spark or vista_sql untouched.

pg-mimic's default chain answers transactions (BEGIN/COMMIT/ROLLBACK: Spark has none, so they
only keep the client's state machine happy), SET, session functions and the pg_catalog /
information_schema queries of psql and the BI tools. Three links are ours:

- `SELECT version()` names PostgreSQL 16.0 first: SQLAlchemy's dialect reads its version there.
- SHOW is answered only for PostgreSQL's own settings (what drivers ask: `SHOW TRANSACTION
  ISOLATION LEVEL`, `SHOW standard_conforming_strings`, ...). pg-mimic would answer any
  one-word SHOW, and `SHOW TABLES` or `SHOW CNNS` must reach Spark and vista_sql.
- SAVEPOINT, RELEASE and ROLLBACK TO succeed and do nothing, like BEGIN (psycopg's type probe).
"""

from __future__ import annotations

import re

import pyspark
from pg_mimic import ResultColumn, StaticStatement, middleware

from vista_sql.dbapi import params
from vista_sql.dialect.tokenizer import VistaTokenizer
from vista_sql.errors import VistaError
from vista_sql.interfaces.pg import jdbc
from vista_sql.statements.script import split

SERVER_VERSION = "16.0"
_VERSION = re.compile(r"^\s*SELECT\s+(?:pg_catalog\s*\.\s*)?version\s*\(\s*\)\s*;?\s*$", re.I)
_SHOW = re.compile(r"^\s*SHOW\s+(.+?)\s*;?\s*$", re.I)
_SET = re.compile(r"^\s*SET\s", re.I)
_SAVEPOINT = re.compile(r"^\s*(SAVEPOINT|RELEASE|ROLLBACK\s+TO)\b", re.I)
_CANCEL = re.compile(
    r"^\s*SELECT\s+(?:pg_catalog\s*\.\s*)?pg_cancel_backend\s*\(\s*(\d+)\s*\)\s*;?\s*$", re.I
)
_WORDS = re.compile(r"[A-Za-z_]+|\(")
SETTINGS = {
    "transaction isolation level": "read committed",
    "transaction_isolation": "read committed",
    "default_transaction_isolation": "read committed",
    "transaction_read_only": "off",
    "default_transaction_read_only": "off",
    "server_version": SERVER_VERSION,
    "server_version_num": "160000",
    "server_encoding": "UTF8",
    "client_encoding": "UTF8",
    "standard_conforming_strings": "on",
    "integer_datetimes": "on",
    "datestyle": "ISO, MDY",
    "intervalstyle": "postgres",
    "timezone": "UTC",
    "search_path": '"$user", public',
    "max_identifier_length": "63",
    "is_superuser": "off",
    "lc_collate": "C",
    "application_name": "",
}


def version_string() -> str:
    from importlib.metadata import version

    return (
        f"PostgreSQL {SERVER_VERSION} (vista_sql {version('vista_sql')} "
        f"on Apache Spark {pyspark.__version__})"
    )


async def version(ctx) -> StaticStatement | None:
    if not _VERSION.match(ctx.sql):
        return None
    return StaticStatement(ctx.sql, [ResultColumn("version", 25)], [(version_string(),)])


async def show(ctx) -> StaticStatement | None:
    found = _SHOW.match(ctx.sql)
    if not found:
        return None
    name = " ".join(found.group(1).strip('"').lower().split())
    if name in ctx.connection.session_vars:
        value = ctx.connection.session_vars[name]
    elif name in SETTINGS:
        value = SETTINGS[name]
    else:
        return None  # SHOW TABLES, SHOW CNNS, ...: Spark's or vista_sql's
    column = name.replace(" ", "_")
    return StaticStatement(ctx.sql, [ResultColumn(column, 25)], [(value,)])


async def settings(ctx):
    """SET of a PostgreSQL setting (`SET extra_float_digits = 3`) as pg-mimic keeps it; Spark's
    own (`SET spark.sql.shuffle.partitions = 4`, a dotted key) passes on to Spark."""
    if not _SET.match(ctx.sql):
        return None
    return await middleware.set_show(ctx)


async def cancel_backend(ctx) -> StaticStatement | None:
    """`SELECT pg_cancel_backend(pid)`: cancel another connection's statement, as its client's
    CancelRequest would (every client of the endpoint is the same user); true if it exists."""
    found = _CANCEL.match(ctx.sql)
    if not found:
        return None
    pid = int(found.group(1))

    def cancel() -> None:
        target = ctx.connection.session.live.get(pid)
        if target is not None:
            target.cancel()

    exists = pid in ctx.connection.session.live
    return StaticStatement(ctx.sql, [ResultColumn("pg_cancel_backend", 16)], [(exists,)], cancel)


async def savepoints(ctx) -> StaticStatement | None:
    if not _SAVEPOINT.match(ctx.sql):
        return None
    tag = _SAVEPOINT.match(ctx.sql).group(1).upper().split()[0]
    return StaticStatement(tag, None, [])


MIDDLEWARE = (
    version,
    show,
    settings,
    savepoints,
    cancel_backend,
    jdbc.metadata,  # ahead of pg-mimic's pg_catalog link, which cannot run these
    *(link for link in middleware.DEFAULT_MIDDLEWARE if link is not middleware.set_show),
)


def is_ours(sql: str) -> bool:
    """A vista_sql statement (TRANSFER, PREDICT WITH, SHOW CNNS, ...), not plain Spark SQL."""
    try:
        return any(statement.ours for statement in split(sql))
    except VistaError:
        return False


def first_word(sql: str) -> str:
    words = _WORDS.findall(sql)
    return words[0].upper() if words else ""


def placeholders(sql: str) -> int:
    """The highest $n in `sql` (outside strings and comments): how many parameters it takes."""
    try:
        tokens = VistaTokenizer().tokenize(sql)
    except Exception:  # noqa: BLE001 - the statement reports its own syntax error when run
        return 0
    return max((int(name) for *_, name in params.numbered_placeholders(tokens)), default=0)
