"""Refresh or recompute, decided by the cost model from injected statistics and records (no
Spark): reading back what a record holds must cost less than the inference it saves."""

from __future__ import annotations

import pytest
from test_optimizer_rules import MACHINE, _query, _stats

from vista_sql.optimizer import planner
from vista_sql.optimizer.config import GIB
from vista_sql.plan.nodes import RecordedLayer

pytestmark = pytest.mark.cnn  # the workload is read off ResNet50's Keras graph

ROWS = 10_000
TARGET = "/data/features"


def _records(query, new=0, changed=0, removed=0):
    return tuple(
        RecordedLayer(
            layer,
            f"{TARGET}/{layer.name}",
            "id",
            ROWS - removed,
            versioned=True,
            new=new,
            changed=changed,
            removed=removed,
        )
        for layer in query.layers
    )


def _plan(new=0, changed=0, removed=0, materialize=TARGET, **options):
    query = _query(materialize=materialize, options=tuple(options.items()))
    return planner.plan(
        query,
        statistics=_stats(rows=ROWS),
        resources=MACHINE,
        storage_limit=8 * GIB,
        slots=2,
        records=_records(query, new, changed, removed),
    )


def test_a_few_new_images_are_refreshed_and_explain_counts_them():
    plan = _plan(new=80, changed=20, removed=30)
    assert plan.refresh is not None and plan.refresh.rows == 100
    # Costed as what it runs: the stages over 100 images, plus reading the records back.
    assert plan.workload.rows_before == 100
    assert plan.refresh.seconds < plan.refresh.instead_of / 10
    assert [r.verdict() for r in plan.recorded] == [
        f"{ROWS - 30:,} rows recorded, 80 new, 20 changed, 30 removed → infer 100 (refresh)"
    ] * 3
    # Every layer runs through the stages (over those images only); none is loaded whole.
    assert plan.loaded == () and [x.name for x in plan.query.layers] == [
        "conv4_block6_out",
        "conv5_block3_out",
        "avg_pool",
    ]


def test_every_image_changed_is_recomputed_reading_nothing_back():
    plan = _plan(changed=ROWS)
    assert plan.refresh is None and all("recomputed" in r.verdict() for r in plan.recorded)


def test_nothing_new_or_changed_is_loaded_unless_gone_images_must_leave_the_target():
    # Records of another target: their rows of images gone are simply not read.
    plan = _plan(removed=5, materialize=None)
    assert plan.refresh is None and len(plan.loaded) == 3 and plan.stages == ()
    # The statement's own target: loaded as it is, it would keep the rows of images gone.
    plan = _plan(removed=5)
    assert plan.refresh is not None and plan.refresh.rows == 0 and plan.loaded == ()


@pytest.mark.parametrize(("hint", "refreshed"), [(True, True), (False, False)])
def test_the_refresh_option_overrides_the_cost_model(hint, refreshed):
    assert (_plan(changed=ROWS, refresh=hint).refresh is not None) == refreshed
    assert (_plan(new=10, refresh=hint).refresh is not None) == refreshed
