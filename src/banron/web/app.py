"""The app factory: settings -> runtime, stores and workers -> a FastAPI app.

``create_app()`` with no arguments serves the embedded defaults (SQLite under ``BANRON_HOME``, the
local model); tests pass settings with the fake model. Every route sits behind the app-wide CSRF
dependency; bodies are size-limited before they are parsed; every response carries a strict
Content-Security-Policy (no inline script), and pages are not cached (shared classroom computers).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from banron import __version__
from banron.config import Settings, load_settings
from banron.runtime import Runtime
from banron.util import storage_errors, storage_problem
from banron.web.auth import Forbidden, LoginRequired, NotFound
from banron.web.config import WebConfig
from banron.web.csrf import csrf_protect
from banron.web.limits import BodyLimitMiddleware
from banron.web.render import page
from banron.web.routes import api, pages, student, teacher
from banron.web.routes.common import see_other
from banron.web.state import WebState

log = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI starts itself with an inline script.
DOCS_CSP = CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'").replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'"
)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        csp = DOCS_CSP if path.startswith("/docs") else CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                extra = {
                    b"content-security-policy": csp.encode(),
                    b"x-content-type-options": b"nosniff",
                    b"x-frame-options": b"DENY",
                    b"referrer-policy": b"same-origin",
                }
                if not path.startswith(("/static/", "/static-offline-docs/")):
                    extra[b"cache-control"] = b"no-store"
                headers += [(k, v) for k, v in extra.items() if k not in names]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


def create_app(
    settings: Settings | None = None, *, runtime: Runtime | None = None, config: WebConfig | None = None
) -> FastAPI:
    """The web app on ``settings`` (default: the effective settings, embedded backends)."""
    rt = runtime or Runtime(settings or load_settings())
    cfg = config or WebConfig()
    state = WebState.build(rt, cfg)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        state.close()

    app = FastAPIOffline(
        title="banron",
        version=__version__,
        summary="반론 banron: a debate sparring partner that rebuts with cited evidence.",
        description=(api.__doc__ or "").strip(),
        redoc_url=None,
        dependencies=[Depends(csrf_protect)],
        lifespan=lifespan,
    )
    app.state.banron = state

    def limit_for(path: str) -> int:
        return cfg.max_upload_bytes + 64 * 1024 if path.endswith("/upload") else cfg.max_body_bytes

    app.add_middleware(BodyLimitMiddleware, limit_for=limit_for)
    app.add_middleware(SecurityHeaders)
    static = Path(str(files("banron.web") / "static"))
    app.mount("/static", StaticFiles(directory=static), name="static")

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": "sign in first", "code": "login_required"}, status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return see_other("/login", next=target) if request.method == "GET" else see_other("/login")

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": "not allowed", "code": "forbidden"}, status_code=403)
        return page(request, "error.html", 403, code=403)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": "not found", "code": "not_found"}, status_code=404)
        return page(request, "error.html", 404, code=404)

    @app.exception_handler(sqlite3.Error)
    @app.exception_handler(OSError)
    async def storage_error(request: Request, exc: Exception) -> Response:
        # Disk full, a read-only or vanished BANRON_HOME: the write was rolled back; say so plainly
        # (the request can be retried once the disk is fixed) instead of a bare 500.
        log.error("storage error on %s: %s", request.url.path, exc)
        reason = storage_problem(exc, rt.settings.home)
        return JSONResponse(
            {"detail": f"the server could not save: {reason}; nothing was saved, try again later",
             "code": "storage_unavailable"},
            status_code=503,
        )  # fmt: skip

    # banron.pg.DatabaseUnavailable, when a PostgreSQL store or index is in use: the same 503.
    for pg_error in set(storage_errors()) - {OSError, sqlite3.Error}:
        app.add_exception_handler(pg_error, storage_error)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _wants_json(request) or exc.status_code not in (404, 405):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        return page(request, "error.html", exc.status_code, code=exc.status_code)

    app.include_router(pages.router)
    app.include_router(student.router)
    app.include_router(teacher.router)
    app.include_router(api.router)
    return app
