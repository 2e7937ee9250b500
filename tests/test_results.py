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


def test_the_shell_says_the_statements_wall_time_once_and_no_row_costs_more(
    vista, demo_views, onnx_block, capsys
):
    from vista_sql.interfaces.cli import Shell

    statement = (
        f"TRANSFER FEATURES FROM MODEL '{onnx_block}' "
        "LAYERS (`/maxpool/MaxPool_output_0`, logits) "
        "ON images AS i (id, content) JOIN products USING (id) "
        "TRAIN logistic_regression (LABEL is_popular, max_iter = 5) "
        "OPTIONS (preprocess = 'torch', plan = 'eager')"
    )
    assert Shell(vista, "table", debug=False).run_script(statement)
    printed = capsys.readouterr().out.strip().splitlines()
    total = vista.last_metrics["seconds"]
    assert printed[-1] == f"TRANSFER took {total:.1f} s in all"
    assert printed[-2] == "3 rows"  # the baseline and two layers, the footer under the table
    # Each row is a part of the statement: its fit and its FLOPs share of the one eager stage.
    cells = [line.split("|")[-2] for line in printed if line.startswith("| ")][1:]  # no header
    seconds = [float(cell) for cell in cells]
    assert len(seconds) == 3 and all(0 < s <= total for s in seconds)
