"""Tokenizing for the vista dialect.

Spark's tokenizer treats EXPLAIN and SHOW as commands and folds the rest of the statement into one
string. Our statements that open with a command (EXPLAIN TRANSFER, SHOW CNNS, ...: openings.FORMS)
must be parsed, so exactly those strings are re-tokenized in place; every other command keeps
Spark's tokens, so plain Spark SQL parses as it does in sqlglot's Spark dialect.
"""

from __future__ import annotations

import re

from sqlglot.dialects.spark import Spark
from sqlglot.tokens import Token, TokenType

from vista_sql.dialect.openings import FORMS


class VistaTokenizer(Spark.Tokenizer):
    def tokenize(self, sql: str) -> list[Token]:
        tokens = super().tokenize(sql)
        out: list[Token] = []
        i = 0
        while i < len(tokens):
            token = tokens[i]
            out.append(token)
            following = tokens[i + 1] if i + 1 < len(tokens) else None
            ours = OURS_AFTER_COMMAND.get(token.text.upper())
            if (
                ours is not None
                and token.token_type in self.COMMANDS
                and following is not None
                and following.token_type == TokenType.STRING
                and ours.match(following.text)
            ):
                offset = sql.index(following.text, token.end + 1)
                inner = type(self)().tokenize(following.text)
                out.extend(_shifted(tok, offset, sql) for tok in inner)
                i += 2
                continue
            i += 1
        return out


def _after_commands() -> dict[str, re.Pattern]:
    """What follows a command word when the statement is one of ours."""
    following: dict[str, list[str]] = {}
    for form in FORMS:
        head, *rest = form.words
        if VistaTokenizer.KEYWORDS.get(head) in VistaTokenizer.COMMANDS:
            end = r"\s*$" if form.alone else r"\b"
            following.setdefault(head, []).append(r"\s+".join(rest) + end)
    return {
        head: re.compile(rf"\s*(?:{'|'.join(alternatives)})", re.IGNORECASE)
        for head, alternatives in following.items()
    }


OURS_AFTER_COMMAND = _after_commands()


def _shifted(token: Token, offset: int, sql: str) -> Token:
    start, end = token.start + offset, token.end + offset
    line = sql.count("\n", 0, end) + 1
    col = end - sql.rfind("\n", 0, end)
    return Token(token.token_type, token.text, line, col, start, end, token.comments)
