"""The console's web side: one page, a small JSON API, and a token on every request."""

from __future__ import annotations

import secrets
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse
from starlette.routing import Route

from vista_sql.interfaces.console.runs import Busy, Console

PAGE = Path(__file__).with_name("page.html")
TOKEN_HEADER = "x-vista-token"
REFUSED = "forbidden: this console needs its token; open the URL that vista-sql serve printed"


class RequireToken:
    """ASGI middleware: every request carries the token (?token= or the X-Vista-Token header)."""

    def __init__(self, app, token: str):
        self.app, self.token = app, token

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request = Request(scope)
        given = request.headers.get(TOKEN_HEADER) or request.query_params.get("token") or ""
        if not secrets.compare_digest(given.encode(), self.token.encode()):
            return await PlainTextResponse(REFUSED, status_code=403)(scope, receive, send)
        return await self.app(scope, receive, send)


def create_app(console: Console, token: str) -> Starlette:
    async def page(request: Request):
        # no-referrer: the token in the page's URL must not leak to any other site.
        headers = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
        return HTMLResponse(PAGE.read_text(encoding="utf-8"), headers=headers)

    async def run(request: Request):
        try:
            body = await request.json()
            sql, explain = body.get("sql", ""), bool(body.get("explain", False))
            if not isinstance(sql, str):
                raise ValueError("'sql' must be text")
        except ValueError as error:
            return JSONResponse({"error": f"bad request: {error}"}, status_code=400)
        try:
            return JSONResponse({"run": console.start(sql, explain)}, status_code=202)
        except Busy as busy:
            return JSONResponse({"error": str(busy)}, status_code=409)
        except ValueError as error:
            return JSONResponse({"error": str(error)}, status_code=400)

    async def status(request: Request):
        return JSONResponse(console.snapshot())

    async def cancel(request: Request):
        return JSONResponse({"cancelled": console.cancel()})

    return Starlette(
        routes=[
            Route("/", page),
            Route("/api/run", run, methods=["POST"]),
            Route("/api/status", status),
            Route("/api/cancel", cancel, methods=["POST"]),
        ],
        middleware=[
            # Only this machine's names: a page elsewhere cannot rebind its domain to us.
            Middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost"]),
            Middleware(RequireToken, token=token),
        ],
    )
