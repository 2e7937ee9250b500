"""Embedded Spark in a container plans within the container's cgroup limits, not the machine's.

The cgroup trees here are real files laid out as the kernel's v1 and v2 hierarchies show them,
under a scratch root; the last tests plan with what they yield.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_optimizer_rules import _plan

from vista_sql.errors import VistaPlanningError
from vista_sql.optimizer import container, resources
from vista_sql.optimizer.config import GIB, Resources
from vista_sql.statements import explain


def _tree(root: Path, files: dict[str, str], membership: str) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text + "\n")
    (root / "self-cgroup").write_text(membership)
    return root / "self-cgroup"


def test_cgroup_v2_memory_max_and_cpu_max_of_the_processes_group(tmp_path):
    membership = _tree(
        tmp_path,
        {
            "kubepods/pod1/memory.max": str(6 * GIB),
            "kubepods/pod1/cpu.max": "150000 100000",
            "kubepods/memory.max": "max",
        },
        "0::/kubepods/pod1\n",
    )
    found = container.limits(tmp_path, membership)
    assert found.memory == 6 * GIB
    assert found.cpus == 1.5
    assert found.source == str(tmp_path / "kubepods/pod1/memory.max")
    assert container.cores(8, found.cpus) == 2


def test_an_ancestors_tighter_limit_wins(tmp_path):
    membership = _tree(
        tmp_path,
        {"slice/memory.max": str(3 * GIB), "slice/job/memory.max": str(5 * GIB)},
        "0::/slice/job\n",
    )
    assert container.limits(tmp_path, membership).memory == 3 * GIB


def test_cgroup_v1_limit_in_bytes_and_cfs_quota(tmp_path):
    membership = _tree(
        tmp_path,
        {
            "memory/docker/abc/memory.limit_in_bytes": str(4 * GIB),
            "cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "100000",
            "cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000",
            "cpu/docker/abc/cpu.cfs_quota_us": "100000",
            "cpu/docker/abc/cpu.cfs_period_us": "100000",
        },
        "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc\n",
    )
    found = container.limits(tmp_path, membership)
    assert (found.memory, found.cpus) == (4 * GIB, 1.0)


def test_no_limit_reads_as_none(tmp_path):
    # v1's "unlimited" is the largest page-aligned 64-bit number; v2 writes "max", -1 for CPU.
    membership = _tree(
        tmp_path,
        {
            "memory/memory.limit_in_bytes": "9223372036854771712",
            "cpu/cpu.cfs_quota_us": "-1",
            "cpu/cpu.cfs_period_us": "100000",
        },
        "4:memory:/\n2:cpu:/\n",
    )
    assert container.limits(tmp_path, membership) == container.Limits(None, None, "")
    assert container.limits(tmp_path, tmp_path / "missing") == container.Limits(None, None, "")


def test_this_process_is_planned_within_physical_memory():
    machine = resources.machine()
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert 0 < machine.memory <= physical
    assert 1 <= machine.cores <= (os.cpu_count() or 1)
    assert (machine.memory < physical) == bool(machine.source)


CONTAINER = Resources(cores=2, memory=int(5 * GIB), source="container limit, /x/memory.max")


@pytest.mark.cnn
def test_explain_names_the_container_limit_the_plan_was_made_in():
    plan = _plan(resources=CONTAINER)
    text = explain.render(plan, 1)
    assert "machine: 2 core(s), 5.0 GB (container limit, /x/memory.max)" in text
    assert plan.config.memory.total == CONTAINER.memory
    assert "machine:" not in explain.render(_plan(), 1)  # no limit: nothing to point out


@pytest.mark.cnn
def test_a_container_too_small_asks_for_a_higher_limit():
    with pytest.raises(VistaPlanningError, match="a higher memory limit for the container"):
        _plan(resources=Resources(cores=2, memory=2 * GIB, source="container limit, m"))
