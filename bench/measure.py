"""Wall time, CPU time and peak memory of one child process and everything it starts.

The child (a measured system) runs in its own session; psutil polls its whole process tree (the
Python child, Spark's JVM, PySpark's daemon and Python workers, TensorFlow threads) every
`interval` seconds. Peak memory is the largest sum of resident set sizes seen at one poll; CPU
time is the larger of (a) the CPU seconds of every process ever seen, at its last sighting, and
(b) the child's rusage from wait4, which includes every descendant that was reaped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field

import psutil

from bench import cgroup


@dataclass
class Measurement:
    command: list[str]
    returncode: int | None
    timed_out: bool
    memory_killed: bool  # the tree outgrew `memory_limit` and was killed, as a container would be
    limit_enforced_by: str  # "cgroup" (the kernel, in a real memory cgroup), "watchdog" or ""
    wall_seconds: float
    cpu_seconds: float
    peak_rss_bytes: int
    peak_processes: int
    peak_worker_rss_bytes: int  # the largest single PySpark worker / TensorFlow process
    peak_worker_vms_bytes: int  # its address space (what spark.executor.pyspark.memory limits)
    samples: int
    log: str = ""
    rss_timeline: list = field(default_factory=list)  # (seconds, MB), thinned

    def as_dict(self) -> dict:
        return asdict(self)


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def run(
    command: list[str],
    *,
    timeout: float | None = None,
    memory_limit: int | None = None,
    profile_dir: str | None = None,
    interval: float = 0.25,
    log_path: str | None = None,
    env: dict | None = None,
    cwd: str | None = None,
    in_cgroup: bool = False,
) -> Measurement:
    """`in_cgroup`: enforce `memory_limit` in a real memory cgroup where one can be made, else
    (and by default) kill the tree from here when its resident memory exceeds the limit."""
    group = cgroup.MemoryCgroup.create(memory_limit) if in_cgroup and memory_limit else None
    enforced_by = "cgroup" if group else "watchdog" if memory_limit else ""
    log = open(log_path, "w") if log_path else subprocess.DEVNULL  # noqa: SIM115
    started = time.perf_counter()
    child = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: a timeout kills the whole tree
        env=env,
        cwd=cwd,
        preexec_fn=group.join if group else None,
    )
    root = psutil.Process(child.pid)
    cpu_seen: dict[tuple[int, float], float] = {}  # (pid, create_time) → CPU seconds
    peak_rss = peak_procs = samples = 0
    worker_rss = worker_vms = 0
    is_worker: dict[int, bool] = {}
    profilers: list[subprocess.Popen] = []
    timeline: list[tuple[float, float]] = []
    timed_out = memory_killed = False
    status = usage = None
    while True:
        # wait4 (not Popen.poll) reaps the child: its rusage counts every reaped descendant.
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid == child.pid:
            break
        try:
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            tree = []
        rss = 0
        for process in tree:
            try:
                with process.oneshot():
                    memory = process.memory_info()
                    rss += memory.rss
                    cpu_seen[(process.pid, process.create_time())] = _cpu(process)
                if process.pid not in is_worker:
                    is_worker[process.pid] = "java" not in process.name()
                    if profile_dir and is_worker[process.pid]:
                        role = "driver" if process.pid == root.pid else "worker"
                        profiler = _profile(process.pid, role, profile_dir)
                        profilers += [profiler] if profiler else []
                if is_worker[process.pid]:
                    worker_rss = max(worker_rss, memory.rss)
                    worker_vms = max(worker_vms, memory.vms)
            except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                continue
        samples += 1
        peak_rss, peak_procs = max(peak_rss, rss), max(peak_procs, len(tree))
        elapsed = time.perf_counter() - started
        if not timeline or elapsed - timeline[-1][0] >= 2.0:
            timeline.append((round(elapsed, 1), round(rss / 2**20)))
        if timeout is not None and elapsed > timeout and not timed_out:
            timed_out = True
            _kill_tree(child.pid)
        if group is None and memory_limit is not None and rss > memory_limit and not memory_killed:
            # What YARN or Kubernetes does to a container over its memory limit.
            memory_killed = True
            _kill_tree(child.pid)
        time.sleep(interval)
    wall = time.perf_counter() - started
    returncode = os.waitstatus_to_exitcode(status)
    child.returncode = returncode  # already reaped: keep Popen from waiting on it again
    rusage_cpu = usage.ru_utime + usage.ru_stime
    if log_path:
        log.close()
    _kill_tree(child.pid)  # stragglers (a JVM orphaned by a crash) must not outlive the run
    if group is not None:
        memory_killed = group.oom_kills() > 0
        group.close()
    for profiler in profilers:
        try:
            profiler.wait(timeout=30)  # py-spy writes its file when its target exits
        except subprocess.TimeoutExpired:
            profiler.kill()
    return Measurement(
        command=command,
        returncode=returncode,
        timed_out=timed_out,
        memory_killed=memory_killed,
        limit_enforced_by=enforced_by,
        wall_seconds=round(wall, 3),
        cpu_seconds=round(max(sum(cpu_seen.values()), rusage_cpu), 2),
        peak_rss_bytes=peak_rss,
        peak_processes=peak_procs,
        peak_worker_rss_bytes=worker_rss,
        peak_worker_vms_bytes=worker_vms,
        samples=samples,
        log=log_path or "",
        rss_timeline=timeline,
    )


def _profile(pid: int, role: str, directory: str) -> subprocess.Popen | None:
    """py-spy, sampling `pid` until it exits (collapsed stacks; not part of the measured tree)."""
    os.makedirs(directory, exist_ok=True)
    spy = os.path.join(os.path.dirname(sys.executable), "py-spy")
    if not os.path.exists(spy):
        return None  # profiling is optional: no py-spy, no profile
    return subprocess.Popen(
        [spy, "record", "-p", str(pid), "-r", "20", "--idle", "--format", "raw"]
        + ["-o", os.path.join(directory, f"{role}-{pid}.txt")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(
            os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]
        ),
    )


def _kill_tree(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
