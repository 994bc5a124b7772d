"""Server-rendered pages (Jinja2). ``mount_web`` adds the session middleware, static files,
the page routes and the HTML error handling to the app."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from leadrank.config import get_settings
from leadrank.web.csrf import SessionCSRFMiddleware
from leadrank.web.session import LoginRequired, login_url
from leadrank.web.templating import STATIC_DIR

log = logging.getLogger("leadrank.web")
API_PREFIX = "/api/"
SESSION_MAX_AGE = 14 * 24 * 3600


def wants_html(request: Request) -> bool:
    return not request.url.path.startswith(API_PREFIX) and "text/html" in request.headers.get("accept", "")


def mount_web(app: FastAPI) -> None:
    settings = get_settings()
    # Added first = runs inside SessionMiddleware, so the session is already decoded.
    app.add_middleware(SessionCSRFMiddleware, api_prefix=API_PREFIX)
    app.add_middleware(SessionMiddleware, secret_key=settings.secret_key, same_site="lax",
                       session_cookie="leadrank_session", https_only=settings.env == "production",
                       max_age=SESSION_MAX_AGE)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    from leadrank.web.routes import auth, dashboard, leads, model, uploads

    # /customize is served by leadrank.customize.pages (installed by create_app before this).
    for module in (auth, dashboard, uploads, leads, model):
        app.include_router(module.router, include_in_schema=False)

    async def login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        return RedirectResponse(login_url(exc.next_url), status_code=303)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if wants_html(request):
            from leadrank.web.errors import render_error

            return render_error(request, exc.status_code, "" if exc.status_code == 404 else str(exc.detail))
        return await http_exception_handler(request, exc)

    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        if wants_html(request):
            from leadrank.web.errors import render_error

            return render_error(request, 500, "")
        return JSONResponse({"error": {"code": "internal_error",
                                       "message": "internal server error; the details are in the server log"}},
                            status_code=500)

    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(500, server_error)
