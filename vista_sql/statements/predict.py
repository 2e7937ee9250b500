"""PREDICT WITH <saved model> ON images JOIN table ...: a saved model applied to new rows."""

from __future__ import annotations

from vista_sql.dialect import nodes
from vista_sql.execution import predict
from vista_sql.spark import failures
from vista_sql.statements.context import Context, Outcome


def handle(context: Context, tree: nodes.PredictWith) -> Outcome:
    with failures.during(f"PREDICT WITH {tree.this.name}"):
        return Outcome(predict.predict(context.spark, context.binder, tree))
