"""VistaSession: the one entry point that routes each statement through the pipeline.

parse (vista dialect) → bind (Spark catalog, CNN catalog) → plan (optimizer) → lower (Spark SQL +
UDFs) → execute. Statements that are not ours go to `spark.sql` as the original text.
"""

from __future__ import annotations

import itertools
import logging
import re

import sqlglot
from pyspark.errors import ParseException
from sqlglot.errors import ParseError

from vista_sql.catalog import roster
from vista_sql.dialect import nodes
from vista_sql.errors import VistaError, VistaExecutionError, VistaSyntaxError
from vista_sql.execution import checks, predict, sql_functions
from vista_sql.ml import models as ml_models
from vista_sql.ml import saved
from vista_sql.plan.binder import Binder
from vista_sql.plan.values import position
from vista_sql.spark import failures
from vista_sql.statements import cnns as cnn_statements
from vista_sql.statements import transfer as transfer_statement
from vista_sql.statements.script import Statement, split

_SPARK_POSITION = re.compile(r"\(?line (\d+),? pos (\d+)\)?;?")
_statement_ids = itertools.count(1)

# PySpark logs every analysis error with its JVM stack to stderr before raising it; vista_sql
# reports the error itself, in one line.
# py4j logs a broken connection to the JVM with its traceback; vista_sql says why the JVM ended.
for _name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger", "py4j"):
    logging.getLogger(_name).setLevel(logging.CRITICAL + 1)


class VistaSession:
    def __init__(self, spark=None, *, master: str | None = None, conf: dict | None = None):
        if spark is None:
            from vista_sql.spark.session import local_session

            spark = local_session(master, conf)
        self.spark = spark
        self.cnns: dict = {}  # CREATE CNN name → ModelRef, for this session only
        self.last_metrics: dict = {}  # of the last TRANSFER run: rows inferred per stage
        sql_functions.register(spark, self.cnns)

    def sql(self, text: str):
        """Run every statement in `text`; return the last one's result as a Spark DataFrame."""
        result = None
        for statement in split(text):
            result = self.execute(statement)
        return result

    def execute(self, statement: Statement):
        try:
            if statement.ours:
                return self._execute_ours(statement)
            return self._execute_spark(statement.text)
        except VistaError as error:
            raise error.shifted(statement.line - 1, statement.col - 1) from None

    # -- ours ---------------------------------------------------------------------------------

    def _execute_ours(self, statement: Statement):
        tree = parse(statement.text)
        binder = Binder(self.spark, self.cnns)
        if isinstance(tree, (nodes.CreateCnn, nodes.DropCnn)):
            if isinstance(tree, nodes.CreateCnn):
                cnn_statements.create(binder, self.cnns, tree)
            else:
                cnn_statements.drop(self.cnns, tree)
            sql_functions.register(self.spark, self.cnns)
            return None
        if isinstance(tree, nodes.ShowCnns):
            return self.spark.createDataFrame(
                cnn_statements.show(self.cnns), cnn_statements.SHOW_SCHEMA
            )
        if isinstance(tree, nodes.DescribeModel):
            try:
                learner = ml_models.lookup(tree.this.name)
            except VistaError as error:
                raise error.at(*position(tree.this)) from None
            rows = ml_models.describe(learner)
            return self.spark.createDataFrame(rows, "parameter string, default string, doc string")
        if isinstance(tree, nodes.DescribeCnn):
            rows = cnn_statements.describe(binder, tree)
            return self.spark.createDataFrame(rows, roster.DESCRIBE_SCHEMA)
        if isinstance(tree, nodes.ShowSavedModels):
            return self.spark.createDataFrame(saved.show(self.spark), saved.SHOW_SCHEMA)
        if isinstance(tree, nodes.DropSavedModel):
            try:
                saved.drop(self.spark, tree.this.name, bool(tree.args.get("exists")))
            except VistaError as error:
                raise error.at(*position(tree.this)) from None
            return None
        explain_only = isinstance(tree, nodes.ExplainTransfer)
        transfer = tree.this if explain_only else tree
        try:
            if isinstance(tree, nodes.PredictWith):
                with failures.during(f"PREDICT WITH {tree.this.name}"):
                    return predict.predict(self.spark, binder, tree)
            queries = binder.bind_all(transfer)
            save_as = transfer.args.get("save_as")
            if save_as is not None and not explain_only:
                try:
                    overwrite = bool(dict(queries[0].options).get("overwrite", False))
                    saved.check_free(self.spark, save_as.name, overwrite)
                except VistaError as error:
                    raise error.at(*position(save_as)) from None
            statement_ids = [next(_statement_ids) for _ in queries]
            plans = transfer_statement.plan_all(self.spark, queries)
            if explain_only:
                cost = bool(tree.args.get("cost"))
                text = transfer_statement.render(plans, statement_ids, with_cost=cost)
                return self.spark.createDataFrame([(text,)], "plan string")
            self.last_metrics = {}
            with failures.during("the checks before inference"):
                for plan in plans:
                    checks.before_run(self.spark, plan)
            name = save_as.name if save_as is not None else None
            # The run names its stages and fits itself; this names what falls between them.
            with failures.during("the TRANSFER"):
                return transfer_statement.run(
                    self.spark, plans, statement_ids, self.last_metrics, name
                )
        finally:
            for view in binder.temp_views:
                self.spark.catalog.dropTempView(view)

    # -- plain Spark SQL ----------------------------------------------------------------------

    def _execute_spark(self, text: str):
        predict.check_calls(self.spark, text)
        mark = failures.Mark.now()
        try:
            return self.spark.sql(text)
        except Exception as error:
            if not failures.is_spark_failure(error):
                raise
            message = failures.describe(error, mark=mark)
            found = _SPARK_POSITION.search(str(error))
            if not found:
                raise VistaExecutionError(message) from None
            kind = VistaSyntaxError if isinstance(error, ParseException) else VistaExecutionError
            text = _SPARK_POSITION.sub("", message).rstrip(" .;")
            raise kind(text, int(found.group(1)), int(found.group(2)) + 1) from None


def parse(text: str) -> nodes.TransferFeatures | nodes.ExplainTransfer:
    """Parse one vista_sql statement; syntax errors carry line and start column."""
    try:
        return sqlglot.parse_one(text, read="vista")
    except ParseError as error:
        first = error.errors[0] if error.errors else {}
        line, end_col = first.get("line"), first.get("col")
        highlight = first.get("highlight") or ""
        col = end_col - len(highlight) + 1 if end_col and highlight else end_col
        message = first.get("description") or str(error).splitlines()[0]
        raise VistaSyntaxError(message, line, col) from None
