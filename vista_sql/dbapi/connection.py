"""Connection and Cursor: statements through a VistaSession, results as rows of tuples."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from vista_sql.dbapi import exceptions as errors
from vista_sql.dbapi import params, types

QUERY_CANCELED = "57014"


class Connection:
    """One VistaSession. Spark has no transactions: commit() does nothing, rollback() refuses.

    close() leaves the SparkSession running: it is shared by the whole process (getOrCreate),
    and whoever created it stops it.
    """

    def __init__(self, session):
        self.session = session
        self._closed = False
        self._cursors: list[Cursor] = []
        self._jobs = _Jobs(session.spark)
        # One statement at a time: a SparkSession's catalog and temp views are shared state.
        self._lock = threading.Lock()

    def cursor(self) -> Cursor:
        self._check()
        cursor = Cursor(self)
        self._cursors.append(cursor)
        return cursor

    def commit(self) -> None:
        self._check()

    def rollback(self) -> None:
        self._check()
        raise errors.NotSupportedError("Spark SQL has no transactions to roll back")

    def cancel(self) -> bool:
        """Stop the running statement's Spark jobs (from another thread); False if none ran."""
        return self._jobs.cancel()

    def close(self) -> None:
        if self._closed:
            return
        for cursor in list(self._cursors):
            cursor.close()
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _check(self) -> None:
        if self._closed:
            raise errors.InterfaceError("the connection is closed")

    def _run(self, sql: str, max_rows: int | None):
        """(description, rows) of the last statement in `sql`; (None, []) when it has no rows."""
        from vista_sql.errors import OUT_OF_MEMORY, VistaError, first_line
        from vista_sql.spark import failures

        if not self._lock.acquire(blocking=False):
            raise errors.OperationalError("another statement is running on this connection")
        try:
            with self._jobs.tagged() as cancelled:
                mark = failures.Mark.now()
                try:
                    frame = self.session.sql(sql)
                    if frame is None or not frame.columns:
                        return None, []
                    if max_rows is not None:
                        frame = frame.limit(max_rows)
                    rows = [tuple(row) for row in frame.collect()]
                    return types.description(frame.schema), rows
                except (Exception, KeyboardInterrupt) as error:
                    if cancelled.is_set() or isinstance(error, KeyboardInterrupt):
                        # Whatever a cancelled job raised (it names the job tag) is noise.
                        raise _cancelled() from None
                    if isinstance(error, VistaError):
                        raise errors.from_vista(error) from None
                    if failures.is_spark_failure(error):
                        message = failures.describe(error, mark=mark)
                        state = OUT_OF_MEMORY if message.startswith("out of memory") else None
                        raise errors.OperationalError(message, sqlstate=state) from None
                    message = f"{type(error).__name__}: {first_line(error)}"
                    raise errors.InternalError(message) from error
        finally:
            self._lock.release()


def _cancelled() -> errors.QueryCancelledError:
    return errors.QueryCancelledError(
        "cancelled: the statement's Spark jobs were stopped", sqlstate=QUERY_CANCELED
    )


class Cursor:
    arraysize = 1

    def __init__(self, connection: Connection):
        self.connection = connection
        self.description: list[tuple] | None = None
        self.rowcount = -1
        self.lastrowid = None
        self.max_rows: int | None = None  # not PEP 249: fetch at most this many rows
        self._rows: list[tuple] = []
        self._next = 0
        self._has_result = False
        self._closed = False

    def execute(self, operation: str, parameters: Mapping | None = None) -> Cursor:
        self._check()
        if not isinstance(operation, str):
            raise errors.ProgrammingError("the operation must be SQL text (a str)")
        bound = params.bind(operation, parameters)
        self.description, self._rows, self._next, self.rowcount = None, [], 0, -1
        self._has_result = False
        try:
            description, rows = self.connection._run(bound.text, self.max_rows)
        except errors.Error as error:
            if error.line is not None:  # as the caller wrote it, not as bound
                error.line, error.col = bound.position(error.line, error.col or 1)
            raise
        self._has_result = True
        if description is not None:
            self.description, self._rows, self.rowcount = description, rows, len(rows)
        return self

    def executemany(self, operation: str, seq_of_parameters: Sequence[Mapping]) -> Cursor:
        total = 0
        for parameters in seq_of_parameters:
            self.execute(operation, parameters)
            total += max(self.rowcount, 0)
        self.rowcount = total if self.description is not None else -1
        return self

    def fetchone(self) -> tuple | None:
        self._check_result()
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchmany(self, size: int | None = None) -> list[tuple]:
        self._check_result()
        size = self.arraysize if size is None else size
        rows = self._rows[self._next : self._next + size]
        self._next += len(rows)
        return rows

    def fetchall(self) -> list[tuple]:
        self._check_result()
        rows = self._rows[self._next :]
        self._next = len(self._rows)
        return rows

    def __iter__(self) -> Iterator[tuple]:
        while (row := self.fetchone()) is not None:
            yield row

    def setinputsizes(self, sizes) -> None:
        pass

    def setoutputsize(self, size, column=None) -> None:
        pass

    def close(self) -> None:
        self._closed, self._rows = True, []
        if self in self.connection._cursors:
            self.connection._cursors.remove(self)

    def __enter__(self) -> Cursor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _check(self) -> None:
        if self._closed:
            raise errors.InterfaceError("the cursor is closed")
        self.connection._check()

    def _check_result(self) -> None:
        self._check()
        if not self._has_result:
            raise errors.ProgrammingError("no result to fetch: call execute() first")
        if self.description is None:
            raise errors.ProgrammingError("no result to fetch: the last statement returns no rows")


class _Jobs:
    """Tags a statement's Spark jobs so that cancel() stops exactly those, from any thread.

    A tag, not a job group: the TRANSFER runner sets its own job group per stage, while tags add
    up. Cancelling repeats until the statement returns, so the next stage's jobs stop too.
    """

    def __init__(self, spark):
        self._spark = spark
        try:
            self._context = spark.sparkContext
        except Exception:  # noqa: BLE001 - Spark Connect: session tags instead
            self._context = None
        self._tag: str | None = None
        self._cancelled = threading.Event()
        self._done = threading.Event()

    @contextmanager
    def tagged(self):
        tag = f"vista-dbapi-{uuid.uuid4().hex}"
        self._cancelled, self._done = threading.Event(), threading.Event()
        if self._context is not None:
            # Also stops the Python workers (the CNN) of a cancelled task.
            self._context.setInterruptOnCancel(True)
            self._context.addJobTag(tag)
        else:
            self._spark.addTag(tag)
        self._tag = tag
        try:
            yield self._cancelled
        finally:
            self._tag = None
            self._done.set()
            if self._context is not None:
                self._context.removeJobTag(tag)
            else:
                self._spark.removeTag(tag)

    def cancel(self) -> bool:
        tag, done = self._tag, self._done
        if tag is None:
            return False
        self._cancelled.set()
        threading.Thread(
            target=self._cancel_until_done, args=(tag, done), name="vista-cancel", daemon=True
        ).start()
        return True

    def _cancel_until_done(self, tag: str, done: threading.Event) -> None:
        while not done.is_set():
            try:
                if self._context is not None:
                    self._context.cancelJobsWithTag(tag)
                else:
                    self._spark.interruptTag(tag)
            except Exception:  # noqa: BLE001 - Spark stopped: nothing left to cancel
                return
            done.wait(0.25)
