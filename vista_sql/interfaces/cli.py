"""`vista-sql`: a spark-sql-like shell for vista_sql statements and plain Spark SQL."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from vista_sql.errors import VistaError, VistaSyntaxError
from vista_sql.interfaces.display import render

HISTORY = Path(os.environ.get("VISTA_SQL_HISTORY", Path.home() / ".vista_sql_history"))
PROMPT, CONTINUATION = "vista-sql> ", "        -> "


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vista-sql", description="Run vista_sql statements (and plain Spark SQL) on Spark."
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "-e", dest="execute", metavar="SQL", help="run these ';'-separated statements"
    )
    source.add_argument("-f", dest="file", metavar="FILE", help="run the statements in FILE")
    parser.add_argument("--master", help="Spark master URL (default: local[*])")
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


def _conf(pairs: list[str], parser: argparse.ArgumentParser) -> dict[str, str]:
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
        from vista_sql.statements import split

        try:
            statements = split(script)
            for statement in statements:
                self._show(self.session.execute(statement))
        except VistaError as error:
            self.report(error, script)
            return False
        except Exception as error:  # a bug or an environment failure, not the user's SQL
            if self.debug:
                raise
            print(
                f"error: {type(error).__name__}: {str(error).strip().splitlines()[0]}",
                file=sys.stderr,
            )
            return False
        return True

    def _show(self, frame) -> None:
        if frame is None or not frame.columns:
            return
        rows = [tuple(row) for row in frame.collect()]
        print(render(list(frame.columns), rows, self.output), flush=True)

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

        try:
            import readline

            if HISTORY.exists():
                readline.read_history_file(HISTORY)
        except (ImportError, OSError):
            readline = None
        buffer: list[str] = []
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
            if not buffer and line.strip().lower().rstrip(";") in {"quit", "exit"}:
                break
            if not buffer and not line.strip():
                continue
            buffer.append(line)
            script = "\n".join(buffer)
            if is_complete(script):
                buffer = []
                try:
                    self.run_script(script)
                except KeyboardInterrupt:
                    self.session.spark.sparkContext.cancelAllJobs()
                    print("cancelled", file=sys.stderr)
        if readline is not None:
            try:
                readline.write_history_file(HISTORY)
            except OSError:
                pass


class _WarningFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    conf = _conf(args.conf, parser)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_WarningFormatter())
    logging.getLogger("vista_sql").addHandler(handler)
    logging.getLogger("vista_sql").setLevel(logging.INFO)

    script, origin = None, ""
    if args.file:
        try:
            script, origin = Path(args.file).read_text(), args.file
        except OSError as error:
            print(f"error: cannot read {args.file}: {error.strerror}", file=sys.stderr)
            return 1
    elif args.execute is not None:
        script = args.execute

    from vista_sql.session import VistaSession

    session = VistaSession(master=args.master, conf=conf)
    shell = Shell(session, args.output, args.debug, origin)
    try:
        if script is None:
            shell.interactive()
            return 0
        return 0 if shell.run_script(script) else 1
    finally:
        session.spark.stop()


if __name__ == "__main__":
    sys.exit(main())
