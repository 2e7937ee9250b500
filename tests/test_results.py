"""What a result row's `seconds` charges: the stage's time split by the FLOPs each of its layers
adds (values in, no JVM), and the statement's wall time said once under the shell's table."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from vista_sql.execution.results import inference_shares
from vista_sql.plan.vocabulary import StageInput
from vista_sql.plan.workload import LayerCost

# Cumulative FLOPs per image from the input: 1, 3 and 4 GFLOPs.
WORKLOAD = SimpleNamespace(
    layers=tuple(
        LayerCost(name, 8, flops, 0) for name, flops in (("a", 1e9), ("b", 3e9), ("c", 4e9))
    )
)
PLAN = SimpleNamespace(workload=WORKLOAD)


def _stage(names, reads):
    return SimpleNamespace(layers=[SimpleNamespace(name=n) for n in names], reads=reads)


def test_an_eager_stage_splits_its_time_by_the_flops_each_layer_adds():
    shares = inference_shares(PLAN, _stage("abc", StageInput.IMAGES))
    assert shares == pytest.approx([0.25, 0.5, 0.25])


def test_a_stage_continuing_from_tensors_counts_from_the_layer_before_it():
    shares = inference_shares(PLAN, _stage("bc", StageInput.TENSORS))
    assert shares == pytest.approx([2 / 3, 1 / 3])


def test_a_stage_of_one_layer_charges_it_all():
    assert inference_shares(PLAN, _stage("c", StageInput.TENSORS)) == [1.0]
    # No workload (nothing was costed): an equal split.
    assert inference_shares(SimpleNamespace(workload=None), _stage("ab", StageInput.IMAGES)) == [
        0.5,
        0.5,
    ]


class _Recorder:
    """A progress renderer that keeps the rows it is told were scored."""

    def __init__(self):
        self.events = []

    def begin(self, key, bar):
        pass

    def update(self, key):
        pass

    def scored(self, event):
        self.events.append(event)

    def close(self):
        pass


def test_the_shell_says_the_statements_wall_time_once_and_no_row_costs_more(
    vista, demo_views, onnx_block, capsys
):
    """...and each row is announced as soon as its model is scored, with the table's values."""
    from vista_sql.interfaces import progress
    from vista_sql.interfaces.cli import Shell

    statement = (
        f"TRANSFER FEATURES FROM MODEL '{onnx_block}' "
        "LAYERS (`/maxpool/MaxPool_output_0`, logits) "
        "ON images AS i (id, content) JOIN products USING (id) "
        "TRAIN logistic_regression (LABEL is_popular, max_iter = 5) "
        "OPTIONS (preprocess = 'torch', plan = 'eager')"
    )
    recorder = _Recorder()
    with progress.track(vista.spark, recorder):
        assert Shell(vista, "table", debug=False).run_script(statement)
    printed = capsys.readouterr().out.strip().splitlines()
    total = vista.last_metrics["seconds"]
    assert printed[-1] == f"TRANSFER took {total:.1f} s in all"
    assert printed[-2] == "3 rows"  # the baseline and two layers, the footer under the table
    # Each row is a part of the statement: its fit and its FLOPs share of the one eager stage.
    cells = [line.split("|")[-2] for line in printed if line.startswith("| ")][1:]  # no header
    seconds = [float(cell) for cell in cells]
    assert len(seconds) == 3 and all(0 < s <= total for s in seconds)
    # The rows announced while it ran are the table's: its layers, point metrics and seconds.
    table = [[cell.strip() for cell in line.split("|")[1:-1]] for line in printed]
    header = next(row for row in table if row and row[0] == "layer")
    rows = [row for row in table if len(row) == len(header) and row[0] != "layer"]
    shown = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    announced = {event.layer: event for event in recorder.events}
    assert set(announced) == set(shown) and len(recorder.events) == 3
    for layer, event in announced.items():
        assert float(shown[layer]["accuracy"]) == pytest.approx(event.scores["accuracy"], abs=5e-5)
        assert float(shown[layer]["seconds"]) == pytest.approx(event.seconds, abs=5e-3)


def test_a_fits_wait_for_a_task_slot_is_measured_and_left_out(spark, tmp_path):
    """Work queued behind a stage that holds every slot reads its wait from Spark's record.
    The blocker's tasks each leave a file, then sleep BLOCK seconds: once every file is there,
    the queued job cannot start before the last sleep ends. (The files, not Spark's status
    tracker, say when the tasks run: under load its listeners hear of them seconds late.)"""
    import threading
    import time

    from vista_sql.spark import queue_time

    block, slots, marks = 6.0, spark.sparkContext.defaultParallelism, tmp_path

    def hold_every_slot():
        def sleep(rows):
            import os

            (marks / f"{os.getpid()}-{time.time_ns()}").write_text("")
            time.sleep(block)
            yield from rows

        spark.range(slots, numPartitions=slots).mapInArrow(sleep, "id long").collect()

    blocker = threading.Thread(target=hold_every_slot)
    blocker.start()
    while len(list(marks.iterdir())) < slots:
        time.sleep(0.02)
    latest = max(p.stat().st_mtime for p in marks.iterdir())
    began = time.perf_counter()
    remaining = block - (time.time() - latest)  # the last sleep's rest, at submission
    with queue_time.measured(spark) as waited:
        assert spark.range(100, numPartitions=1).count() == 100
    wall = time.perf_counter() - began
    blocker.join()
    # A second of slack for the scheduler to launch the task once a slot frees.
    assert remaining - 1.0 <= waited.seconds <= wall, (waited.seconds, remaining, wall)

    with queue_time.measured(spark) as alone:
        spark.range(100, numPartitions=1).count()
    assert alone.seconds < 1.0, alone.seconds


def test_a_scored_row_reads_the_same_on_a_terminal_in_a_notebook_and_a_notice():
    from vista_sql.execution.events import ScoredEvent
    from vista_sql.interfaces import progress

    event = ScoredEvent("avg_pool", {"accuracy": 0.93, "auc": None}, 5.04)
    line = progress.scored_line(event)
    assert line == "avg_pool: accuracy 0.930 · auc NULL (5.0 s)"
    bars = progress.NotebookBars()
    bars.scored(event)  # outside a kernel IPython's display prints; the bundle is what it shows
    bundle = bars._bundle()
    assert (
        line in bundle["text/plain"] and "<li><code>avg_pool: accuracy 0.930" in bundle["text/html"]
    )
