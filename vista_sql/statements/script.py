"""Splitting a script into statements, keeping each one's original text and position."""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot.errors import TokenError
from sqlglot.tokens import TokenType

from vista_sql.dialect.openings import LONGEST_OPENING, is_ours
from vista_sql.dialect.tokenizer import VistaTokenizer
from vista_sql.errors import VistaSyntaxError


@dataclass(frozen=True)
class Statement:
    text: str  # exactly as written, without the terminating ';'
    line: int  # 1-based position of its first character in the script
    col: int
    ours: bool  # a vista_sql statement (TRANSFER ...), as opposed to plain Spark SQL


def split(script: str) -> list[Statement]:
    try:
        tokens = VistaTokenizer().tokenize(script)
    except TokenError as error:
        raise VistaSyntaxError(f"cannot read the SQL: {error}") from None
    # Each group ends where its ';' starts: token end offsets are unreliable after EXPLAIN, whose
    # remainder Spark's tokenizer folds into one string token.
    groups: list[tuple[list, int]] = []
    current: list = []
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            groups.append((current, token.start))
            current = []
        else:
            current.append(token)
    groups.append((current, len(script)))
    statements = []
    for group, stop in groups:
        if not group:
            continue
        start = group[0].start
        line = script.count("\n", 0, start) + 1
        col = start - script.rfind("\n", 0, start)
        words = [t.text.upper() for t in group[:LONGEST_OPENING]]
        text = script[start:stop].rstrip()
        statements.append(Statement(text, line, col, is_ours(words)))
    return statements


def is_complete(buffer: str) -> bool:
    """True when the buffer ends with a ';' outside strings and comments (for the prompt)."""
    try:
        tokens = VistaTokenizer().tokenize(buffer)
    except TokenError:
        return False
    return bool(tokens) and tokens[-1].token_type == TokenType.SEMICOLON
