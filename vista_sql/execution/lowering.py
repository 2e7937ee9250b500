"""Lowering a physical plan to the Spark SQL it runs.

SQL is built as sqlglot trees and printed with every identifier quoted, so user-chosen names never
reach Spark as raw text. Internal columns carry the `__vista_` prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from vista_sql.execution.inference import StageTask
from vista_sql.plan.binder import IMAGES, TABLE
from vista_sql.plan.nodes import PhysicalPlan, Stage

KEY, IMAGE, LABEL, IS_TEST, OUT = (
    "__vista_key",
    "__vista_image",
    "__vista_label",
    "__vista_is_test",
    "__vista_out",
)
SPLIT_BUCKETS = 10_000


@dataclass(frozen=True)
class StageSql:
    stage: Stage
    table: str  # the cached table holding this stage's output
    cache: str  # CACHE TABLE ... AS SELECT ...
    uncache_previous: str | None
    features: str  # SELECT of the training rows for this layer
    task: StageTask


def quoted(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql(dialect="spark")


def _sql(tree: exp.Expr) -> str:
    # Every identifier quoted; function names kept as registered so EXPLAIN shows the UDF names.
    return tree.sql(dialect="spark", identify=True, normalize_functions=False)


def _col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table, quoted=True)


def _relation(name: str, alias: str) -> exp.Expr:
    # Relation names were quoted by the binder; parse them back into a tree to alias them.
    table = exp.to_table(name, dialect="spark")
    return exp.alias_(table, alias, table=True, quoted=True)


def carried_columns(plan: PhysicalPlan) -> list[str]:
    """Columns every stage keeps beside its output: key, structured features, label, split flag."""
    return [KEY, *plan.query.features, LABEL, IS_TEST]


def joined_select(plan: PhysicalPlan) -> exp.Select:
    """Images joined to the structured table before inference, with a seeded hash split."""
    q = plan.query
    bucket = exp.func(
        "pmod",
        exp.func("xxhash64", _col(q.key, IMAGES), exp.Literal.number(q.seed)),
        exp.Literal.number(SPLIT_BUCKETS),
    )
    is_test = exp.LT(this=bucket, expression=exp.Literal.number(round(q.split * SPLIT_BUCKETS)))
    select = exp.select(
        exp.alias_(_col(q.key, IMAGES), KEY, quoted=True),
        exp.alias_(_col(q.image, IMAGES), IMAGE, quoted=True),
        *(_col(f, TABLE) for f in q.features),
        exp.alias_(exp.cast(_col(q.label, TABLE), "double"), LABEL, quoted=True),
        exp.alias_(is_test, IS_TEST, quoted=True),
    ).from_(_relation(q.images.name, IMAGES))
    select = select.join(_relation(q.structured.name, TABLE), on=q.join_condition.copy())
    if q.where is not None:
        select = select.where(q.where.copy())
    hint = exp.Anonymous(
        this="REPARTITION", expressions=[exp.Literal.number(plan.config.partitions)]
    )
    select.set("hint", exp.Hint(expressions=[hint]))
    return select


def _stage_table(statement_id: int, index: int) -> str:
    return f"__vista_{statement_id}_stage{index}"


def lower(plan: PhysicalPlan, statement_id: int) -> list[StageSql]:
    q, config = plan.query, plan.config
    layers = tuple(layer.name for layer in q.layers)
    carried = [_col(c) for c in carried_columns(plan)]
    ok = exp.Is(
        this=exp.Dot.build([_col(OUT), exp.to_identifier("error", quoted=True)]),
        expression=exp.Null(),
    )
    lowered: list[StageSql] = []
    previous: str | None = None
    for stage in plan.stages:
        if previous is None:
            source: exp.Expr = joined_select(plan).subquery("joined", copy=False)
            argument: exp.Expr = _col(IMAGE)
            condition = None
        else:
            source = exp.to_table(quoted(previous), dialect="spark")
            argument = exp.Dot.build([_col(OUT), exp.to_identifier("tensors", quoted=True)])
            condition = ok
        query = exp.select(
            *carried,
            exp.alias_(
                exp.Anonymous(this=stage.udf_name, expressions=[argument]), OUT, quoted=True
            ),
        ).from_(source)
        if condition is not None:
            query = query.where(condition.copy())
        table = _stage_table(statement_id, stage.index)
        cache = exp.Cache(
            this=exp.to_table(quoted(table), dialect="spark"),
            lazy=False,
            options=[exp.Literal.string("storageLevel"), exp.Literal.string(config.storage_level)],
            expression=query,
        )
        features = (
            exp.select(
                *carried,
                exp.alias_(
                    exp.Dot.build([_col(OUT), exp.to_identifier("features", quoted=True)]),
                    "features",
                    quoted=True,
                ),
            )
            .from_(exp.to_table(quoted(table), dialect="spark"))
            .where(ok.copy())
        )
        lowered.append(
            StageSql(
                stage=stage,
                table=table,
                cache=_sql(cache),
                uncache_previous=(
                    _sql(
                        exp.Uncache(
                            this=exp.to_table(quoted(previous), dialect="spark"), exists=True
                        )
                    )
                    if previous
                    else None
                ),
                features=_sql(features),
                task=StageTask(
                    model=q.cnn,
                    layers=layers,
                    index=stage.index,
                    pooling=q.pooling,
                    batch_size=config.batch_size,
                    threads=config.tf_threads,
                ),
            )
        )
        previous = table
    return lowered


def release_sql(table: str) -> list[str]:
    """Drop a stage's cache and the temporary view CACHE TABLE ... AS created for it."""
    name = exp.to_table(quoted(table), dialect="spark")
    return [
        _sql(exp.Uncache(this=name, exists=True)),
        _sql(exp.Drop(tables=[name.copy()], kind="VIEW", exists=True)),
    ]


def baseline_sql(plan: PhysicalPlan) -> str:
    """Training rows for the structured-only baseline: the same join, split and filter."""
    carried = [_col(c) for c in carried_columns(plan)]
    return _sql(exp.select(*carried).from_(joined_select(plan).subquery("joined", copy=False)))
