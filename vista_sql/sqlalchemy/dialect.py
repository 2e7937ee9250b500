"""`vista://` for SQLAlchemy: create_engine, pandas.read_sql, jupysql's %sql.

URLs: `vista:///?master=local[2]&spark.sql.shuffle.partitions=4` (embedded Spark; query keys that
start with `spark.` are Spark settings), `vista://host:15002/` or `vista:///?remote=sc://host:15002`
(Spark Connect). Reflection reads the Spark catalog; temporary views count as views.
"""

from __future__ import annotations

from sqlalchemy.engine import default
from sqlalchemy.sql import compiler

from vista_sql.sqlalchemy.types import TypeCompiler, from_spark

# Spark SQL's reserved words under ANSI mode, plus words that only parse when quoted.
RESERVED = {
    *"all and any array as authorization both case cast check collate column constraint create "
    "cross current_date current_time current_timestamp current_user distinct else end except "
    "false fetch filter for foreign from full grant group having in inner intersect into is join "
    "lateral leading left like limit minus natural not null of on only or order outer overlaps "
    "primary references right select session_user some table then time to trailing true union "
    "unique unknown user using when where with".split(),
}


class IdentifierPreparer(compiler.IdentifierPreparer):
    reserved_words = RESERVED

    def __init__(self, dialect):
        super().__init__(dialect, initial_quote="`", escape_quote="`")


class VistaDialect(default.DefaultDialect):
    name = "vista"
    driver = "dbapi"
    supports_statement_cache = True
    default_paramstyle = "named"
    preparer = IdentifierPreparer
    type_compiler_cls = TypeCompiler
    supports_native_boolean = True
    supports_native_decimal = True
    supports_sane_rowcount = False
    supports_sane_multi_rowcount = False
    supports_multivalues_insert = True
    supports_default_values = False
    supports_empty_insert = False
    supports_alter = False
    supports_sequences = False
    returns_native_bytes = True
    postfetch_lastrowid = False
    max_identifier_length = 255

    @classmethod
    def import_dbapi(cls):
        from vista_sql import dbapi

        return dbapi

    def create_connect_args(self, url):
        query = dict(url.query)
        kwargs: dict = {}
        conf = {key: value for key, value in query.items() if key.startswith("spark.")}
        if conf:
            kwargs["conf"] = conf
        if url.host:
            kwargs["remote"] = f"sc://{url.host}:{url.port or 15002}"
        if "remote" in query:
            kwargs["remote"] = query["remote"]
        if "master" in query:
            kwargs["master"] = query["master"]
        unknown = set(query) - set(conf) - {"master", "remote"}
        if unknown:
            raise ValueError(
                f"vista:// URL: unknown option {', '.join(sorted(unknown))}; "
                "use master=, remote= or spark.* settings"
            )
        return [], kwargs

    # -- no transactions in Spark SQL -----------------------------------------------------------

    def do_rollback(self, dbapi_connection) -> None:
        pass

    def do_commit(self, dbapi_connection) -> None:
        pass

    def get_isolation_level(self, dbapi_connection):
        raise NotImplementedError

    def _get_server_version_info(self, connection):
        version = self._spark(connection).version
        return tuple(int(part) for part in version.split(".")[:3] if part.isdigit())

    def _get_default_schema_name(self, connection) -> str:
        return self._spark(connection).catalog.currentDatabase()

    # -- reflection over the Spark catalog ------------------------------------------------------

    def get_schema_names(self, connection, **kw) -> list[str]:
        return [database.name for database in self._spark(connection).catalog.listDatabases()]

    def get_table_names(self, connection, schema=None, **kw) -> list[str]:
        return [t.name for t in self._tables(connection, schema) if not _is_view(t)]

    def get_view_names(self, connection, schema=None, **kw) -> list[str]:
        return [t.name for t in self._tables(connection, schema) if _is_view(t)]

    def get_temp_view_names(self, connection, schema=None, **kw) -> list[str]:
        return [t.name for t in self._tables(connection, schema) if t.isTemporary]

    def has_table(self, connection, table_name, schema=None, **kw) -> bool:
        name = f"{schema}.{table_name}" if schema else table_name
        return self._spark(connection).catalog.tableExists(name)

    def get_columns(self, connection, table_name, schema=None, **kw) -> list[dict]:
        from sqlalchemy.exc import NoSuchTableError

        if not self.has_table(connection, table_name, schema):
            raise NoSuchTableError(f"{schema}.{table_name}" if schema else table_name)
        name = f"{schema}.{table_name}" if schema else table_name
        return [
            {
                "name": column.name,
                "type": from_spark(column.dataType),
                "nullable": column.nullable,
                "default": None,
                "comment": column.description,
            }
            for column in self._spark(connection).catalog.listColumns(name)
        ]

    def get_pk_constraint(self, connection, table_name, schema=None, **kw) -> dict:
        return {"constrained_columns": [], "name": None}

    def get_foreign_keys(self, connection, table_name, schema=None, **kw) -> list:
        return []

    def get_indexes(self, connection, table_name, schema=None, **kw) -> list:
        return []

    def get_unique_constraints(self, connection, table_name, schema=None, **kw) -> list:
        return []

    def get_check_constraints(self, connection, table_name, schema=None, **kw) -> list:
        return []

    def get_table_comment(self, connection, table_name, schema=None, **kw) -> dict:
        for table in self._tables(connection, schema):
            if table.name.lower() == table_name.lower():
                return {"text": table.description}
        return {"text": None}

    def _tables(self, connection, schema):
        catalog = self._spark(connection).catalog
        current = catalog.currentDatabase()
        tables = catalog.listTables(schema or current)
        # Temporary views resolve unqualified, so they belong to the current schema only.
        return [t for t in tables if not (t.isTemporary and (schema or current) != current)]

    @staticmethod
    def _spark(connection):
        return connection.connection.dbapi_connection.session.spark


def _is_view(table) -> bool:
    return table.isTemporary or table.tableType == "VIEW"
