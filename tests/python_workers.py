"""The Python workers of a session's pools, found through /proc."""

from __future__ import annotations

import os
from pathlib import Path


def workers_of(daemons: set[int]) -> set[int]:
    """The live processes the given pyspark.daemon processes forked: their Python workers."""
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:  # exited while listed
            continue
        state, parent = stat[stat.rindex(")") + 2 :].split()[:2]
        if int(parent) in daemons and state != "Z":
            found.add(int(pid))
    return found
