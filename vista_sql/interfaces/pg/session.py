"""One PostgreSQL client connection: its statements run through a DB-API connection on the
server's shared VistaSession, one at a time, on a thread of their own.

pg-mimic drives the protocol on an asyncio loop and asks this session for a Statement (Parse)
and a Portal (Bind, Execute). Spark work never runs on the loop: each connection owns one
worker thread, so Spark's thread-local job tags (what DB-API cancel() stops) stay put, and the
next statement starts only when the last one, cancelled or not, has returned. While a statement
runs, the loop watches the client: a CancelRequest (psql's Ctrl-C) or a closed socket cancels
its Spark jobs, and NOTICE messages report each CNN stage and, every HEARTBEAT_SECONDS, that it
is still running, so a client waiting minutes for a TRANSFER sees it move.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pg_mimic import PgError, Portal, ResultColumn, Session, Statement, messages, middleware

from vista_sql import dbapi
from vista_sql.interfaces import progress
from vista_sql.interfaces.pg import catalog, compat, errors, types

HEARTBEAT_SECONDS = 30.0
WATCH_SECONDS = 0.25
_QUERY_OPENINGS = {"SELECT", "WITH", "VALUES", "TABLE", "FROM", "("}


@dataclass(frozen=True)
class Result:
    columns: list[ResultColumn] | None  # None: the statement returns no rows
    rows: list[tuple]


class VistaPgSession(Session):
    middleware = compat.MIDDLEWARE

    def __init__(self, vista, max_rows: int, live: dict):
        self.vista, self.max_rows = vista, max_rows
        self.live = live  # backend pid → session, of every connection (pg_cancel_backend)
        self.connection = dbapi.connect(session=vista)
        self.worker = ThreadPoolExecutor(1, thread_name_prefix="vista-pg")
        self._last_notice = time.monotonic()

    async def init(self, connection) -> None:
        await super().init(connection)
        self.live[connection.pid] = self

    def cancel(self) -> None:
        """What a CancelRequest does: stop the running statement (it answers 57014)."""
        if self._connection is not None:
            self._connection.request_cancel()

    async def prepare(self, sql: str, param_oids: list[int | None]) -> Statement:
        answered = await middleware.resolve(self._connection, sql, param_oids, self.middleware)
        return answered or VistaStatement(self, sql, param_oids)

    async def schema(self) -> dict:
        return catalog.declared(await self.relations())

    async def relations(self) -> list[catalog.Relation]:
        # Read beside any running statement: the catalog is not the connection's to lock.
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, catalog.relations, self.vista.spark)

    async def close(self) -> None:
        if self._connection is not None:
            self.live.pop(self._connection.pid, None)
        self.connection.cancel()
        self.worker.shutdown(wait=False, cancel_futures=True)
        self.connection.close()

    async def run(self, sql: str, params: list | None) -> Result:
        """Execute on the worker; cancelled (CancelRequest) or deserted, stop its Spark jobs and
        wait for it to return before the next statement may start."""
        loop = asyncio.get_running_loop()
        notify = _Notices(self, loop)
        work = loop.run_in_executor(self.worker, self._execute, sql, params, notify)
        watch = asyncio.ensure_future(self._watch(work))
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            self.connection.cancel()
            with contextlib.suppress(Exception):
                await work
            raise
        except dbapi.Error as error:
            raise errors.to_pg(error, sql) from None
        finally:
            watch.cancel()

    async def describe_unbound(self, sql: str, count: int) -> list[ResultColumn] | None:
        """Columns of a query whose parameters are not bound yet (a client's Describe before
        Bind): Spark analyses it with NULL for each, running nothing."""
        if compat.is_ours(sql) or compat.first_word(sql) not in _QUERY_OPENINGS:
            raise PgError(
                "0A000",
                "vista_sql runs this statement to learn its columns: bind its parameters "
                "before describing it",
            )
        loop = asyncio.get_running_loop()
        try:
            schema = await loop.run_in_executor(self.worker, self._analyse, sql, [None] * count)
        except dbapi.Error as error:
            raise errors.to_pg(error, sql) from None
        return _columns(dbapi.types.description(schema))

    def _analyse(self, sql: str, params: list):
        bound = dbapi.params.bind(sql, params)
        try:
            return self.vista.spark.sql(bound.text).schema
        except Exception as error:  # noqa: BLE001 - as the statement itself would report it
            raise dbapi.ProgrammingError(str(error).splitlines()[0]) from None

    def _execute(self, sql: str, params: list | None, notify) -> Result:
        cursor = self.connection.cursor()
        cursor.max_rows = self.max_rows + 1  # one more tells that the result is cut short
        try:
            with progress.track(self.vista.spark, _StageNotices(notify)):
                cursor.execute(sql, params or None)
            if cursor.description is None:
                return Result(None, [])
            columns = _columns(cursor.description)
            rows = cursor.fetchall()
            if len(rows) > self.max_rows:
                rows = rows[: self.max_rows]
                notify(f"the result is cut at {self.max_rows} rows (vista-sql serve --pg-max-rows)")
            kinds = [c.oid for c in columns]
            return Result(columns, [tuple(map(types.value, kinds, row)) for row in rows])
        finally:
            cursor.close()

    async def _watch(self, work: asyncio.Future) -> None:
        reader = self._connection.stream.reader
        while not work.done():
            if reader.at_eof():  # pg-mimic reads the socket only between statements
                self.connection.cancel()
                return
            if time.monotonic() - self._last_notice >= HEARTBEAT_SECONDS:
                self.notice("still running")
            await asyncio.sleep(WATCH_SECONDS)

    def notice(self, text: str) -> None:
        """A NOTICE to the client now (on the loop's thread)."""
        self._last_notice = time.monotonic()
        fields = {"S": "NOTICE", "V": "NOTICE", "C": "00000", "M": text}
        with contextlib.suppress(Exception):  # the client went away: the watch cancels
            self._connection.stream.write(messages.make_notice_response(fields))


class _Notices:
    """Posts notices from the worker thread to the loop's."""

    def __init__(self, session: VistaPgSession, loop):
        self._session, self._loop = session, loop

    def __call__(self, text: str) -> None:
        self._loop.call_soon_threadsafe(self._session.notice, text)


class _StageNotices:
    """progress.Tracker's renderer: a NOTICE when a CNN stage starts and ends, and at most every
    STAGE_NOTICE_SECONDS in between (`stage 2/4 conv5_block3_out: 350/1000 images · ...`)."""

    STAGE_NOTICE_SECONDS = 10.0

    def __init__(self, notify):
        self._notify, self._bars, self._sent = notify, {}, {}

    def begin(self, key: str, bar: progress.StageBar) -> None:
        self._bars[key], self._sent[key] = bar, time.monotonic()
        self._notify(f"{bar.label}: started")

    def update(self, key: str) -> None:
        bar = self._bars[key]
        due = time.monotonic() - self._sent[key] >= self.STAGE_NOTICE_SECONDS
        if bar.finished is not None or due:
            self._sent[key] = float("inf") if bar.finished is not None else time.monotonic()
            self._notify(f"{bar.label}: {bar.summary()}")

    def scored(self, event) -> None:
        self._notify(f"scored {progress.scored_line(event)}")

    def close(self) -> None:
        pass


def _columns(description) -> list[ResultColumn]:
    return [ResultColumn(name, types.oid(type_code)) for name, type_code, *_ in description]


class VistaStatement(Statement):
    """A statement for Spark or vista_sql. Its portal runs it on the first Execute or on the
    Describe that comes before (the simple protocol's order), never twice."""

    def __init__(self, session: VistaPgSession, sql: str, param_oids: list[int | None]):
        self.session, self.sql, self.param_oids = session, sql, param_oids
        self._bound: VistaPortal | None = None
        self._unbound: VistaPortal | None = None  # described before any Bind, not yet bound

    async def describe(self) -> list[ResultColumn] | None:
        if self._bound is not None:
            return await self._bound.columns()
        count = max(len(self.param_oids), compat.placeholders(self.sql))
        if count:
            return await self.session.describe_unbound(self.sql, count)
        self._unbound = self._unbound or VistaPortal(self.session, self.sql, None)
        return await self._unbound.columns()

    def bind(self, params: list) -> Portal:
        if self._unbound is not None and not params:
            self._bound, self._unbound = self._unbound, None  # it has run already: reuse it
        else:
            self._bound = VistaPortal(self.session, self.sql, self._typed(params))
        return self._bound

    def _typed(self, params: list) -> list:
        kinds = list(self.param_oids) + [None] * (len(params) - len(self.param_oids))
        try:
            return [types.parameter(k, value) for k, value in zip(kinds, params, strict=False)]
        except ValueError as error:
            raise PgError("22P02", f"invalid parameter: {error}") from None


class VistaPortal(Portal):
    def __init__(self, session: VistaPgSession, sql: str, params: list | None):
        self.session, self.sql, self.params = session, sql, params
        self._result: Result | None = None
        self._next = 0

    async def result(self) -> Result:
        if self._result is None:
            self._result = await self.session.run(self.sql, self.params)
        return self._result

    async def columns(self) -> list[ResultColumn] | None:
        return (await self.result()).columns

    async def execute(self, max_rows: int) -> tuple[list[tuple], bool]:
        rows = (await self.result()).rows
        end = len(rows) if max_rows <= 0 else min(len(rows), self._next + max_rows)
        chunk, self._next = rows[self._next : end], end
        return chunk, end < len(rows)
