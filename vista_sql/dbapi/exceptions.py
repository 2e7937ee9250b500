"""PEP 249's exception hierarchy, carrying vista_sql's one-line messages and SQL positions."""

from __future__ import annotations


class Warning(Exception):  # noqa: A001 - PEP 249 prescribes this name
    pass


class Error(Exception):
    """Base of every error this driver raises; `str(error)` is one line, `line:col: message`.
    `sqlstate`: the PostgreSQL code for it, when one is known (vista_sql.errors)."""

    def __init__(
        self,
        message: str,
        line: int | None = None,
        col: int | None = None,
        sqlstate: str | None = None,
    ):
        super().__init__(message)
        self.message, self.line, self.col, self.sqlstate = message, line, col, sqlstate

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        return f"{self.line}:{self.col}: {self.message}"


class InterfaceError(Error):
    """The driver was misused: a closed cursor or connection."""


class DatabaseError(Error):
    pass


class DataError(DatabaseError):
    pass


class OperationalError(DatabaseError):
    """Spark, TensorFlow or the data refused a valid statement, or the statement was cancelled."""


class IntegrityError(DatabaseError):
    pass


class InternalError(DatabaseError):
    pass


class ProgrammingError(DatabaseError):
    """Bad SQL, an unknown table, column or CNN, or a parameter that cannot be bound."""


class NotSupportedError(DatabaseError):
    pass


class QueryCancelledError(OperationalError):
    """Connection.cancel() stopped the statement's Spark jobs."""


def from_vista(error) -> DatabaseError:
    """The PEP 249 error for a vista_sql.errors.VistaError, keeping its message and position."""
    from vista_sql.errors import VistaExecutionError

    kind = OperationalError if isinstance(error, VistaExecutionError) else ProgrammingError
    return kind(error.message, error.line, error.col, error.sqlstate)
