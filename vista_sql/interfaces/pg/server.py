"""The PostgreSQL endpoint: pg-mimic's server on its own thread and asyncio loop, every client
connection a VistaPgSession over the one VistaSession the server shares (temporary views and
CREATE CNN are seen by every connection, as in the web console).

Clients authenticate with SCRAM-SHA-256 against one password (any user name), unless the
endpoint is told to trust clients, which only a loopback address allows. pg-mimic 0.1.3 speaks no
TLS: the password never crosses the wire (SCRAM), but the statements and results do, in clear.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import threading

from pg_mimic import (
    IdentityProvider,
    PgServer,
    ScramSha256AuthPlugin,
    TrustAuthPlugin,
)
from pg_mimic import connection as pg_connection

from vista_sql.errors import VistaError
from vista_sql.interfaces.pg import compat
from vista_sql.interfaces.pg.session import VistaPgSession
from vista_sql.statements.script import split

MAX_ROWS = 100_000


def _split(sql: str) -> list[str]:
    """A simple-query batch cut into statements as vista_sql cuts scripts, each exactly as
    written: pg-mimic's own splitter re-renders a batch through sqlglot's postgres dialect,
    which rewrites Spark functions (date_add) and cannot read TRANSFER."""
    try:
        return [statement.text for statement in split(sql)] or [sql]
    except VistaError:
        return [sql]  # the statement reports its syntax error when it runs


pg_connection.split_statements = _split


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class _Password(IdentityProvider):
    """The endpoint's one password, whatever the user name (never None: pg-mimic reads None
    as an unknown user and fails it, which is right, but the password is always known)."""

    def __init__(self, password: str):
        self._password = password

    async def get_password(self, username: str) -> str:
        return self._password


class Endpoint:
    def __init__(
        self,
        vista,
        host: str,
        port: int,
        password: str | None,
        max_rows: int = MAX_ROWS,
    ):
        if password is None and not is_loopback(host):
            raise ValueError(f"trusting clients without a password needs a loopback host: {host}")
        self.vista, self.host, self.port, self.max_rows = vista, host, port, max_rows
        plugin = TrustAuthPlugin() if password is None else ScramSha256AuthPlugin()
        live: dict = {}
        self.server = PgServer(
            session_factory=lambda: VistaPgSession(self.vista, self.max_rows, live),
            auth_plugin_factory=lambda username: plugin,
            identity_provider=_Password(password or ""),
            server_version=compat.SERVER_VERSION,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None

    def start(self) -> int:
        """Listen (raising OSError when the address is taken) and serve on a daemon thread;
        returns the port."""
        for noisy in ("pg_mimic", "sqlglot"):
            # A client hanging up mid-statement, and sqlglot's notes on SQL it cannot read
            # (Spark's and ours) are not the server operator's business.
            logging.getLogger(noisy).setLevel(logging.CRITICAL)
        self._thread = threading.Thread(target=self._serve, name="vista-pg-server", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            raise self._failure
        return self.port

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.server.close)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _serve(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._listen())
        except BaseException as error:  # noqa: BLE001 - start() raises it on the caller's thread
            self._failure = error
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop.run_until_complete(self.server.serve_forever())
        except (asyncio.CancelledError, RuntimeError):
            pass  # closed by stop()
        finally:
            self._loop.close()

    async def _listen(self) -> None:
        await self.server.start_server(self.host, self.port)
        self.port = self.server.sockets()[0].getsockname()[1]
