"""One exception family for everything a user can get wrong.

Every error carries a one-line message; SQL errors also carry the 1-based line and column of the
offending token so interfaces can point at it. Interfaces print `str(error)` and never a traceback
unless asked to.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class VistaError(Exception):
    """A problem the user can fix: bad SQL, an unknown name, unusable data.

    `sqlstate` is the PostgreSQL/ANSI code a wire-protocol client gets for it: the class's
    default, or a more precise one (42P01 unknown table, 42703 unknown column, Spark's own)."""

    sqlstate = "42000"

    def __init__(
        self,
        message: str,
        line: int | None = None,
        col: int | None = None,
        sqlstate: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col
        if sqlstate is not None:
            self.sqlstate = sqlstate

    def at(self, line: int | None, col: int | None) -> VistaError:
        """The same error anchored at a position (only if it has none yet)."""
        if self.line is None and line is not None:
            self.line, self.col = line, col
        return self

    def shifted(self, line_offset: int, first_line_col_offset: int) -> VistaError:
        """Re-anchor a position computed inside one statement to the enclosing script."""
        if self.line is not None:
            if self.line == 1 and self.col is not None:
                self.col += first_line_col_offset
            self.line += line_offset
        return self

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        return f"{self.line}:{self.col}: {self.message}"


class VistaSyntaxError(VistaError):
    """The statement does not follow the grammar in grammar/vista.ebnf."""

    sqlstate = "42601"


class VistaBindError(VistaError):
    """The statement names something that does not exist or does not fit."""


class VistaExecutionError(VistaError):
    """Spark, TensorFlow or the data refused to do what a valid plan asked."""

    sqlstate = "XX000"

    def __init__(self, message: str, line=None, col=None, sqlstate: str | None = None):
        if sqlstate is None and message.startswith("out of memory"):
            sqlstate = OUT_OF_MEMORY
        super().__init__(message, line, col, sqlstate)


class VistaPlanningError(VistaExecutionError):
    """A valid statement no configuration can run on the resources at hand (too little memory):
    the statement is right, the machine or cluster is not, so it reads as an operational error."""

    sqlstate = "53200"


OUT_OF_MEMORY = "53200"
UNDEFINED_TABLE = "42P01"
UNDEFINED_COLUMN = "42703"


def first_line(error: BaseException) -> str:
    """An exception as one line: the first of its message, or its type when it has none."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def find_named(registry: dict, name: str, what: str):
    """registry[name.lower()], or a bind error listing the known names and the closest one."""
    found = registry.get(name.lower())
    if found is None:
        raise VistaBindError(
            f"unknown {what} '{name}'{did_you_mean(name, registry)}; known: {', '.join(registry)}"
        )
    return found


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """'; did you mean 'x'?' for the closest candidate, or '' when nothing is close."""
    pool = list(candidates)
    lowered = {c.lower(): c for c in pool}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return f"; did you mean '{lowered[close[0]]}'?" if close else ""
