"""A Python worker killed mid-stage costs a task retry, not the statement, nor its result."""

from __future__ import annotations

import os
import signal
import threading
import time

from reliability import processes

# A CNN configuration no other test uses: every worker builds it afresh, which keeps the stage's
# tasks busy long enough to be caught mid-way.
STATEMENT = (
    "TRANSFER FEATURES FROM mobilenetv2 WEIGHTS RANDOM SEED 1234 LAYERS (block_13_expand) "
    "ON images AS i (id, content) JOIN products USING (id) "
    "TRAIN logistic_regression (LABEL is_popular)"
)


class Killer(threading.Thread):
    """Kills the first Python worker seen busy while a Spark stage runs tasks."""

    def __init__(self, spark):
        super().__init__(daemon=True, name="worker-killer")
        self.tracker = spark.sparkContext.statusTracker()
        self.done = threading.Event()
        self.killed: int | None = None
        self.stages: set[int] = set()  # stages running tasks at the moment of the kill

    def run(self) -> None:
        before: dict[int, int] = {}
        while not self.done.is_set() and self.killed is None:
            running = {
                stage
                for stage in self.tracker.getActiveStageIds()
                if (info := self.tracker.getStageInfo(stage)) and info.numActiveTasks > 0
            }
            now = {pid: processes.cpu_ticks(pid) for pid in processes.python_workers()}
            busy = [pid for pid, ticks in now.items() if ticks - before.get(pid, ticks) >= 2]
            if running and busy:
                self.stages = running
                os.kill(busy[0], signal.SIGKILL)
                self.killed = busy[0]
            before = now
            time.sleep(0.1)


def _without_seconds(rows) -> list[tuple]:
    return [tuple(v for k, v in row.asDict().items() if k != "seconds") for row in rows]


def test_a_worker_killed_mid_stage_is_retried_and_the_result_is_unchanged(vista, demo_views):
    killer = Killer(vista.spark)
    killer.start()
    try:
        disturbed = vista.sql(STATEMENT).collect()
        disturbed_inferred = vista.last_metrics.get("inferred")
    finally:
        killer.done.set()
        killer.join()
    assert killer.killed is not None, "no Python worker was seen busy during the statement"
    tracker = vista.spark.sparkContext.statusTracker()
    failed = sum(
        info.numFailedTasks for s in killer.stages if (info := tracker.getStageInfo(s)) is not None
    )
    assert failed >= 1, "the killed worker was not running one of the stage's tasks"

    undisturbed = vista.sql(STATEMENT).collect()
    assert _without_seconds(disturbed) == _without_seconds(undisturbed)
    assert disturbed_inferred == vista.last_metrics.get("inferred")
