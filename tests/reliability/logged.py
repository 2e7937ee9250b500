"""The warnings a statement logs on the `vista_sql` logger, as the shell and Jupyter show them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


class _Collected(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@contextmanager
def vista_warnings() -> Iterator[list[str]]:
    """The messages logged while the block runs (the list fills as they come)."""
    handler = _Collected()
    logger = logging.getLogger("vista_sql")
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
