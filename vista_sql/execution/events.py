"""Progress events of a running statement, for interfaces that show progress bars.

The runner reports; interfaces subscribe. Listeners must be quick and must not raise: they run on
the statement's thread between Spark jobs.
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


Listener = Callable[[StageEvent], None]
_listeners: list[Listener] = []


def subscribe(listener: Listener) -> Callable[[], None]:
    """Add a listener; returns a function that removes it."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


def emit(event: StageEvent) -> None:
    for listener in list(_listeners):
        listener(event)
