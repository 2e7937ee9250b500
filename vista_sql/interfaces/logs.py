"""vista_sql's warnings (skipped images, rows left out, label values missing from the test split)
shown to a person: `warning: ...` lines on standard error, in the shell and in notebooks."""

from __future__ import annotations

import logging
import sys


class _WarningFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is now: above the shell's progress bars, and into the
    notebook cell that is running (IPython swaps sys.stderr per cell)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def show_warnings() -> None:
    """Idempotent: loading the extension twice must not print every warning twice."""
    logger = logging.getLogger("vista_sql")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(_WarningFormatter())
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def show_jvm_output() -> None:
    """--debug: the embedded JVM's standard error (start-up chatter, log4j) as it arrives."""
    logger = logging.getLogger("vista_sql.jvm")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        logger.addHandler(_StderrHandler())  # the JVM's lines as they are, no prefix
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
