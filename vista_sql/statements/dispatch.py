"""Which handler runs each of our statements: one table from the parsed node's class."""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from vista_sql.dialect import nodes
from vista_sql.plan.binder import Binder
from vista_sql.statements import cnns, feature_tables, models, predict, saved_models, transfer
from vista_sql.statements.context import Context, Outcome

Handler = Callable[[Context, exp.Expression], Outcome]

HANDLERS: dict[type[exp.Expression], Handler] = {
    nodes.TransferFeatures: transfer.handle,
    nodes.ExplainTransfer: transfer.handle_explain,
    nodes.PredictWith: predict.handle,
    nodes.ExplainPredict: predict.handle_explain,
    nodes.CreateCnn: cnns.handle_create,
    nodes.DropCnn: cnns.handle_drop,
    nodes.ShowCnns: cnns.handle_show,
    nodes.DescribeCnn: cnns.handle_describe,
    nodes.DescribeModel: models.handle_describe,
    nodes.ShowSavedModels: saved_models.handle_show,
    nodes.DropSavedModel: saved_models.handle_drop,
    nodes.RefreshFeatures: feature_tables.handle_refresh,
    nodes.ShowFeatureTables: feature_tables.handle_show,
}


def execute(spark, cnns_registry: dict, tree: exp.Expression) -> Outcome:
    """Run one parsed statement of ours; the temporary views binding it made are dropped."""
    binder = Binder(spark, cnns_registry)
    try:
        return handler_for(tree)(Context(spark, cnns_registry, binder), tree)
    finally:
        for view in binder.temp_views:
            spark.catalog.dropTempView(view)


def handler_for(tree: exp.Expression) -> Handler:
    # A statement that opens like ours but parses as something else (`TRANSFER x`) goes to the
    # binder as a TRANSFER, which refuses it.
    return HANDLERS.get(type(tree), transfer.handle)
