"""A Python worker killed mid-stage costs a task retry, not the statement, nor its result."""

from __future__ import annotations

import os
import signal
import threading
import time

from reliability import processes

# A CNN configuration no other test uses (a fresh seed per attempt): every worker builds it afresh,
# which keeps the stage's tasks busy long enough to be caught mid-way.
STATEMENT = (
    "TRANSFER FEATURES FROM mobilenetv2 WEIGHTS RANDOM SEED {seed} LAYERS (block_13_expand) "
    "ON images AS i (id, content) JOIN products USING (id) "
    "TRAIN logistic_regression (LABEL is_popular)"
)
# A kill can still land on a worker whose task has just ended (CI once saw that as the statement's
# last kill, and in session 24, on a slower machine under both pytest processes, on all six kills
# of three statements; in session 25 five statements' kills all missed, 31 s in all); the
# statement is then run again, up to this many times, until a kill fails a task.
STATEMENT_ATTEMPTS = 8


class Killer(threading.Thread):
    """Kills a Python worker that has been busy for a while as a Spark stage runs tasks, and again
    if that kill failed no task. Busy for several samples in a row, not one: TensorFlow's threads
    keep a worker on the CPU for a moment after its task ends, and an idle worker's death costs
    nothing. A worker that builds this CNN afresh stays busy for seconds, inside its task."""

    ATTEMPTS = 5
    BUSY_SAMPLES = 4  # of SAMPLE seconds each, every one with at least 2 clock ticks used
    SAMPLE = 0.1
    SETTLE = 3.0  # seconds for a killed task's failure to reach the status tracker

    def __init__(self, spark):
        super().__init__(daemon=True, name="worker-killer")
        self.tracker = spark.sparkContext.statusTracker()
        self.done = threading.Event()
        self.killed: list[int] = []
        self.stages: set[int] = set()  # every stage seen running tasks while the killer ran

    def failed_tasks(self) -> int:
        return sum(
            info.numFailedTasks
            for stage in self.stages
            if (info := self.tracker.getStageInfo(stage)) is not None
        )

    def run(self) -> None:
        before: dict[int, int] = {}
        busy_for: dict[int, int] = {}  # samples in a row in which the worker used the CPU
        last_kill = float("-inf")
        while not self.done.is_set() and len(self.killed) < self.ATTEMPTS:
            if self.killed and self.failed_tasks() >= 1:
                return
            running = {
                stage
                for stage in self.tracker.getActiveStageIds()
                if (info := self.tracker.getStageInfo(stage)) and info.numActiveTasks > 0
            }
            now = {pid: processes.cpu_ticks(pid) for pid in processes.python_workers()}
            busy_for = {
                pid: busy_for.get(pid, 0) + 1
                for pid, ticks in now.items()
                if ticks - before.get(pid, ticks) >= 2
            }
            steady = [pid for pid, samples in busy_for.items() if samples >= self.BUSY_SAMPLES]
            self.stages |= running
            if running and steady and time.monotonic() - last_kill > self.SETTLE:
                os.kill(steady[0], signal.SIGKILL)
                self.killed.append(steady[0])
                last_kill = time.monotonic()
            before = now
            time.sleep(self.SAMPLE)


def _without_seconds(rows) -> list[tuple]:
    return [tuple(v for k, v in row.asDict().items() if k != "seconds") for row in rows]


def _run_while_killing(vista, statement: str) -> tuple[list, object, Killer]:
    killer = Killer(vista.spark)
    killer.start()
    try:
        rows = vista.sql(statement).collect()
        inferred = vista.last_metrics.get("inferred")
    finally:
        killer.done.set()
        killer.join()
    return rows, inferred, killer


def test_a_worker_killed_mid_stage_is_retried_and_the_result_is_unchanged(vista, demo_views):
    for seed in range(1234, 1234 + STATEMENT_ATTEMPTS):
        statement = STATEMENT.format(seed=seed)
        disturbed, disturbed_inferred, killer = _run_while_killing(vista, statement)
        if killer.failed_tasks() >= 1:
            break
    assert killer.killed, "no Python worker was seen busy during the statement"
    assert killer.failed_tasks() >= 1, f"none of the {len(killer.killed)} killed workers ran a task"

    undisturbed = vista.sql(statement).collect()
    # Exact: the retried task runs the same plan's batch in a worker configured like the killed
    # one (same kernels, same threads), and a retry must not change a single bit.
    assert _without_seconds(disturbed) == _without_seconds(undisturbed)
    assert disturbed_inferred == vista.last_metrics.get("inferred")
