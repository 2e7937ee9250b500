"""`vista-sql serve [--port N] [--master URL | --remote sc://...] [--conf k=v]`."""

from __future__ import annotations

import argparse
import secrets
import socket
import sys

HOST = "127.0.0.1"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vista-sql serve",
        description="A web query console on this machine only (127.0.0.1), behind a token.",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="TCP port (default 0: any free port; the URL says)"
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
    if args.debug:
        from vista_sql.interfaces import logs

        logs.show_jvm_output()
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, args.port))
        # Listening now lets a browser opened at the printed URL wait while Spark starts.
        sock.listen(128)
    except OSError as error:
        print(f"error: cannot listen on {HOST}:{args.port}: {error.strerror}", file=sys.stderr)
        return 1

    import uvicorn

    from vista_sql import dbapi
    from vista_sql.interfaces.console.app import create_app
    from vista_sql.interfaces.console.runs import Console

    try:
        connection = dbapi.connect(master=args.master, remote=args.remote, conf=conf)
    except dbapi.Error as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
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
    except KeyboardInterrupt:
        pass  # uvicorn re-raises the Ctrl-C it shut down on; PySpark's handler makes it this
    finally:
        console.close()
        connection.close()
        connection.session.spark.stop()
    return 0
