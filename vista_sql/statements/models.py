"""DESCRIBE MODEL <learner>: a learner's parameters, their defaults and what they mean."""

from __future__ import annotations

from vista_sql.dialect import nodes
from vista_sql.errors import VistaError
from vista_sql.ml import models as ml_models
from vista_sql.plan.values import position
from vista_sql.statements.context import Context, Outcome

DESCRIBE_SCHEMA = "parameter string, default string, doc string"


def handle_describe(context: Context, tree: nodes.DescribeModel) -> Outcome:
    try:
        learner = ml_models.lookup(tree.this.name)
    except VistaError as error:
        raise error.at(*position(tree.this)) from None
    return Outcome(context.spark.createDataFrame(ml_models.describe(learner), DESCRIBE_SCHEMA))
