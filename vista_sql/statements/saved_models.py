"""SHOW SAVED MODELS and DROP SAVED MODEL: the models SAVE BEST AS kept in vista.models.dir."""

from __future__ import annotations

from vista_sql.dialect import nodes
from vista_sql.errors import VistaError
from vista_sql.ml import saved
from vista_sql.plan.values import position
from vista_sql.statements.context import Context, Outcome


def handle_show(context: Context, tree: nodes.ShowSavedModels) -> Outcome:
    spark = context.spark
    return Outcome(spark.createDataFrame(saved.show(spark), saved.SHOW_SCHEMA))


def handle_drop(context: Context, tree: nodes.DropSavedModel) -> Outcome:
    try:
        saved.drop(context.spark, tree.this.name, bool(tree.args.get("exists")))
    except VistaError as error:
        raise error.at(*position(tree.this)) from None
    return Outcome(None)
