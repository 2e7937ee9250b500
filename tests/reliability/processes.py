"""Finding Spark's Python workers among this test run's processes, from /proc (Linux)."""

from __future__ import annotations

import os
from pathlib import Path

from vista_sql.spark.session import DAEMON_MODULE


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; the fields after its ')' are fixed.
    return text[text.rindex(")") + 2 :].split()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def parents() -> dict[int, int]:
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))) is not None:
            found[int(entry)] = int(fields[1])
    return found


def descendants(root: int) -> set[int]:
    tree = parents()
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, parent in tree.items() if parent in frontier} - found
        found |= frontier
    return found


def python_workers(root: int | None = None) -> list[int]:
    """Workers forked by a worker daemon below `root` (default: this process): vista_sql's, or
    `pyspark.daemon` where Spark runs its own (a Connect server, a cluster set up without it)."""
    below = descendants(root or os.getpid())
    tree = parents()
    modules = (DAEMON_MODULE, "pyspark.daemon")
    daemons = {pid for pid in below if any(m in _cmdline(pid) for m in modules)}
    return sorted(pid for pid in daemons if tree.get(pid) in daemons)


def cpu_ticks(pid: int) -> int:
    """User + system clock ticks the process has used (0 once it is gone)."""
    fields = _stat(pid)
    return int(fields[11]) + int(fields[12]) if fields else 0
