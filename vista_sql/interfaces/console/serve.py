"""`vista-sql serve [--port N] [--pg-port N] [--master URL | --remote sc://...] [--conf k=v]`."""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import sys
import threading

HOST = "127.0.0.1"
PASSWORD_VARIABLE = "VISTA_SQL_PG_PASSWORD"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vista-sql serve",
        description="A web query console on this machine only (127.0.0.1), behind a token, and "
        "with --pg-port a PostgreSQL-protocol endpoint for psql and BI tools.",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="TCP port (default 0: any free port; the URL says)"
    )
    parser.add_argument("--no-console", action="store_true", help="only the PostgreSQL endpoint")
    pg = parser.add_argument_group("PostgreSQL endpoint")
    pg.add_argument("--pg-port", type=int, help="serve the PostgreSQL protocol on this port")
    pg.add_argument("--pg-host", default=HOST, help=f"address to listen on (default {HOST})")
    pg.add_argument(
        "--pg-allow-remote",
        action="store_true",
        help="allow a --pg-host other than loopback (no TLS: statements and rows travel in clear)",
    )
    pg.add_argument(
        "--pg-trust",
        action="store_true",
        help=f"no password (loopback only); else ${PASSWORD_VARIABLE}, or a generated one "
        "printed here",
    )
    pg.add_argument(
        "--pg-max-rows", type=int, default=100_000, help="rows a result returns (default 100000)"
    )
    cluster = parser.add_mutually_exclusive_group()
    cluster.add_argument("--master", help="Spark master URL (default: local[*])")
    cluster.add_argument("--remote", metavar="sc://HOST:PORT", help="a Spark Connect server")
    parser.add_argument(
        "--conf", action="append", default=[], metavar="KEY=VALUE", help="Spark setting"
    )
    parser.add_argument(
        "--max-rows", type=int, default=1000, help="rows a result grid shows (default 1000)"
    )
    parser.add_argument("--debug", action="store_true", help="show the Spark JVM's own output")
    return parser


def main(argv: list[str]) -> int:
    from vista_sql.interfaces.cli import parse_conf

    parser = _parser()
    args = parser.parse_args(argv)
    conf = parse_conf(args.conf, parser)
    _check_pg(args, parser)
    if args.debug:
        from vista_sql.interfaces import logs

        logs.show_jvm_output()
    sock = None
    if not args.no_console:
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((HOST, args.port))
            # Listening now lets a browser opened at the printed URL wait while Spark starts.
            sock.listen(128)
        except OSError as error:
            print(f"error: cannot listen on {HOST}:{args.port}: {error.strerror}", file=sys.stderr)
            return 1

    from vista_sql import dbapi

    try:
        connection = dbapi.connect(master=args.master, remote=args.remote, conf=conf)
    except dbapi.Error as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    endpoint = None
    try:
        if args.pg_port is not None:
            endpoint = _start_pg(args, connection.session)
            if endpoint is None:
                return 1
        if sock is not None:
            _serve_console(args, connection, sock)
        else:
            print("Ctrl-C stops the server", flush=True)
            threading.Event().wait()
    except KeyboardInterrupt:
        pass  # uvicorn re-raises the Ctrl-C it shut down on; PySpark's handler makes it this
    finally:
        if endpoint is not None:
            endpoint.stop()
        connection.close()
        connection.session.spark.stop()
    return 0


def _check_pg(args, parser) -> None:
    from vista_sql.interfaces.pg.server import is_loopback

    if args.no_console and args.pg_port is None:
        parser.error("--no-console leaves nothing to serve without --pg-port")
    if args.pg_port is None:
        return
    if not is_loopback(args.pg_host):
        if args.pg_trust:
            parser.error(f"--pg-trust needs a loopback --pg-host, not {args.pg_host}")
        if not args.pg_allow_remote:
            parser.error(
                f"--pg-host {args.pg_host} lets other machines connect: "
                "say so with --pg-allow-remote"
            )


def _start_pg(args, vista):
    from vista_sql.interfaces.pg.server import Endpoint, is_loopback

    password = None
    if not args.pg_trust:
        password = os.environ.get(PASSWORD_VARIABLE) or secrets.token_urlsafe(18)
    endpoint = Endpoint(vista, args.pg_host, args.pg_port, password, args.pg_max_rows)
    try:
        port = endpoint.start()
    except OSError as error:
        message = error.strerror or str(error)
        print(f"error: cannot listen on {args.pg_host}:{args.pg_port}: {message}", file=sys.stderr)
        return None
    if not is_loopback(args.pg_host):
        print(
            f"warning: the PostgreSQL endpoint listens on {args.pg_host}, reachable from other "
            "machines, without TLS: statements and results travel unencrypted",
            file=sys.stderr,
            flush=True,
        )
    where = f"{args.pg_host}:{port}/vista"
    if password is None:
        print(f"vista_sql PostgreSQL endpoint: postgresql://vista@{where} (no password)")
    elif os.environ.get(PASSWORD_VARIABLE):
        print(f"vista_sql PostgreSQL endpoint: postgresql://vista@{where} (${PASSWORD_VARIABLE})")
    else:
        print(f"vista_sql PostgreSQL endpoint: postgresql://vista:{password}@{where}")
    sys.stdout.flush()
    return endpoint


def _serve_console(args, connection, sock) -> None:
    import uvicorn

    from vista_sql.interfaces.console.app import create_app
    from vista_sql.interfaces.console.runs import Console

    token = secrets.token_urlsafe(24)
    console = Console(connection, max_rows=args.max_rows)
    port = sock.getsockname()[1]
    print(f"vista_sql console: http://{HOST}:{port}/?token={token}", flush=True)
    print("one statement at a time; Ctrl-C stops the server", flush=True)
    server = uvicorn.Server(
        uvicorn.Config(create_app(console, token), log_level="warning", access_log=False)
    )
    try:
        server.run(sockets=[sock])
    finally:
        console.close()
