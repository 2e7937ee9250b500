"""`vista-sql`: a spark-sql-like shell for vista_sql statements and plain Spark SQL."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from vista_sql.errors import VistaError, VistaSyntaxError, first_line
from vista_sql.interfaces import logs, progress
from vista_sql.interfaces.display import render

HISTORY = Path(os.environ.get("VISTA_SQL_HISTORY", Path.home() / ".vista_sql_history"))
HISTORY_LENGTH = 1000
PROMPT, CONTINUATION = "vista-sql> ", "        -> "
HELP = """\
Statements end with ';' and may span several lines. Besides any Spark SQL statement:

  TRANSFER FEATURES FROM cnn [WEIGHTS RANDOM [SEED n] | 'imagenet' | 'file.weights.h5']
    LAYERS (layer, ...) | LAYERS TOP k
    ON images [AS i] (key, image) JOIN table [AS t] USING (col) | ON condition
    [WHERE condition]
    TRAIN logistic_regression (LABEL col [, FEATURES (col, ...)] [, param = value, ...])
    [EVALUATE SPLIT fraction] [MATERIALIZE INTO 'dir'] [OPTIONS (name = value, ...)];
  EXPLAIN TRANSFER FEATURES ...;   the plan and the Spark SQL it runs, without running it

CNNs: resnet50, vgg16, mobilenetv2. Shell commands: help, quit or exit (or Ctrl-D).
Ctrl-C cancels the running statement; up/down recall earlier statements."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vista-sql",
        description="Run vista_sql statements (and plain Spark SQL) on Spark.",
        epilog="vista-sql serve [--port N] starts a web query console (vista-sql serve --help).",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "-e", dest="execute", metavar="SQL", help="run these ';'-separated statements"
    )
    source.add_argument("-f", dest="file", metavar="FILE", help="run the statements in FILE")
    cluster = parser.add_mutually_exclusive_group()
    cluster.add_argument("--master", help="Spark master URL (default: local[*])")
    cluster.add_argument("--remote", metavar="sc://HOST:PORT", help="a Spark Connect server")
    parser.add_argument(
        "--conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Spark setting (repeatable)",
    )
    parser.add_argument("--output", choices=("table", "csv", "json"), default="table")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def parse_conf(pairs: list[str], parser: argparse.ArgumentParser) -> dict[str, str]:
    conf = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            parser.error(f"--conf expects KEY=VALUE, got '{pair}'")
        conf[key.strip()] = value.strip()
    return conf


class Shell:
    def __init__(self, session, output: str, debug: bool, origin: str = ""):
        self.session, self.output, self.debug, self.origin = session, output, debug, origin

    def run_script(self, script: str) -> bool:
        """Run every statement; stop at the first error. True when all succeeded."""
        from vista_sql.spark import failures
        from vista_sql.statements import split

        try:
            statements = split(script)
            for statement in statements:
                mark = failures.Mark.now()  # the evidence an error in this statement may use
                spark = self.session.spark
                # Bars end before the result prints; only the statement's own jobs are tracked.
                with (
                    progress.CancelOnInterrupt(spark),
                    progress.track(spark, progress.terminal_bars()),
                ):
                    measured = self.session.last_metrics
                    frame = self.session.execute(statement)
                    columns = list(frame.columns) if frame is not None else []
                    rows = [tuple(row) for row in frame.collect()] if columns else []
                if columns:
                    print(render(columns, rows, self.output), flush=True)
                took = self.session.last_metrics
                if self.output == "table" and took is not measured and "seconds" in took:
                    print(f"TRANSFER took {took['seconds']:.1f} s in all", flush=True)
        except VistaError as error:
            self.report(error, script)
            return False
        except Exception as error:
            if self.debug:
                raise
            if failures.is_spark_failure(error):  # e.g. raised collecting a plain query's rows
                print(f"error: {failures.describe(error, mark=mark)}", file=sys.stderr)
            else:  # a bug or an environment failure, not the user's SQL
                print(f"error: {type(error).__name__}: {first_line(error)}", file=sys.stderr)
            return False
        return True

    def cancel(self) -> None:
        # The jobs were cancelled as Ctrl-C arrived (progress.CancelOnInterrupt).
        print("cancelled", file=sys.stderr, flush=True)

    def report(self, error: VistaError, script: str) -> None:
        if self.debug:
            import traceback

            traceback.print_exception(error)
        where = f"{self.origin}:" if self.origin else ""
        print(f"error: {where}{error}", file=sys.stderr)
        if isinstance(error, VistaSyntaxError) and error.line is not None:
            lines = script.splitlines()
            if 0 < error.line <= len(lines):
                print(f"  {lines[error.line - 1]}", file=sys.stderr)
                print(f"  {' ' * max(0, (error.col or 1) - 1)}^", file=sys.stderr)

    def interactive(self) -> None:
        from vista_sql.statements import is_complete

        history = _History()
        buffer: list[str] = []
        try:
            while True:
                try:
                    line = input(CONTINUATION if buffer else PROMPT)
                except EOFError:
                    print()
                    break
                except KeyboardInterrupt:
                    print()
                    buffer = []
                    continue
                command = line.strip().lower().rstrip(";").strip()
                if not buffer and command in {"quit", "exit", "help"}:
                    history.add([line])
                    if command == "help":
                        print(HELP)
                        continue
                    break
                if not buffer and not line.strip():
                    continue
                buffer.append(line)
                script = "\n".join(buffer)
                if is_complete(script):
                    history.add(buffer)
                    buffer = []
                    try:
                        self.run_script(script)
                    except KeyboardInterrupt:
                        self.cancel()
        finally:
            history.save()


class _History:
    """readline history with each statement as one entry, kept in HISTORY between runs."""

    def __init__(self):
        try:
            import readline
        except ImportError:
            self.readline = None
            return
        self.readline = readline
        readline.set_auto_history(False)
        readline.set_history_length(HISTORY_LENGTH)
        try:
            if HISTORY.exists():
                readline.read_history_file(HISTORY)
        except OSError:
            pass

    def add(self, lines: list[str]) -> None:
        if self.readline is None:
            return
        # The history file holds one entry per line, so a statement is joined onto one line,
        # unless a '--' comment would then swallow the lines after it.
        entries = [line for line in lines if line.strip()]
        if len(entries) > 1 and not any("--" in line for line in entries):
            entries = [" ".join(line.strip() for line in entries)]
        for entry in entries:
            self.readline.add_history(entry)

    def save(self) -> None:
        if self.readline is None:
            return
        try:
            self.readline.write_history_file(HISTORY)
        except OSError:
            pass


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:  # `vista-sql serve`: the web console
        from vista_sql.interfaces.console.serve import main as serve

        return serve(argv[1:])
    parser = _parser()
    args = parser.parse_args(argv)
    conf = parse_conf(args.conf, parser)
    logs.show_warnings()
    if args.debug:
        logs.show_jvm_output()

    script, origin = None, ""
    if args.file:
        try:
            script, origin = Path(args.file).read_text(), args.file
        except OSError as error:
            print(f"error: cannot read {args.file}: {error.strerror}", file=sys.stderr)
            return 1
    elif args.execute is not None:
        script = args.execute

    spark = None
    if args.remote:
        try:
            from vista_sql.spark.session import remote_session

            spark = remote_session(args.remote, conf)
        except Exception as error:  # noqa: BLE001 - any failure here is one line for the user
            print(f"error: cannot use Spark Connect at {args.remote}: ", end="", file=sys.stderr)
            print(first_line(error), file=sys.stderr)
            return 1
    # Imported only now: it loads TensorFlow, seconds that a failed connection need not wait.
    from vista_sql.session import VistaSession

    try:
        session = VistaSession(spark, master=args.master, conf=conf)
    except VistaError as error:  # Spark's JVM did not start
        print(f"error: {error}", file=sys.stderr)
        return 1
    shell = Shell(session, args.output, args.debug, origin)
    try:
        if script is None:
            shell.interactive()
            return 0
        return 0 if shell.run_script(script) else 1
    except KeyboardInterrupt:
        shell.cancel()
        return 130
    finally:
        from vista_sql.execution import materialize
        from vista_sql.spark.session import stop

        stop(session.spark)
        materialize.sweep_abandoned()


if __name__ == "__main__":
    sys.exit(main())
