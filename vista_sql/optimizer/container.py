"""The limits a container (a Linux cgroup, v1 or v2) puts on this process: Docker, Kubernetes and
YARN enforce memory there, and the kernel kills the whole group beyond it, however much physical
memory the machine has. Embedded Spark plans within the smaller of the two.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
SELF = Path("/proc/self/cgroup")
# cgroup v1 writes "no limit" as the largest page-aligned 64-bit value, not as "max".
_UNLIMITED_V1 = 1 << 62


@dataclass(frozen=True)
class Limits:
    memory: int | None  # bytes, None when unlimited
    cpus: float | None  # the CPU quota in cores, None when unlimited
    source: str  # the file the memory limit came from, for EXPLAIN


def limits(root: Path = ROOT, membership: Path = SELF) -> Limits:
    """The tightest memory and CPU limits of this process's cgroup and its ancestors."""
    try:
        lines = membership.read_text().splitlines()
    except OSError:
        return Limits(None, None, "")
    paths = {}
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    memory = _tightest(root, paths, "memory", ("memory.max", "memory.limit_in_bytes"), _bytes)
    cpus = _tightest(root, paths, "cpu", ("cpu.max", "cpu.cfs_quota_us"), _cores)
    return Limits(memory[0], cpus[0], memory[1])


def _tightest(root: Path, paths: dict, controller: str, names: tuple, parse) -> tuple:
    """The smallest limit in any of the group's directories, from the group up to the root."""
    found, where = None, ""
    for directory in _candidates(root, paths, controller):
        for name in names:
            value = parse(directory / name)
            if value is not None and (found is None or value < found):
                found, where = value, str(directory / name)
    return found, where


def _candidates(root: Path, paths: dict, controller: str):
    """v2: root/<path> and its parents; v1: root/<controller>/<path> and its parents. Inside a
    container the group's own directory is often mounted as the controller's root."""
    bases = []
    if "" in paths:
        bases.append((root, paths[""]))
    v1 = next((p for c, p in paths.items() if controller in c.split(",")), None)
    if v1 is not None:
        bases.append((root / controller, v1))
    seen = set()
    for base, path in bases:
        parts = [p for p in path.split("/") if p]
        for depth in range(len(parts), -1, -1):
            directory = base.joinpath(*parts[:depth])
            if directory not in seen and directory.is_dir():
                seen.add(directory)
                yield directory


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _bytes(path: Path) -> int | None:
    text = _read(path)
    if not text or text == "max" or not text.isdigit():
        return None
    value = int(text)
    return None if value >= _UNLIMITED_V1 else value


def _cores(path: Path) -> float | None:
    text = _read(path)
    if not text:
        return None
    if path.name == "cpu.max":  # "<quota> <period>" or "max <period>"
        quota, _, period = text.partition(" ")
        if quota == "max" or not period:
            return None
        return int(quota) / int(period)
    quota = int(text)  # cpu.cfs_quota_us beside cpu.cfs_period_us; -1 is unlimited
    period = _read(path.with_name("cpu.cfs_period_us"))
    return quota / int(period) if quota > 0 and period else None


def cores(available: int, cpus: float | None) -> int:
    """Whole cores to plan for: what the scheduler lets this process use, within the quota."""
    return available if cpus is None else max(1, min(available, math.ceil(cpus)))
