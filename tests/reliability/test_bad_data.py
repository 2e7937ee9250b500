"""Bad data behind a valid statement: nothing to train on is one line before any image is
inferred; rows left out are named in warnings and are not written; layer lists are normalised."""

from __future__ import annotations

import dataclasses

import pytest

from reliability.cases import DATA_ERRORS, DATA_VIEWS, DATA_WARNINGS, LAYERS, MESSY
from reliability.logged import vista_warnings
from vista_sql.plan.binder import Binder
from vista_sql.session import parse


@pytest.fixture(scope="module")
def data_views(vista, demo_views):
    for name, query in DATA_VIEWS.items():
        vista.spark.sql(query).createOrReplaceTempView(name)
    return DATA_VIEWS


@pytest.mark.parametrize("case", DATA_ERRORS, ids=[c.id for c in DATA_ERRORS])
def test_nothing_to_train_on_is_one_line_before_inference(vista, data_views, tmp_path, case):
    target = tmp_path / "out"
    with pytest.raises(case.kind) as caught:
        vista.sql(f"{case.sql} MATERIALIZE INTO '{target}'")
    assert case.matches(str(caught.value)), str(caught.value)
    assert vista.last_metrics.get("inferred") is None  # no CNN stage ran
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def messy_run(vista, data_views, tmp_path_factory):
    out = tmp_path_factory.mktemp("messy") / "features"
    with vista_warnings() as messages:
        rows = vista.sql(f"{MESSY} MATERIALIZE INTO '{out}'").collect()
    written = vista.spark.read.parquet(str(out / "out_relu")).collect()
    return rows, messages, sorted(row[0] for row in written)


@pytest.mark.parametrize("case", DATA_WARNINGS, ids=[c.id for c in DATA_WARNINGS])
def test_rows_left_out_are_named_in_a_warning(messy_run, case):
    warnings = messy_run[1]
    assert any(case.matches(message) for message in warnings), warnings


def test_left_out_rows_are_not_trained_on_and_unmatched_images_not_written(messy_run):
    rows, _, written = messy_run
    # 36 image keys with a structured row, keys 1 and 2 twice, keys 5 and 6 without a label.
    assert [r.n_train + r.n_test for r in rows] == [36, 36]
    assert written == sorted([*range(1, 37), 1, 2])


@pytest.mark.parametrize("case", LAYERS, ids=[c.id for c in LAYERS])
def test_layer_lists_are_normalised(vista, demo_views, case):
    query = Binder(vista.spark).bind(parse(case.sql))
    expected = case.expected.removeprefix("normalised to ").split(", ")
    assert [layer.name for layer in query.layers] == expected


def test_counts_on_the_driver_equal_sparks_aggregates(vista, data_views, monkeypatch):
    """Up to checks.LOCAL_ROWS joined rows are counted, and their split drawn, on the driver from
    one scan; beyond that Spark aggregates them. Over the messy rows (duplicate keys, NULL
    labels, images without a structured row) both give the same numbers and the same split."""
    from vista_sql.execution import checks, lowering
    from vista_sql.ml import training
    from vista_sql.plan import nodes

    query = Binder(vista.spark).bind(parse(MESSY))
    baseline = lowering.baseline_sql(nodes.draft(query))
    here = checks.count(vista.spark, query, baseline)
    monkeypatch.setattr(checks, "LOCAL_ROWS", 0)
    in_spark = checks.count(vista.spark, query, baseline)
    assert here.split is not None and in_spark.split is None
    assert dataclasses.replace(here, split=None) == in_spark
    assert here.rows > here.keys and here.null_labels > 0  # the messy rows are messy
    drawn = training.draw_split(
        vista.spark.sql(baseline),
        key=lowering.KEY,
        label=lowering.LABEL,
        split=query.split,
        seed=query.seed,
    )
    assert sorted(here.split.bounds) == sorted(drawn.bounds)
