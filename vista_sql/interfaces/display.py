"""Rendering results: tables, CSV or JSON for a terminal; plan text and metric plots for Jupyter."""

from __future__ import annotations

import csv
import html
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


METRICS = ("accuracy", "f1", "auc")


class PlanText(str):
    """EXPLAIN output: shown as preformatted text rather than a one-cell table."""

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self)}</pre>"

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text(str(self))


def _error_bars(layers, metric: str):
    """The 95 % intervals of a TRANSFER result as matplotlib's (below, above) bar lengths."""
    low, high = f"{metric}_low", f"{metric}_high"
    if low not in layers.columns or high not in layers.columns:
        return None
    value = layers[metric].astype(float)
    below = (value - layers[low].astype(float)).clip(lower=0).fillna(0)
    above = (layers[high].astype(float) - value).clip(lower=0).fillna(0)
    return [list(below), list(above)]


def metrics_figure(frame):
    """Bars of each metric by layer with their 95 % intervals as error bars, the structured-only
    baseline as a dashed line per metric.

    `frame` is a TRANSFER result as pandas. matplotlib's object API, not pyplot: no global figure
    state, so nothing is drawn twice by an inline backend.
    """
    from matplotlib.figure import Figure

    from vista_sql.execution.runner import BASELINE

    missing = [c for c in ("layer", *METRICS) if c not in frame.columns]
    if missing:
        raise ValueError(f"--plot needs a TRANSFER result; this one has no {', '.join(missing)}")
    layers = frame[frame["layer"] != BASELINE]
    baseline = frame[frame["layer"] == BASELINE]
    metrics = [m for m in METRICS if frame[m].notna().any()]
    figure = Figure(figsize=(max(6.0, 1.4 * len(layers) + 3), 4.2), layout="constrained")
    axes = figure.add_subplot()
    width = 0.8 / max(1, len(metrics))
    colors = ("tab:blue", "tab:orange", "tab:green")
    for i, metric in enumerate(metrics):
        positions = [x + (i - (len(metrics) - 1) / 2) * width for x in range(len(layers))]
        axes.bar(
            positions,
            layers[metric].fillna(0),
            width,
            yerr=_error_bars(layers, metric),
            capsize=3,
            label=metric,
            color=colors[i],
        )
        if not baseline.empty and baseline[metric].notna().all():
            axes.axhline(
                float(baseline[metric].iloc[0]),
                color=colors[i],
                linestyle="--",
                linewidth=1.2,
                label=f"{metric}, structured only",
            )
    # Several CNNs in one statement: the same layer name may belong to more than one.
    names = (
        layers["layer"] if "cnn" not in frame.columns else layers["cnn"] + " · " + layers["layer"]
    )
    axes.set_xticks(range(len(layers)), list(names), rotation=20, ha="right")
    axes.set_ylim(0, 1.05)
    axes.set_ylabel("score on the held-out split")
    axes.set_title("Image features by layer vs. the structured-only baseline")
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    return figure
