"""VistaSession: the one entry point that routes each statement through the pipeline.

parse (vista dialect) → bind (Spark catalog, CNN catalog) → plan (optimizer) → lower (Spark SQL +
UDFs) → execute. Statements that are not ours go to `spark.sql` as the original text.
"""

from __future__ import annotations

import logging
import os
import re

import py4j
import sqlglot
from pyspark.errors import ParseException
from sqlglot.errors import ParseError

from vista_sql.dialect import nodes
from vista_sql.errors import VistaError, VistaExecutionError, VistaSyntaxError
from vista_sql.execution import feature_tables, predict, sql_functions
from vista_sql.spark import failures, workers
from vista_sql.statements import dispatch
from vista_sql.statements.script import Statement, split

_SPARK_POSITION = re.compile(r"\(?line (\d+),? pos (\d+)\)?;?")

# PySpark logs every analysis error with its JVM stack to stderr before raising it; vista_sql
# reports the error itself, in one line.
# py4j logs a broken connection to the JVM with its traceback; vista_sql says why the JVM ended.
for _name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger", "py4j"):
    logging.getLogger(_name).setLevel(logging.CRITICAL + 1)
_PY4J_DIRECTORY = os.path.dirname(py4j.__file__) + os.sep


def _not_from_py4j(record: logging.LogRecord) -> bool:
    return not record.pathname.startswith(_PY4J_DIRECTORY)


# ... but where the connection resets mid-command, py4j calls logging.exception on the root
# logger, which installs a stderr handler and prints the traceback above vista_sql's one line.
logging.getLogger().addFilter(_not_from_py4j)


class VistaSession:
    def __init__(self, spark=None, *, master: str | None = None, conf: dict | None = None):
        if spark is None:
            from vista_sql.spark.session import local_session

            spark = local_session(master, conf)
        self.spark = spark
        workers.keep_alive(spark)
        self.cnns: dict = {}  # CREATE CNN name → ModelRef, for this session only
        self.last_metrics: dict = {}  # of the last TRANSFER run: rows inferred per stage
        sql_functions.register(spark, self.cnns)
        feature_tables.register_all(spark)

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
        if isinstance(tree, nodes.TransferFeatures):
            self.last_metrics = {}  # a TRANSFER that fails leaves none of an earlier one's
        outcome = dispatch.execute(self.spark, self.cnns, tree)
        if outcome.metrics is not None:
            self.last_metrics = outcome.metrics
        return outcome.frame

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
            state = _sqlstate(error)
            found = _SPARK_POSITION.search(str(error))
            if not found:
                raise VistaExecutionError(message, sqlstate=state) from None
            kind = VistaSyntaxError if isinstance(error, ParseException) else VistaExecutionError
            text = _SPARK_POSITION.sub("", message).rstrip(" .;")
            raise kind(text, int(found.group(1)), int(found.group(2)) + 1, state) from None


def _sqlstate(error: BaseException) -> str | None:
    """Spark's own SQLSTATE for an error of its error classes (42P01 for an unknown table)."""
    try:
        return error.getSqlState() or None
    except Exception:  # noqa: BLE001 - not a PySparkException, or one without a class
        return None


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
