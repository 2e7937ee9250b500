"""Progress events of a running statement, for interfaces that show progress bars.

The runner reports; interfaces subscribe. Listeners must be quick and must not raise: they run on
the statement's thread between Spark jobs (stages) or on a training thread (scored rows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class StageEvent:
    kind: str  # "started" | "finished"
    index: int  # 0-based stage number
    stages: int  # how many stages the statement runs
    layer: str
    rows: int | None  # rows entering the stage, when known
    job_group: str  # Spark job group of the stage's jobs (for polling task progress)


@dataclass(frozen=True)
class ScoredEvent:
    """A layer's (or the baseline's) model is scored: its row's point metrics and seconds, as the
    result table will show them, before the statement ends. Sent from a training thread."""

    layer: str
    scores: dict  # metric → value (None where undefined)
    seconds: float


Listener = Callable[[StageEvent | ScoredEvent], None]
_listeners: list[Listener] = []


def subscribe(listener: Listener) -> Callable[[], None]:
    """Add a listener; returns a function that removes it."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


def emit(event: StageEvent) -> None:
    for listener in list(_listeners):
        listener(event)
