"""EXPLAIN text for a few plans, planned from injected statistics, kept as golden snapshots."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
import sqlglot
from test_optimizer_rules import _query, _stats

from vista_sql.optimizer import planner
from vista_sql.optimizer.config import GIB, Resources
from vista_sql.statements import explain

# The workload is read off the CNN's Keras graph, built in this process.
pytestmark = pytest.mark.cnn

GOLDEN = Path(__file__).with_name("golden")

CASES = {
    "default": dict(),
    "lazy_where": dict(
        options=(("plan", "lazy"),),
        where=sqlglot.parse_one("`tab`.`price` > 10", read="spark"),
    ),
    "eager_after_cost": dict(options=(("plan", "eager"), ("join_placement", "after"))),
    "vgg16_big_table": dict(cnn="vgg16", layers=("block5_pool", "fc1", "fc2")),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_explain_matches_golden(name):
    extra = dict(CASES[name])
    cnn_args = {k: extra.pop(k) for k in ("cnn", "layers") if k in extra}
    stats = _stats(structured_bytes=400 * 1024**2 if name == "vgg16_big_table" else 50_000)
    plan = planner.plan(
        _query(**cnn_args, **extra),
        statistics=stats,
        resources=Resources(cores=2, memory=24 * GIB),
        storage_limit=4 * GIB,
        slots=2,
    )
    text = explain.render(plan, statement_id=1, with_cost=name.endswith("cost")) + "\n"
    golden = GOLDEN / f"explain_{name}.txt"
    if os.environ.get("VISTA_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text(), (
        f"regenerate with VISTA_UPDATE_GOLDEN=1 if intended: {golden}"
    )


def test_explain_of_a_plan_continuing_from_recorded_layers_matches_golden():
    from test_optimizer_rules import _recorded

    query = _query(materialize="/data/features")
    records = _recorded(
        query,
        ["conv4_block6_out", "avg_pool"],
        handover=["conv4_block6_out"],
        root="/data/features",
    )
    stale = dataclasses.replace(records[1], problem="the images changed since it was written")
    plan = planner.plan(
        query,
        statistics=_stats(),
        resources=Resources(cores=2, memory=24 * GIB),
        storage_limit=4 * GIB,
        slots=2,
        records=(records[0], stale),
    )
    text = explain.render(plan, statement_id=1) + "\n"
    golden = GOLDEN / "explain_resumed.txt"
    if os.environ.get("VISTA_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text(), (
        f"regenerate with VISTA_UPDATE_GOLDEN=1 if intended: {golden}"
    )


def test_explain_cost_prints_the_workload_the_optimizer_costed():
    from test_optimizer_rules import _plan, _plan_with, _recorded

    # One task on two cores: the cost model still counts both cores (inference threads use them).
    planned = _plan(_query(options=(("parallelism", 1),)))
    assert planned.workload.cores == 2 and planned.config.parallelism == 1
    assert "after 1000; 2 core(s)" in explain.render(planned, 1, with_cost=True)
    # A resumed plan was costed from the recorded tensors, not from the input.
    query = _query()
    resumed = _plan_with(_recorded(query, ["conv4_block6_out"], handover=["conv4_block6_out"]))
    text = explain.render(resumed, 1, with_cost=True)
    assert "inference starts from recorded tensors" in text
    assert "avg_pool: 2048 features, 1,467 MFLOPs from the recorded tensors" in text


def test_explain_gives_the_reason_for_every_physical_decision():
    from test_optimizer_rules import _plan

    tight = _plan(resources=Resources(cores=2, memory=int(3.6 * GIB)), storage=50 * 1024**2)
    assert [c.tasks for c in tight.config.rejected] == [2] * 6
    text = explain.render(tight, 1)
    assert "  ruled out 2 task(s) with batch 32, 16, 8, 4, 2, 1: at best TensorFlow" in text
    assert "storage MEMORY_AND_DISK_SER: the plan's peak 68.9 MB > storage memory 52.4 MB" in text
    hinted = _plan(_query(options=(("join", "shuffle"), ("persist", "deser"), ("partitions", 3))))
    reasons = {d.what: d.reason for d in hinted.decisions}
    assert reasons["join"] == "OPTIONS (join = 'shuffle')"
    assert reasons["storage"] == "OPTIONS (persist = 'deser')"
    assert reasons["partitions"] == "OPTIONS (partitions = 3)"
    assert reasons["parallelism"].startswith("the most concurrent tasks (≤ 2 cores)")
