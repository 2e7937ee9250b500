"""Reading literal values and source positions out of sqlglot nodes."""

from __future__ import annotations

from sqlglot import exp

from vista_sql.errors import VistaBindError


def position(node: exp.Expr | None) -> tuple[int | None, int | None]:
    """1-based line and start column of the first identifier or literal in `node`."""
    if node is None:
        return None, None
    for candidate in node.walk():
        meta = getattr(candidate, "meta", None) or {}
        if "line" in meta:
            return meta["line"], meta["col"] - (meta["end"] - meta["start"])
    return None, None


def literal_value(node: exp.Expr) -> object:
    """A Python value for a literal (numbers, strings, booleans, bare words as strings)."""
    if isinstance(node, exp.Neg):
        inner = literal_value(node.this)
        if isinstance(inner, (int, float)) and not isinstance(inner, bool):
            return -inner
    elif isinstance(node, exp.Boolean):
        return bool(node.this)
    elif isinstance(node, exp.Literal):
        if node.is_string:
            return node.name
        text = node.name
        return float(text) if any(c in text for c in ".eE") else int(text)
    elif isinstance(node, (exp.Column, exp.Identifier, exp.Var)) and not isinstance(node, exp.Dot):
        return node.name
    line, col = position(node)
    raise VistaBindError(f"expected a literal value, not '{node.sql(dialect='spark')}'", line, col)
