"""A real memory cgroup for the memory-pressure budgets, where this machine lets us make one.

Inside it the kernel enforces the limit the way Docker, Kubernetes and YARN's cgroup mode do
(reclaiming page cache first, then OOM-killing a process of the group), and the optimizer sees
the limit as a container's (`vista_sql/optimizer/container.py`). Where cgroups are not writable,
`bench/measure.py` falls back to killing the process tree above the limit from outside.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from vista_sql.optimizer import container


class MemoryCgroup:
    """A child of this process's own memory cgroup, limited to `limit` bytes; removed on close."""

    def __init__(self, path: Path, version: int):
        self.path = path
        self.version = version

    @classmethod
    def create(cls, limit: int) -> MemoryCgroup | None:
        """None when this machine does not let us (no cgroup fs, read-only, v2 without the memory
        controller delegated)."""
        try:
            lines = container.SELF.read_text().splitlines()
        except OSError:
            return None
        groups = dict(line.split(":", 2)[1:] for line in lines)
        name = f"vista-bench-{uuid.uuid4().hex[:8]}"
        v1 = next((p for c, p in groups.items() if "memory" in c.split(",")), None)
        if v1 is not None:
            parent, version, files = container.ROOT / "memory", 1, ["memory.limit_in_bytes"]
            path = parent.joinpath(*[p for p in v1.split("/") if p], name)
            if (path.parent / "memory.memsw.limit_in_bytes").exists():
                files.append("memory.memsw.limit_in_bytes")  # swap may not stretch the limit
        elif "" in groups:
            parent, version, files = container.ROOT, 2, ["memory.max", "memory.swap.max"]
            path = parent.joinpath(*[p for p in groups[""].split("/") if p], name)
        else:
            return None
        try:
            path.mkdir()
        except OSError:
            return None
        group = cls(path, version)
        try:
            for file in files:
                text = "0" if file == "memory.swap.max" else str(limit)
                (path / file).write_text(text)
        except OSError:
            group.close()
            return None
        return group

    def join(self) -> None:
        """Move the calling process into the group: `preexec_fn` of the measured child, so the
        child and everything it starts are inside."""
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def oom_kills(self) -> int:
        """Processes of the group the kernel killed for memory."""
        events = "memory.oom_control" if self.version == 1 else "memory.events"
        try:
            for line in (self.path / events).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except OSError:
            pass
        return 0

    def close(self) -> None:
        """Remove the group; any straggler still in it is moved back to the parent first."""
        try:
            for pid in (self.path / "cgroup.procs").read_text().split():
                (self.path.parent / "cgroup.procs").write_text(pid)
            self.path.rmdir()
        except OSError:
            pass
