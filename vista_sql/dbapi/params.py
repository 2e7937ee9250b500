"""Binding parameters (`:name` and `%(name)s`, or PostgreSQL's `$1` for a sequence of values, as
the PostgreSQL endpoint receives them) as SQL literals built by sqlglot.

Placeholders are found by the vista tokenizer, so text inside strings, quoted identifiers and
comments is never touched. Each value becomes a literal expression tree (exp.convert) rendered by
the vista dialect, which escapes it; a value can therefore only ever be one literal, standing where
the placeholder stood, and never more SQL. The rest of the statement stays exactly as written.
"""

from __future__ import annotations

import decimal
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.errors import TokenError
from sqlglot.tokens import TokenType

from vista_sql.dbapi.exceptions import ProgrammingError

_NAME = re.compile(r"[A-Za-z_]\w*\Z")


@dataclass(frozen=True)
class Bound:
    """The SQL to run, and how to point back into the SQL as the caller wrote it."""

    text: str
    original: str
    spans: tuple[tuple[int, int, int, int], ...] = ()  # bound start/end, original start/end

    def position(self, line: int, col: int) -> tuple[int, int]:
        """A line:col of the bound text as the line:col of the caller's text."""
        at = offset(self.text, line, col)
        shift = 0
        for bound_start, bound_end, original_start, original_end in self.spans:
            if at < bound_start:
                break
            if at < bound_end:  # inside a literal: point at its placeholder
                return _position(self.original, original_start)
            shift = original_end - bound_end
        return _position(self.original, at + shift)


def bind(operation: str, parameters) -> Bound:
    """`operation` with every placeholder replaced by its value's literal."""
    if parameters is None:
        return Bound(operation, operation)
    numbered = isinstance(parameters, Sequence) and not isinstance(parameters, str | bytes)
    if numbered:  # $1 is the first value
        parameters = {str(i): value for i, value in enumerate(parameters, start=1)}
    elif not isinstance(parameters, Mapping):
        raise ProgrammingError(
            "parameters must be a mapping of names to values "
            "(paramstyle 'named' :name or 'pyformat' %(name)s)"
        )
    from vista_sql.dialect.tokenizer import VistaTokenizer

    try:
        tokens = VistaTokenizer().tokenize(operation)
    except TokenError as error:
        raise ProgrammingError(f"cannot read the SQL: {error}") from None
    if numbered and _placeholders(tokens) and not numbered_placeholders(tokens):
        raise ProgrammingError(
            "parameters for :name or %(name)s placeholders must be a mapping of names to values "
            "(a sequence binds $1, $2, ...)"
        )
    pieces, spans, cursor, length = [], [], 0, 0
    for start, end, name in _placeholders(tokens, numbered):
        if name is None:  # '%%' in pyformat SQL is one '%'
            text = "%"
        elif name not in parameters:
            line, col = _position(operation, start)
            shown = f"${name}" if numbered else name
            raise ProgrammingError(f"no value for parameter '{shown}'", line, col)
        else:
            text = literal(f"${name}" if numbered else name, parameters[name])
        length += start - cursor
        spans.append((length, length + len(text), start, end + 1))
        pieces += [operation[cursor:start], text]
        length += len(text)
        cursor = end + 1
    pieces.append(operation[cursor:])
    return Bound("".join(pieces), operation, tuple(spans))


def literal(name: str, value) -> str:
    """A value as vista/Spark SQL literal text, generated from a sqlglot expression."""
    if isinstance(value, float) and not math.isfinite(value):
        # exp.convert turns NaN into NULL; Spark spells these as casts of strings.
        text = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        tree = exp.cast(exp.Literal.string(text), exp.DataType.build("double"))
    elif isinstance(value, decimal.Decimal) and not value.is_finite():
        raise ProgrammingError(f"parameter '{name}': Spark decimals have no {value}")
    else:
        try:
            tree = exp.convert(value)
        except ValueError:
            kind = type(value).__name__
            raise ProgrammingError(f"parameter '{name}': cannot bind a {kind} value") from None
    return tree.sql(dialect="vista")


def numbered_placeholders(tokens):
    """(start, end, number as text) of each PostgreSQL-style `$1`, `$2`, ... placeholder."""
    return [
        (token.start, number.end, number.text)
        for token, number in zip(tokens, tokens[1:], strict=False)
        if token.token_type == TokenType.PARAMETER
        and token.text == "$"
        and number.token_type == TokenType.NUMBER
        and number.start == token.end + 1
        and number.text.isdigit()
    ]


def _placeholders(tokens, numbered: bool = False):
    """(start, end, name or None for '%%') of each placeholder, in order; with `numbered`, only
    `$1`, `$2`, ... (named '1', '2', ...)."""
    if numbered:
        return numbered_placeholders(tokens)
    found = []
    pyformat_seen = False
    i = 0
    while i < len(tokens):
        token = tokens[i]
        following = tokens[i + 1 : i + 5]
        if token.token_type == TokenType.MOD and _pyformat(following, token.end):
            name = following[1].text
            found.append((token.start, following[3].end, name))
            pyformat_seen = True
            i += 5
            continue
        if (
            token.token_type == TokenType.COLON
            and following
            and following[0].start == token.end + 1
            and _NAME.match(following[0].text)
            and not (i and tokens[i - 1].end == token.start - 1 and _ends_value(tokens[i - 1]))
        ):
            found.append((token.start, following[0].end, following[0].text))
            i += 2
            continue
        if (
            token.token_type == TokenType.MOD
            and following
            and following[0].token_type == TokenType.MOD
            and following[0].start == token.end + 1
        ):
            found.append((token.start, following[0].end, None))
            i += 2
            continue
        i += 1
    if not pyformat_seen:
        # '%%' means '%' only in pyformat SQL; elsewhere it stays as written.
        found = [f for f in found if f[2] is not None]
    return found


def _pyformat(following, end: int) -> bool:
    """'(' name ')' 's' written with no space in between, right after '%'."""
    if len(following) < 4:
        return False
    paren, name, close, s = following
    adjacent = (
        paren.start == end + 1
        and name.start == paren.end + 1
        and close.start == name.end + 1
        and s.start == close.end + 1
    )
    return (
        adjacent
        and paren.token_type == TokenType.L_PAREN
        and close.token_type == TokenType.R_PAREN
        and bool(_NAME.match(name.text))
        and s.text == "s"
    )


def _ends_value(token) -> bool:
    # 'col:key' (a map or JSON path) is not a placeholder; ' :key' and '(:key' are.
    return token.token_type in {TokenType.VAR, TokenType.R_PAREN, TokenType.R_BRACKET}


def offset(text: str, line: int, col: int) -> int:
    """The 0-based character offset of a 1-based line:col."""
    start = 0
    for _ in range(line - 1):
        start = text.find("\n", start) + 1
        if start == 0:
            return len(text)
    return min(start + max(col, 1) - 1, len(text))


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - text.rfind("\n", 0, offset)
