"""Lowering a physical plan to the Spark SQL it runs.

SQL is built as sqlglot trees and printed with every identifier quoted, so user-chosen names never
reach Spark as raw text. Internal columns carry the `__vista_` prefix; the two sides of the join
are always aliased `img` and `tab`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlglot import exp

from vista_sql.execution.inference import StageTask
from vista_sql.plan.columns import IMAGE, IMAGES, IS_TEST, KEY, LABEL, OUT, TABLE, TENSORS, quoted
from vista_sql.plan.manifest import VERSION
from vista_sql.plan.nodes import PhysicalPlan, PlannedStage, RecordedLayer
from vista_sql.plan.vocabulary import Join, JoinPlacement, StageInput

SPLIT_BUCKETS = 10_000


@dataclass(frozen=True)
class StageSql:
    stage: PlannedStage
    table: str  # the cached table holding this stage's output
    cache: str  # CACHE TABLE ... AS SELECT ...
    uncache_previous: str | None  # staged plans release the stage they read, once cached
    features: tuple[str, ...]  # per layer of the stage: SELECT of its training rows
    task: StageTask
    # Per layer: for a record kept as it is (RecordedLayer.appendable), SELECT of the rows it
    # lacks, the only ones written; None where the layer is written whole.
    appended: tuple[str | None, ...]


def to_sql(tree: exp.Expr) -> str:
    # Every identifier quoted; function names kept as registered so EXPLAIN shows the UDF names.
    return tree.sql(dialect="spark", identify=True, normalize_functions=False)


def quoted_column(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table, quoted=True)


def _field(column: exp.Expr, name: str) -> exp.Expr:
    return exp.Dot.build([column, exp.to_identifier(name, quoted=True)])


def _table(name: str) -> exp.Table:
    # Relation names were quoted by the binder or here; parse them back into a tree.
    return exp.to_table(name, dialect="spark")


def join_side(name: str, alias: str, condition: exp.Expr | None) -> exp.Expr:
    """A join side, filtered below the join when the optimizer pushed a predicate to it."""
    relation = exp.alias_(_table(name), alias, table=True, quoted=True)
    if condition is None:
        return relation
    inner = exp.select(exp.Star()).from_(relation).where(condition.copy())
    return inner.subquery(alias, copy=False)


def repartition_hint(partitions: int) -> exp.Anonymous:
    """REPARTITION(n): on a select whose output a CNN stage reads, so the stage runs n tasks."""
    return exp.Anonymous(this="REPARTITION", expressions=[exp.Literal.number(partitions)])


def _hint(plan: PhysicalPlan, repartition: bool, join: bool) -> exp.Hint | None:
    hints = []
    if repartition:
        hints.append(repartition_hint(plan.config.partitions))
    if join:
        # Broadcast ships the small structured side to every task (no shuffle of image bytes);
        # a shuffle hash join is the choice when it is too big to copy everywhere.
        name = "BROADCAST" if plan.join == Join.BROADCAST else "SHUFFLE_HASH"
        hints.append(exp.Anonymous(this=name, expressions=[exp.to_identifier(TABLE, quoted=True)]))
    return exp.Hint(expressions=hints) if hints else None


def _is_test(plan: PhysicalPlan, key: exp.Expr) -> exp.Expr:
    q = plan.query
    bucket = exp.func(
        "pmod",
        exp.func("xxhash64", key, exp.Literal.number(q.seed)),
        exp.Literal.number(SPLIT_BUCKETS),
    )
    return exp.LT(this=bucket, expression=exp.Literal.number(round(q.split * SPLIT_BUCKETS)))


def label_index(q) -> exp.Expr:
    """The label MLlib trains on: a double; a class name's index in `q.classes` (the name itself
    while the classes are not read yet, which only checks.classes does)."""
    label = quoted_column(q.label, TABLE)
    if q.classes is None:
        return exp.cast(label, "double")
    if not q.classes:
        return label
    # Names become string literals, which the generator escapes: never pasted into the SQL.
    pairs = [
        part
        for index, name in enumerate(q.classes)
        for part in (exp.Literal.string(name), exp.Literal.number(index))
    ]
    names = exp.Anonymous(this="map", expressions=pairs)
    found = exp.Anonymous(this="try_element_at", expressions=[names, label])
    return exp.cast(found, "double")


def _joined(plan: PhysicalPlan, images: exp.Expr, key: exp.Expr, extra: list[exp.Expr]):
    """SELECT key, [extra], X, label, split flag FROM images JOIN structured: the shared core."""
    q = plan.query
    select = exp.select(
        exp.alias_(key, KEY, quoted=True),
        *extra,
        *(quoted_column(f, TABLE) for f in q.features),
        exp.alias_(label_index(q), LABEL, quoted=True),
        exp.alias_(_is_test(plan, key.copy()), IS_TEST, quoted=True),
    ).from_(images)
    select = select.join(
        join_side(q.structured.name, TABLE, plan.structured_filter), on=q.join_condition.copy()
    )
    return select.where(plan.residual_filter.copy()) if plan.residual_filter else select


def _image_side(plan: PhysicalPlan, only: exp.Select | None) -> exp.Expr:
    """The images side, filtered; `only`: a select of the KEY values to keep (a refresh's)."""
    condition = plan.image_filter
    if only is not None:
        kept = exp.In(this=quoted_column(plan.query.key, IMAGES), query=only.subquery(copy=True))
        condition = exp.and_(condition.copy(), kept) if condition is not None else kept
    return join_side(plan.query.images.name, IMAGES, condition)


def joined_select(
    plan: PhysicalPlan, with_image: bool = True, only: exp.Select | None = None
) -> exp.Select:
    """Images joined to the structured table (join before inference), filters pushed down."""
    q = plan.query
    image = [exp.alias_(quoted_column(q.image, IMAGES), IMAGE, quoted=True)] if with_image else []
    images = _image_side(plan, only)
    select = _joined(plan, images, quoted_column(q.key, IMAGES), image)
    select.set("hint", _hint(plan, repartition=with_image, join=True))
    return select


def image_join_columns(plan: PhysicalPlan) -> list[str]:
    """Image-side columns the join condition or remaining filter reads."""
    q = plan.query
    conditions = [q.join_condition, plan.residual_filter]
    names = {
        c.name
        for cond in conditions
        if cond is not None
        for c in cond.find_all(exp.Column)
        if c.table == IMAGES
    }
    return sorted(names)


def images_select(plan: PhysicalPlan, only: exp.Select | None = None) -> exp.Select:
    """The images alone (join after inference): key, join columns, bytes."""
    q = plan.query
    select = exp.select(
        exp.alias_(quoted_column(q.key, IMAGES), KEY, quoted=True),
        *(quoted_column(c, IMAGES) for c in image_join_columns(plan) if c != KEY),
        exp.alias_(quoted_column(q.image, IMAGES), IMAGE, quoted=True),
    ).from_(_image_side(plan, only))
    select.set("hint", _hint(plan, repartition=True, join=False))
    return select


def carried_columns(plan: PhysicalPlan) -> list[str]:
    """Columns every stage table keeps beside the CNN output."""
    if plan.join_placement == JoinPlacement.AFTER:
        return [KEY, *image_join_columns(plan)]
    return [KEY, *plan.query.features, LABEL, IS_TEST]


def _ok(table: str | None = None) -> exp.Expr:
    return exp.Is(this=_field(quoted_column(OUT, table), "error"), expression=exp.Null())


def features_select(plan: PhysicalPlan, table: str, position: int) -> exp.Select:
    """Training rows of one layer: key, X, label, split flag, `features`."""
    layer = exp.Bracket(
        this=_field(quoted_column(OUT, IMAGES), "features"),
        expressions=[exp.Literal.number(position)],
    )
    features = exp.alias_(layer, "features", quoted=True)
    stage = exp.alias_(_table(quoted(table)), IMAGES, table=True, quoted=True)
    if plan.join_placement == JoinPlacement.AFTER:
        select = _joined(plan, stage, quoted_column(KEY, IMAGES), [])
        select.set("hint", _hint(plan, repartition=False, join=True))
    else:
        select = exp.select(*(quoted_column(c, IMAGES) for c in carried_columns(plan))).from_(stage)
    return select.select(features, copy=False).where(_ok(IMAGES), copy=False)


def stored_select(plan: PhysicalPlan, statement_id: int) -> exp.Select:
    """The joined rows with the hand-over tensors a recorded layer left (PhysicalPlan.resume)."""
    record = plan.resume.record
    joined = joined_select(plan, with_image=False)
    stored = _dataset(statement_id, record.handover_path)
    tensors = quoted_column("tensors", "h")
    if record.handover_inputs != tuple(range(len(record.handover))):
        picked = [
            exp.Bracket(this=tensors.copy(), expressions=[exp.Literal.number(i)])
            for i in record.handover_inputs
        ]
        tensors = exp.Array(expressions=picked)
    select = exp.select(
        *(quoted_column(c, "j") for c in carried_columns(plan)),
        exp.alias_(tensors, TENSORS, quoted=True),
    ).from_(joined.subquery("j", copy=False))
    select = select.join(
        exp.alias_(stored, "h", table=True, quoted=True),
        on=exp.EQ(this=quoted_column(KEY, "j"), expression=quoted_column(KEY, "h")),
    )
    select.set("hint", _hint(plan, repartition=True, join=False))
    return select


def dataset_view(statement_id: int, path: str) -> str:
    """The view a statement reads the Parquet dataset at `path` through (datasets): SQL naming
    `parquet.`path`` would make Spark infer its schema in a job of its own at every read."""
    digest = hashlib.sha1(path.encode()).hexdigest()[:12]
    return f"__vista_{statement_id}_data_{digest}"


def datasets(plan: PhysicalPlan, statement_id: int) -> dict[str, str]:
    """View name → path of every recorded dataset the statement's SQL reads."""
    paths = [record.path for record in plan.refreshed]
    if plan.resume is not None:
        paths.append(plan.resume.record.handover_path)
    return {dataset_view(statement_id, path): path for path in paths}


def _dataset(statement_id: int, path: str) -> exp.Table:
    return _table(quoted(dataset_view(statement_id, path)))


def versions_view(statement_id: int) -> str:
    """The view of every image's current version (KEY, VERSION) a refresh compares with."""
    return f"__vista_{statement_id}_versions"


def stale_view(statement_id: int) -> str:
    """The view of the KEYs a refresh infers (stale_keys, computed once per run)."""
    return f"__vista_{statement_id}_stale"


def _recorded_versions(record: RecordedLayer, statement_id: int) -> exp.Select:
    return exp.select(
        exp.alias_(quoted_column(record.key), KEY, quoted=True), quoted_column(VERSION)
    ).from_(_dataset(statement_id, record.path))


def stale_keys(plan: PhysicalPlan, statement_id: int) -> exp.Select:
    """KEY of every image some refreshed record lacks as it is now: what a refresh infers."""
    current = exp.select(quoted_column(KEY), quoted_column(VERSION)).from_(
        _table(quoted(versions_view(statement_id)))
    )
    recorded = [_recorded_versions(r, statement_id) for r in plan.refreshed]
    everywhere = recorded[0]
    for other in recorded[1:]:
        everywhere = exp.intersect(everywhere, other)
    kept = exp.select(exp.Star()).from_(everywhere.subquery("recorded"))
    changed = exp.except_(current, kept)
    return exp.select(quoted_column(KEY)).from_(changed.subquery("changed"))


def kept_select(
    plan: PhysicalPlan, record: RecordedLayer, stale: exp.Select, statement_id: int
) -> exp.Select:
    """A refreshed layer's training rows that need no inference: its recorded features of the
    images it holds as they are now, with this statement's join, split and filters."""
    joined = joined_select(plan, with_image=False)
    select = exp.select(
        *(quoted_column(c, "j") for c in [KEY, *plan.query.features, LABEL, IS_TEST]),
        quoted_column("features", "r"),
    ).from_(joined.subquery("j", copy=False))
    select = select.join(
        exp.alias_(_dataset(statement_id, record.path), "r", table=True, quoted=True),
        on=exp.EQ(this=quoted_column(KEY, "j"), expression=quoted_column(record.key, "r")),
    )
    if plan.join == Join.BROADCAST:
        # The joined rows are the small side, as in materialize.load_layer: the features stay.
        broadcast = exp.Anonymous(
            this="BROADCAST", expressions=[exp.to_identifier("j", quoted=True)]
        )
        select.set("hint", exp.Hint(expressions=[broadcast]))
    return select.join(
        stale.subquery("s", copy=True),
        on=exp.EQ(this=quoted_column(KEY, "j"), expression=quoted_column(KEY, "s")),
        join_type="left anti",
    )


def appended_select(
    plan: PhysicalPlan, table: str, position: int, record, statement_id: int
) -> exp.Select | None:
    """The inferred rows of a layer whose record stays as it is (RecordedLayer.appendable) that
    the record lacks (a refresh infers every key some record lacks, for all of them)."""
    if not record.appendable or record.key != plan.query.key:
        return None  # the record's files would not be the table's rows, or have another schema
    inferred = features_select(plan, table, position).subquery("n")
    stored = _dataset(statement_id, record.path)
    held = exp.select(quoted_column(record.key)).from_(stored).subquery("r")
    on = exp.EQ(this=quoted_column(KEY, "n"), expression=quoted_column(record.key, "r"))
    return exp.select(exp.Star()).from_(inferred).join(held, on=on, join_type="left anti")


def _stage_table(statement_id: int, index: int) -> str:
    return f"__vista_{statement_id}_stage{index}"


def lower(plan: PhysicalPlan, statement_id: int) -> list[StageSql]:
    q, config = plan.query, plan.config
    layers = tuple(layer.name for layer in q.layers)
    # Continuing from a recorded layer: its cut is the first of the chain the stages run.
    offset = 0
    if plan.resume is not None:
        layers, offset = (plan.resume.record.layer.name, *layers), 1
    carried = [quoted_column(c) for c in carried_columns(plan)]
    before = plan.join_placement == JoinPlacement.BEFORE
    stale = None
    if plan.refresh is not None:
        stale = exp.select(quoted_column(KEY)).from_(_table(quoted(stale_view(statement_id))))
    source = joined_select(plan, only=stale) if before else images_select(plan, only=stale)
    refreshed = {r.layer.name: r for r in plan.refreshed}
    kept = {name: kept_select(plan, r, stale, statement_id) for name, r in refreshed.items()}
    lowered: list[StageSql] = []
    previous: str | None = None
    for stage in plan.stages:
        if stage.reads == StageInput.TENSORS:
            origin: exp.Expr = _table(quoted(previous))
            argument: exp.Expr = _field(quoted_column(OUT), "tensors")
        elif stage.reads == StageInput.STORED:
            origin = stored_select(plan, statement_id).subquery("images")
            argument = quoted_column(TENSORS)
        else:
            origin, argument = source.subquery("images", copy=True), quoted_column(IMAGE)
        udf = exp.Anonymous(this=stage.udf_name, expressions=[argument])
        query = exp.select(*carried, exp.alias_(udf, OUT, quoted=True)).from_(origin)
        if stage.reads == StageInput.TENSORS:
            query = query.where(_ok())
        table = _stage_table(statement_id, stage.index)
        cache = exp.Cache(
            this=_table(quoted(table)),
            lazy=False,
            options=[exp.Literal.string("storageLevel"), exp.Literal.string(config.storage_level)],
            expression=query,
        )
        releases = previous if stage.reads == StageInput.TENSORS else None
        lowered.append(
            StageSql(
                stage=stage,
                table=table,
                cache=to_sql(cache),
                uncache_previous=to_sql(exp.Uncache(this=_table(quoted(releases)), exists=True))
                if releases
                else None,
                features=tuple(
                    to_sql(_with_kept(features_select(plan, table, j), kept.get(layer.name)))
                    for j, layer in enumerate(stage.layers)
                ),
                appended=tuple(
                    to_sql(select) if select is not None else None
                    for select in (
                        appended_select(plan, table, j, refreshed[layer.name], statement_id)
                        if layer.name in refreshed
                        else None
                        for j, layer in enumerate(stage.layers)
                    )
                ),
                task=StageTask(
                    model=q.cnn,
                    layers=layers,
                    index=stage.index + offset,
                    cut=stage.cut,
                    pooling=q.pooling,
                    batch_size=config.batch_size,
                    threads=config.tf_threads,
                ),
            )
        )
        previous = table
    return lowered


def _with_kept(inferred: exp.Select, kept: exp.Select | None) -> exp.Expr:
    return inferred if kept is None else exp.union(inferred, kept, distinct=False)


def release_sql(table: str) -> list[str]:
    """Drop a stage's cache and the temporary view CACHE TABLE ... AS created for it."""
    name = _table(quoted(table))
    return [
        to_sql(exp.Uncache(this=name, exists=True)),
        to_sql(exp.Drop(tables=[name.copy()], kind="VIEW", exists=True)),
    ]


def baseline_sql(plan: PhysicalPlan) -> str:
    """Training rows for the structured-only baseline: the same join, split and filters."""
    return to_sql(joined_select(plan, with_image=False))
