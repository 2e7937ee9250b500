"""What a person sees while a statement runs: a bar per stage (CNN layer), and Ctrl-C.

The runner says when a stage starts and finishes (vista_sql.execution.events). How far a stage has
got is read from Spark in a background thread: each stage is one CACHE TABLE, and Spark caches its
partitions one by one as their images come out of the CNN, so cached partitions of the stage's new
in-memory table, times the rows entering it, are the images done. (Task counts of the stage's job
group were tried first: the broadcast and scan jobs that precede inference finish at once and made
the bars jump ahead, most on large inputs, where the scan has the most tasks.)

Two renderers: `rich` on a terminal, and an HTML <progress> display updated in place in Jupyter
(IPython's display handles, so no ipywidgets is needed).
"""

from __future__ import annotations

import html
import signal
import sys
import threading
import time
from dataclasses import dataclass, field

from vista_sql.execution import events
from vista_sql.spark import remote

POLL_SECONDS = 0.5
CACHE_RDD_PREFIX = "In-memory table "  # Spark's name for the RDD behind CACHE TABLE


def cached_tables(jvm_context) -> dict[int, tuple[int, int]]:
    """RDD id -> (cached partitions, partitions) of every table CACHE TABLE is building or holds."""
    return {
        info.id(): (info.numCachedPartitions(), info.numPartitions())
        for info in jvm_context.getRDDStorageInfo()
        if info.name().startswith(CACHE_RDD_PREFIX)
    }


@dataclass
class StageBar:
    label: str
    total: int | None  # images entering the stage, when known
    done: int = 0
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    def rate(self) -> float | None:
        elapsed = (self.finished or time.monotonic()) - self.started
        return self.done / elapsed if self.done and elapsed > 0 else None

    def eta(self) -> float | None:
        rate = self.rate()
        if self.finished or not rate or self.total is None:
            return None
        return max(0.0, (self.total - self.done) / rate)

    def summary(self) -> str:
        total = "?" if self.total is None else str(self.total)
        parts = [f"{self.done}/{total} images"]
        rate = self.rate()
        if rate is not None:
            parts.append(f"{rate:.1f} img/s")
        if self.finished is not None:
            parts.append(f"done in {_clock(self.finished - self.started)}")
        elif (eta := self.eta()) is not None:
            parts.append(f"ETA {_clock(eta)}")
        return " · ".join(parts)


def scored_line(event: events.ScoredEvent) -> str:
    """`avg_pool: accuracy 0.930 · f1 0.929 · auc 0.955 (5.0 s)`: a row as soon as it is scored."""
    shown = " · ".join(
        f"{metric} {'NULL' if value is None else f'{value:.3f}'}"
        for metric, value in event.scores.items()
    )
    return f"{event.layer}: {shown} ({event.seconds:.1f} s)"


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}:{secs:02d}"


class TerminalBars:
    """rich progress bars on stderr, removed when the statement ends (its result follows)."""

    def __init__(self):
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn

        self._progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            TextColumn("{task.fields[summary]}", markup=False),
            console=Console(stderr=True),
            transient=True,
        )
        self._tasks: dict[str, tuple[int, StageBar]] = {}
        self._running = False

    def begin(self, key: str, bar: StageBar) -> None:
        if not self._running:
            self._progress.start()
            self._running = True
        task = self._progress.add_task(bar.label, total=bar.total, summary=bar.summary())
        self._tasks[key] = (task, bar)

    def update(self, key: str) -> None:
        task, bar = self._tasks[key]
        self._progress.update(task, completed=bar.done, summary=bar.summary(), refresh=True)

    def scored(self, event: events.ScoredEvent) -> None:
        # Above the bars, and kept: the table at the end repeats it with intervals.
        self._progress.console.print(scored_line(event), markup=False, highlight=False)

    def close(self) -> None:
        if self._running:
            self._progress.stop()
            self._running = False


class NotebookBars:
    """One display per statement, updated in place: a <progress> row per stage."""

    def __init__(self):
        self._bars: dict[str, StageBar] = {}
        self._scored: list[str] = []
        self._handle = None
        self._lock = threading.Lock()

    def begin(self, key: str, bar: StageBar) -> None:
        from IPython.display import display

        self._bars[key] = bar
        if self._handle is None:
            self._handle = display(self._bundle(), raw=True, display_id=True)
        else:
            self.update(key)

    def update(self, key: str) -> None:
        # The poller thread and the statement's thread both update; keep the messages ordered.
        with self._lock:
            if self._handle is not None:
                self._handle.update(self._bundle(), raw=True)

    def scored(self, event: events.ScoredEvent) -> None:
        from IPython.display import display

        with self._lock:
            self._scored.append(scored_line(event))
            if self._handle is None:
                self._handle = display(self._bundle(), raw=True, display_id=True)
            else:
                self._handle.update(self._bundle(), raw=True)

    def close(self) -> None:
        pass  # the finished bars stay in the cell's output as a record of the run

    def _bundle(self) -> dict[str, str]:
        rows, lines = [], []
        for bar in list(self._bars.values()):
            maximum = bar.total if bar.total else 1
            value = bar.done if bar.total else (1 if bar.finished else 0)
            label, summary = html.escape(bar.label), html.escape(bar.summary())
            rows.append(
                f"<tr><td style='text-align:left'><code>{label}</code></td>"
                f"<td><progress value='{value}' max='{maximum}' style='width:16em'></progress>"
                f"</td><td style='text-align:left'>{summary}</td></tr>"
            )
            width = 20
            filled = int(width * value / maximum)
            lines.append(f"{bar.label} [{'#' * filled}{'.' * (width - filled)}] {bar.summary()}")
        scored = "".join(f"<li><code>{html.escape(line)}</code></li>" for line in self._scored)
        listed = f"<ul style='margin:0'>{scored}</ul>" if scored else ""
        return {
            "text/html": f"<table>{''.join(rows)}</table>{listed}",
            "text/plain": "\n".join([*lines, *self._scored]),
        }


class Tracker:
    """Shows the stages of the statements run inside `with Tracker(spark, bars):`."""

    def __init__(self, spark, bars, interval: float = POLL_SECONDS):
        self._bars, self._interval = bars, interval
        # Spark's storage status is on the JVM SparkContext only; PySpark does not wrap it.
        self._jvm = remote.jvm_context(spark) if bars is not None else None
        self._current: StageBar | None = None
        self._key = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsubscribe = None

    def __enter__(self) -> Tracker:
        if self._bars is not None:
            self._unsubscribe = events.subscribe(self._on_event)
        return self

    def __exit__(self, *exc) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._stop_polling()
        if self._bars is not None:
            self._bars.close()

    def _on_event(self, event: events.StageEvent | events.ScoredEvent) -> None:
        # A broken progress bar must never fail the statement it reports on.
        try:
            if isinstance(event, events.ScoredEvent):
                self._bars.scored(event)
            elif event.kind == "started":
                self._stop_polling()
                label = f"stage {event.index + 1}/{event.stages} {event.layer}"
                self._current, self._key = StageBar(label, event.rows), event.job_group
                self._bars.begin(self._key, self._current)
                # Tables cached before the stage starts (the previous stage's) are not its own.
                before = set(cached_tables(self._jvm))
                self._stop = threading.Event()
                self._thread = threading.Thread(
                    target=self._poll,
                    args=(self._current, self._key, before, self._stop),
                    name="vista-progress",
                    daemon=True,
                )
                self._thread.start()
            elif event.kind == "finished" and event.job_group == self._key and self._current:
                self._stop_polling()
                bar = self._current
                bar.done, bar.finished = bar.total or bar.done, time.monotonic()
                self._bars.update(self._key)
        except Exception:  # noqa: BLE001
            pass

    def _poll(self, bar: StageBar, key: str, before: set[int], stop: threading.Event) -> None:
        while not stop.wait(self._interval):
            try:
                tables = cached_tables(self._jvm)
            except Exception:  # noqa: BLE001 - Spark stopping or cancelled: stop reporting
                return
            if stop.is_set():
                return
            new = [progress for rdd, progress in tables.items() if rdd not in before]
            if new and bar.total is not None:
                cached, partitions = new[0]
                bar.done = max(bar.done, bar.total * cached // max(1, partitions))
            try:  # every tick, so the rate and ETA keep moving between partitions
                self._bars.update(key)
            except Exception:  # noqa: BLE001
                return

    def _stop_polling(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._thread = None


def terminal_bars() -> TerminalBars | None:
    """Bars only when a person is watching: both output streams on a terminal."""
    if sys.stdout.isatty() and sys.stderr.isatty():
        return TerminalBars()
    return None


def track(spark, bars) -> Tracker:
    """`with track(spark, bars):` around statements; bars=None shows nothing."""
    if remote.is_connect(spark):  # no JVM storage status to poll over Spark Connect
        bars = None
    return Tracker(spark, bars)


class CancelOnInterrupt:
    """During a statement, Ctrl-C cancels its Spark jobs; the statement ends in KeyboardInterrupt.

    PySpark's own SIGINT handler calls into the JVM from inside the signal handler; when the
    signal lands during a JVM call (nearly always, mid statement) that call and the cancel share
    one Py4J connection, and both break. Here the handler only sets a flag; a separate thread,
    on its own connection, cancels every job until the statement returns, so a job started after
    the first cancel is stopped too. A second Ctrl-C interrupts at once.
    """

    def __init__(self, spark):
        self._spark = spark
        self.cancelled = threading.Event()
        self._done = threading.Event()
        self._previous = None
        self._canceller: threading.Thread | None = None

    def __enter__(self) -> CancelOnInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self._done.set()
        if self._canceller is not None:
            self._canceller.join(timeout=5)  # no stray cancel may hit the next statement's jobs
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        if self.cancelled.is_set() and exc_type is not KeyboardInterrupt:
            # Whatever the cancelled job raised (a SparkException naming its job group) is noise.
            raise KeyboardInterrupt from None
        return False

    def _handler(self, signum, frame) -> None:
        if self.cancelled.is_set():
            raise KeyboardInterrupt
        self.cancelled.set()
        self._canceller = threading.Thread(
            target=self._cancel_until_done, name="vista-cancel", daemon=True
        )
        self._canceller.start()

    def _cancel_until_done(self) -> None:
        while not self._done.is_set():
            try:
                remote.cancel_all(self._spark)  # Spark Connect: interruptAll
            except Exception:  # noqa: BLE001 - Spark already stopped: nothing left to cancel
                return
            self._done.wait(0.25)
