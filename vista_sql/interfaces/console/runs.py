"""The console's one session: statements run one at a time in a worker thread, watched by polls.

The page asks for a snapshot (state, per-stage progress, result or error) every few hundred
milliseconds; everything a snapshot reads is guarded by one lock, since the worker, the progress
poller and the web server's threads all touch it.
"""

from __future__ import annotations

import datetime
import decimal
import itertools
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from vista_sql import dbapi
from vista_sql.interfaces import progress

MAX_ROWS = 1000  # rows a result grid shows; the rest stay in Spark
MAX_TEXT = 500
CHART_METRICS = ("accuracy", "f1", "auc", "r2", "rmse", "mae")


class Busy(Exception):
    """A statement is already running in this session."""


@dataclass
class Run:
    id: int
    sql: str
    state: str = "running"  # running | done | error | cancelled
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    stages: dict = field(default_factory=dict)  # key -> progress.StageBar
    scored: list = field(default_factory=list)  # a line per row scored so far
    result: dict | None = None
    error: str | None = None
    cancel_requested: bool = False


class Console:
    def __init__(self, connection: dbapi.Connection, max_rows: int = MAX_ROWS):
        self.connection, self.max_rows = connection, max_rows
        self._lock = threading.Lock()
        self._run: Run | None = None
        self._ids = itertools.count(1)
        # One long-lived worker: Spark's thread-local job properties stay on one thread.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vista-console")

    def start(self, sql: str, explain: bool = False) -> int:
        text = sql.strip().rstrip(";").strip()
        if not text:
            raise ValueError("nothing to run: the editor is empty")
        if explain:
            text = _explained(text)
        with self._lock:
            if self._run is not None and self._run.state == "running":
                raise Busy("a statement is already running: wait for it or cancel it")
            run = self._run = Run(next(self._ids), text)
        self._worker.submit(self._execute, run)
        return run.id

    def cancel(self) -> bool:
        with self._lock:
            run = self._run
            if run is None or run.state != "running":
                return False
            run.cancel_requested = True  # in case the worker has not started the statement yet
        self.connection.cancel()
        return True

    def snapshot(self) -> dict:
        with self._lock:
            run = self._run
            if run is None:
                return {"state": "idle"}
            end = run.finished or time.monotonic()
            return {
                "state": run.state,
                "run": run.id,
                "seconds": round(end - run.started, 1),
                "stages": [_stage(bar) for bar in run.stages.values()],
                "scored": list(run.scored),
                "result": run.result,
                "error": run.error,
            }

    def close(self) -> None:
        self.cancel()
        self._worker.shutdown(wait=True, cancel_futures=True)

    def _execute(self, run: Run) -> None:
        cursor = self.connection.cursor()
        cursor.max_rows = self.max_rows + 1  # one more tells that the grid is cut short
        state, result, error = "done", None, None
        try:
            if run.cancel_requested:
                raise dbapi.QueryCancelledError("cancelled before it started")
            with progress.track(self.connection.session.spark, _Bars(run, self._lock)):
                cursor.execute(run.sql)
            result = _result(cursor, self.max_rows)
        except dbapi.QueryCancelledError as cancelled:
            state, error = "cancelled", str(cancelled)
        except dbapi.Error as failed:
            state, error = "error", str(failed)
        except Exception as failed:  # noqa: BLE001 - the page shows it; the server stays up
            state, error = "error", f"{type(failed).__name__}: {failed}".splitlines()[0]
        finally:
            cursor.close()
        with self._lock:
            run.state, run.result, run.error = state, result, error
            run.finished = time.monotonic()


class _Bars:
    """progress.Tracker's renderer: keeps the bars in the run for the next snapshot."""

    def __init__(self, run: Run, lock: threading.Lock):
        self._run, self._lock = run, lock

    def begin(self, key: str, bar: progress.StageBar) -> None:
        with self._lock:
            self._run.stages[key] = bar

    def update(self, key: str) -> None:
        pass  # the bar is read at each snapshot

    def scored(self, event) -> None:
        with self._lock:
            self._run.scored.append(progress.scored_line(event))

    def close(self) -> None:
        pass


def _explained(text: str) -> str:
    from vista_sql.errors import VistaError
    from vista_sql.statements import split

    try:
        statements = split(text)
    except VistaError:
        return f"EXPLAIN {text}"  # the run reports the syntax error
    if len(statements) != 1:
        raise ValueError("Explain takes one statement; the editor holds several")
    words = statements[0].text.split(None, 1)
    return text if words[0].upper() == "EXPLAIN" else f"EXPLAIN {text}"


def _stage(bar: progress.StageBar) -> dict:
    return {
        "label": bar.label,
        "done": bar.done,
        "total": bar.total,
        "finished": bar.finished is not None,
        "summary": bar.summary(),
    }


def _result(cursor, max_rows: int) -> dict:
    if cursor.description is None:
        return {"columns": [], "rows": [], "message": "done: the statement returns no rows"}
    columns = [{"name": c[0], "type": c[1]} for c in cursor.description]
    rows = cursor.fetchall()
    names = [c["name"] for c in columns]
    result = {
        "columns": columns,
        "rows": [[_json(value) for value in row] for row in rows[:max_rows]],
        "truncated": len(rows) > max_rows,
    }
    if names == ["plan"]:
        result["plan"] = "\n".join(str(row[0]) for row in rows)
    result["chart"] = _chart(names, rows[:max_rows])
    return result


def _chart(names: list[str], rows: list[tuple]) -> dict | None:
    """The primary metric per layer, the structured-only row as the baseline."""
    from vista_sql.execution.runner import BASELINE

    if "layer" not in names:
        return None
    layer = names.index("layer")
    for metric in CHART_METRICS:
        if metric not in names:
            continue
        at = names.index(metric)
        values = [(row[layer], row[at], _interval(names, row, metric)) for row in rows]
        values = [v for v in values if _finite(v[1])]
        bars = [
            {"layer": name, "value": value, "interval": interval}
            for name, value, interval in values
            if name != BASELINE
        ]
        if bars:
            baseline = [value for name, value, _ in values if name == BASELINE]
            return {"metric": metric, "bars": bars, "baseline": baseline[0] if baseline else None}
    return None


def _interval(names: list[str], row: tuple, metric: str) -> list[float] | None:
    """The row's 95 % interval for `metric` ([low, high]) when the result carries one."""
    if f"{metric}_low" not in names or f"{metric}_high" not in names:
        return None
    bounds = [row[names.index(f"{metric}_low")], row[names.index(f"{metric}_high")]]
    return bounds if all(_finite(b) for b in bounds) else None


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _json(value):
    """A cell as JSON: numbers stay numbers; everything else becomes short text."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (bytes, bytearray)):
        head = bytes(value[:16]).hex(" ")
        return f"{head} ... ({len(value)} bytes)" if len(value) > 16 else head
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat(sep=" ") if isinstance(value, datetime.datetime) else str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)  # exact; the page aligns it as a number by its column type
    text = str(value)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3] + "..."
