"""IPython magics: `%load_ext vista_sql`, then `%%vista_sql` cells and `%vista_sql` lines.

The result of the last statement comes back as a pandas DataFrame (EXPLAIN as preformatted
text), so Jupyter renders it and the notebook can keep working with it.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass

from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand

from vista_sql.interfaces import logs, progress
from vista_sql.interfaces.display import PlanText, metrics_figure

_FLAG = re.compile(r"\s*(--spark|-o|--plot)(?=\s|$)")
_NAME = re.compile(r"\s+([A-Za-z_]\w*)(?=\s|$)")
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")


class VistaMagicError(Exception):
    """Shown as one line: IPython prints `_render_traceback_()` in place of a traceback."""

    def __init__(self, message: str, kind: str = "error"):
        super().__init__(message)
        self.kind = kind

    def _render_traceback_(self) -> list[str]:
        return [f"{self.kind}: {self}"]


@dataclass(frozen=True)
class Options:
    spark: str | None = None
    output: str | None = None
    plot: bool = False


def parse_options(line: str) -> tuple[Options, str]:
    """Leading `--spark VAR`, `-o VAR`, `--plot`; the rest of the line is SQL, untouched."""
    values: dict = {}
    rest = line
    while found := _FLAG.match(rest):
        flag, rest = found.group(1), rest[found.end() :]
        if flag == "--plot":
            values["plot"] = True
            continue
        name = _NAME.match(rest)
        if not name:
            raise VistaMagicError(f"{flag} needs a variable name", "UsageError")
        values["spark" if flag == "--spark" else "output"] = name.group(1)
        rest = rest[name.end() :]
    return Options(**values), rest.strip()


@magics_class
class VistaMagics(Magics):
    # No IPython {expr} expansion: SQL regexes use braces ('[0-9]{3}'); {{name}} is ours.
    @no_var_expand
    @line_cell_magic
    def vista_sql(self, line: str, cell: str | None = None):
        """Run vista_sql statements (TRANSFER FEATURES ..., EXPLAIN, any Spark SQL).

        %vista_sql [options] STATEMENT
        %%vista_sql [options]
        STATEMENT; STATEMENT; ...

        Returns the last statement's result as a pandas DataFrame (EXPLAIN: its plan as text).
        `{{name}}` in the SQL is replaced by the notebook variable `name` (e.g. a path).

        Options:
          --spark VAR  run on the SparkSession in notebook variable VAR (default: the active
                       SparkSession, else an embedded local one)
          -o VAR       also store the result in notebook variable VAR
          --plot       draw accuracy, F1 and AUC by layer, the structured-only baseline as lines
        """
        options, inline = parse_options(line)
        if cell is not None and inline:
            raise VistaMagicError(
                f"unexpected '{inline.split()[0]}': options only on the %%vista_sql line",
                "UsageError",
            )
        text = self._substitute(cell if cell is not None else inline)
        if not text.strip():
            raise VistaMagicError("no statement to run", "UsageError")
        spark = self._spark(options.spark)
        result = self._run(spark, text)
        if options.plot:
            self._plot(result)
        if options.output:
            self.shell.user_ns[options.output] = result
        return result

    def _run(self, spark, text: str):
        from vista_sql.errors import VistaError
        from vista_sql.session import VistaSession
        from vista_sql.spark import failures

        in_kernel = getattr(self.shell, "kernel", None) is not None
        bars = progress.NotebookBars() if in_kernel else progress.terminal_bars()
        mark = failures.Mark.now()
        try:
            with progress.CancelOnInterrupt(spark), progress.track(spark, bars):
                return _python_result(VistaSession(spark).sql(text))
        except VistaError as error:
            raise VistaMagicError(str(error), type(error).__name__) from None
        except KeyboardInterrupt:
            raise VistaMagicError("the statement's Spark jobs were stopped", "cancelled") from None
        except Exception as error:
            if not failures.is_spark_failure(error):
                raise
            raise VistaMagicError(
                failures.describe(error, mark=mark), type(error).__name__
            ) from None

    def _spark(self, name: str | None):
        if name is not None:
            if name not in self.shell.user_ns:
                raise VistaMagicError(f"--spark {name}: no such variable", "UsageError")
            spark = self.shell.user_ns[name]
            if not callable(getattr(spark, "sql", None)):
                kind = type(spark).__name__
                raise VistaMagicError(
                    f"--spark {name} is a {kind}, not a SparkSession", "UsageError"
                )
            return spark
        from pyspark.sql import SparkSession

        active = SparkSession.getActiveSession()
        if active is not None:
            return active
        from vista_sql.spark.session import local_session

        return local_session()

    def _substitute(self, text: str) -> str:
        def value(found: re.Match) -> str:
            head, *attributes = found.group(1).split(".")
            if head not in self.shell.user_ns:
                raise VistaMagicError(f"{found.group(0)}: no such variable", "UsageError")
            current = self.shell.user_ns[head]
            for attribute in attributes:
                current = getattr(current, attribute)
            return str(current)

        return _VARIABLE.sub(value, text)

    def _plot(self, result) -> None:
        from IPython.display import Image, display

        columns = getattr(result, "columns", None)
        if columns is None:
            raise VistaMagicError("--plot needs a TRANSFER result", "UsageError")
        try:
            figure = metrics_figure(result)
        except ValueError as error:
            raise VistaMagicError(str(error), "UsageError") from None
        except ImportError:
            message = "--plot needs matplotlib: pip install 'vista_sql[jupyter]'"
            raise VistaMagicError(message, "UsageError") from None
        # A PNG is drawn the same with or without an inline matplotlib backend.
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100)
        display(Image(data=buffer.getvalue(), format="png"))


def _python_result(frame):
    if frame is None or not frame.columns:
        return None
    if list(frame.columns) == ["plan"]:
        return PlanText("\n".join(str(row[0]) for row in frame.collect()))
    with warnings.catch_warnings():
        # PySpark warns with the whole error before raising it; the magic reports it in one line.
        warnings.filterwarnings("ignore", "toPandas attempted Arrow optimization", UserWarning)
        return frame.toPandas()


def load_ipython_extension(ipython) -> None:
    logs.show_warnings()
    ipython.register_magics(VistaMagics)
