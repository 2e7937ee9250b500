"""Optimizer rules with injected statistics and resources: no data, no Spark session."""

from __future__ import annotations

import dataclasses

import pytest
import sqlglot
from sqlglot import exp

from vista_sql.catalog import models, pooling
from vista_sql.catalog.weights import WeightsRef
from vista_sql.dbapi import exceptions as dbapi_errors
from vista_sql.errors import VistaExecutionError, VistaPlanningError
from vista_sql.execution import lowering
from vista_sql.optimizer import planner, rules
from vista_sql.optimizer.config import GIB, Resources
from vista_sql.plan.columns import IMAGES, TABLE
from vista_sql.plan.nodes import LayerRef, Relation, Statistics, TransferQuery

# The workload is read off the CNN's Keras graph, built in this process.
pytestmark = pytest.mark.cnn

MACHINE = Resources(cores=2, memory=24 * GIB)


def _query(cnn="resnet50", layers=("conv4_block6_out", "conv5_block3_out", "avg_pool"), **extra):
    ref = models.ModelRef(cnn, zoo=cnn, weights=WeightsRef("random"))
    graph = models.model_for(ref).graph
    refs = []
    for name in layers:
        shape = graph.feature_shape(name)
        refs.append(LayerRef(name, shape, pooling.pooled_dim(shape)))
    fields = dict(
        cnn=ref,
        layers=tuple(refs),
        images=Relation("`images`", (("id", "int"), ("content", "binary"))),
        key="id",
        image="content",
        structured=Relation("`products`", (("id", "int"), ("price", "double"), ("y", "int"))),
        join_condition=exp.column("id", IMAGES, quoted=True).eq(
            exp.column("id", TABLE, quoted=True)
        ),
        where=None,
        label="y",
        features=("price",),
        model="logistic_regression",
        params=(("maxIter", 10),),
        split=0.2,
        seed=42,
        materialize=None,
    )
    fields.update(extra)
    return TransferQuery(**fields)


def _stats(rows=1000, structured_bytes=50_000):
    return Statistics(
        images=rows, joined=rows, structured_bytes=structured_bytes, image_bytes=30_000
    )


def _plan(query=None, stats=None, resources=MACHINE, storage=8 * GIB, slots=2):
    return planner.plan(
        query or _query(),
        statistics=stats or _stats(),
        resources=resources,
        storage_limit=storage,
        slots=slots,
    )


def test_tiny_structured_table_is_broadcast_and_a_big_one_shuffled():
    assert _plan().join == "broadcast"
    assert _plan(stats=_stats(structured_bytes=3 * GIB)).join == "shuffle"


def test_stages_larger_than_storage_memory_are_cached_serialized():
    assert _plan().config.storage_level == "MEMORY_AND_DISK"
    small = _plan(storage=50 * 1024**2)
    assert small.config.storage_level == "MEMORY_AND_DISK_SER"
    assert any("spill" in note for note in small.config.unapplied)


def test_too_little_memory_for_two_tensorflow_tasks_runs_one():
    assert _plan().config.parallelism == 2
    tight = _plan(resources=Resources(cores=2, memory=int(3.6 * GIB)))
    assert tight.config.parallelism == 1
    assert tight.config.tf_threads == 1  # the session still runs 2 slots: no oversubscription
    assert any("local[1]" in note for note in tight.config.unapplied)


def test_impossible_memory_fails_before_running_naming_the_constraint():
    with pytest.raises(VistaPlanningError) as caught:
        _plan(resources=Resources(cores=2, memory=2 * GIB))
    message = str(caught.value)
    assert message.startswith("no feasible plan:") and "TensorFlow" in message
    assert "batch_size" in message and "\n" not in message
    # The statement is valid; the resources are short: an operational error, not a programming one.
    assert isinstance(caught.value, VistaExecutionError)
    assert type(dbapi_errors.from_vista(caught.value)) is dbapi_errors.OperationalError


def test_where_on_structured_columns_runs_below_the_join_and_inference():
    where = sqlglot.parse_one(
        "`tab`.`price` > 10 AND `img`.`id` < 500 AND `tab`.`y` = `img`.`id`", read="spark"
    )
    planned = _plan(_query(where=where))
    assert planned.structured_filter.sql("spark") == "`tab`.`price` > 10"
    assert planned.image_filter.sql("spark") == "`img`.`id` < 500"
    assert planned.residual_filter.sql("spark") == "`tab`.`y` = `img`.`id`"
    sql = lowering.lower(planned, 1)[0].cache
    assert "JOIN (SELECT * FROM `products` AS `tab` WHERE `tab`.`price` > 10) AS `tab`" in sql
    assert "FROM (SELECT * FROM `images` AS `img` WHERE `img`.`id` < 500) AS `img`" in sql


def test_rule_batches_are_idempotent():
    """Running every batch again on a finished plan, in the context it was planned in, gives the
    same plan: every field, not only those one rule writes, for a resumed plan too."""
    where = sqlglot.parse_one("`tab`.`price` > 10", read="spark")
    plans = [
        _plan(query)
        for query in (_query(), _query(where=where), _query(options=(("plan", "lazy"),)))
    ]
    plans.append(_plan(stats=_stats(structured_bytes=3 * GIB), storage=50 * 1024**2))
    records = _recorded(_query(), ["conv4_block6_out"], handover=["conv4_block6_out"])
    resumed = _plan_with(records)
    assert resumed.resume is not None
    for planned in [*plans, resumed]:
        assert rules.run(planned, planner.context(planned)) == planned


@pytest.mark.parametrize(
    "options, expected",
    [
        ((("plan", "lazy"),), ("lazy", "before", "broadcast")),
        ((("plan", "eager"), ("join_placement", "after")), ("eager", "after", "broadcast")),
        ((("join", "shuffle"),), ("eager", "before", "shuffle")),
    ],
)
def test_hints_override_the_optimizer(options, expected):
    planned = _plan(_query(options=options))
    assert (planned.strategy, planned.join_placement, planned.join) == expected
    verdicts = [a.verdict for a in planned.alternatives]
    assert verdicts.count("chosen") == 1
    assert ("excluded by OPTIONS" in verdicts) == any(k == "plan" for k, _ in options)


def test_hinted_configuration_values_are_used():
    planned = _plan(
        _query(
            options=(("parallelism", 1), ("partitions", 7), ("batch_size", 4), ("persist", "ser"))
        )
    )
    c = planned.config
    assert (c.parallelism, c.partitions, c.batch_size, c.storage_level) == (
        1,
        7,
        4,
        "MEMORY_AND_DISK_SER",
    )


def test_resnet50_top_layers_go_eager_since_staged_hands_over_large_tensors():
    # conv4_block6_out and conv5_block3_out hand 800 KB and 400 KB per image to the next stage,
    # while one pass to avg_pool computes every layer anyway (bench/: staged/eager 1.34).
    planned = _plan()
    assert (planned.strategy, planned.join_placement) == ("eager", "before")
    by_plan = {(a.strategy, a.join_placement): a for a in planned.alternatives}
    staged, eager = by_plan[("staged", "before")], by_plan[("eager", "before")]
    assert staged.seconds > 1.2 * eager.seconds and staged.verdict.startswith("slower")
    assert by_plan[("lazy", "before")].seconds > 2 * staged.seconds
    assert [s.reads for s in planned.stages] == ["images"]


def test_a_near_tie_goes_to_staged_with_the_join_first():
    # VGG16's fully connected layers hand over little: the estimates are within the tie margin.
    planned = _plan(_query(cnn="vgg16", layers=("block5_pool", "fc1", "fc2")))
    assert (planned.strategy, planned.join_placement) == ("staged", "before")
    by_plan = {(a.strategy, a.join_placement): a for a in planned.alternatives}
    assert by_plan[("eager", "before")].verdict.startswith("tie, staged join before preferred")
    assert [s.reads for s in planned.stages] == ["images", "tensors", "tensors"]


def test_partitions_follow_vista_p_max():
    planned = _plan(stats=_stats(rows=20_000))
    largest = max(s.estimated_bytes for s in planned.stages)
    assert planned.config.partitions % planned.config.parallelism == 0
    assert largest / planned.config.partitions <= 100 * 1024**2


# -- reuse of layers an earlier MATERIALIZE INTO recorded (optimizer/reuse.py) -------------------


def _recorded(query, names, rows=1000, handover=(), root="/data/features"):
    from vista_sql.plan.nodes import RecordedLayer

    by_name = {layer.name: layer for layer in query.layers}
    return tuple(
        RecordedLayer(
            by_name[name],
            f"{root}/{name}",
            "id",
            rows,
            handover=("t:0:0",) if name in handover else (),
            handover_inputs=(0,) if name in handover else (),
        )
        for name in names
    )


def _plan_with(records, query=None):
    return planner.plan(
        query or _query(),
        statistics=_stats(),
        resources=MACHINE,
        storage_limit=8 * GIB,
        slots=2,
        records=records,
    )


def test_every_layer_recorded_means_nothing_is_inferred():
    query = _query()
    plan = _plan_with(_recorded(query, [x.name for x in query.layers]))
    assert plan.stages == () and len(plan.loaded) == 3
    assert [x.name for x in plan.layers] == [x.name for x in query.layers]


def test_a_shallow_record_is_recomputed_when_a_deeper_layer_needs_the_images_anyway():
    plan = _plan_with(_recorded(_query(), ["conv4_block6_out"]))
    (record,) = plan.recorded
    assert not record.loaded and "recomputed" in record.verdict()
    assert [x.name for x in plan.query.layers] == [
        "conv4_block6_out",
        "conv5_block3_out",
        "avg_pool",
    ]
    assert plan.stages[0].reads == "images"


def test_recorded_hand_over_tensors_let_deeper_layers_skip_the_images():
    plan = _plan_with(_recorded(_query(), ["conv4_block6_out"], handover=["conv4_block6_out"]))
    assert plan.resume is not None and plan.resume.seconds < plan.resume.instead_of
    assert plan.stages[0].reads == "stored" and plan.strategy == "staged"
    assert [x.name for x in plan.query.layers] == ["conv5_block3_out", "avg_pool"]
    assert [x.layer.name for x in plan.loaded] == ["conv4_block6_out"]


def test_a_stale_record_is_never_used():
    (stale,) = _recorded(_query(), ["avg_pool"])
    stale = dataclasses.replace(stale, problem="the images changed since it was written")
    plan = _plan_with((stale,))
    assert plan.loaded == () and plan.resume is None
    assert [x.name for x in plan.query.layers] == [
        "conv4_block6_out",
        "conv5_block3_out",
        "avg_pool",
    ]
    assert plan.recorded[0].verdict() == "not used: the images changed since it was written"


def test_a_statement_re_run_into_its_own_target_keeps_what_it_wrote():
    query = _query(materialize="/data/features")
    records = _recorded(query, ["conv4_block6_out"], rows=10)
    plan = _plan_with(records, _query(materialize="/data/features", layers=("conv4_block6_out",)))
    assert [x.layer.name for x in plan.loaded] == ["conv4_block6_out"] and plan.stages == ()
