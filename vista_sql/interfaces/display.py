"""Rendering result rows for a terminal: tables, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json

from tabulate import tabulate

MAX_CELL = 60


def _cell(value) -> object:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, (bytes, bytearray)):
        value = value[:20].hex(" ") + (" ..." if len(value) > 20 else "")
    text = value if isinstance(value, (int, float)) or value is None else str(value)
    if isinstance(text, str) and len(text) > MAX_CELL:
        return text[: MAX_CELL - 3] + "..."
    return text


def render(columns: list[str], rows: list[tuple], output: str = "table") -> str:
    if columns == ["plan"] and output == "table":
        return "\n".join(str(row[0]) for row in rows)
    if output == "json":
        return "\n".join(
            json.dumps(dict(zip(columns, row, strict=True)), default=str) for row in rows
        )
    if output == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
        return buffer.getvalue().rstrip("\n")
    body = [[_cell(v) for v in row] for row in rows]
    table = tabulate(body, headers=columns, tablefmt="psql", missingval="NULL", floatfmt=".4f")
    count = len(rows)
    return f"{table}\n{count} row{'s' if count != 1 else ''}"
