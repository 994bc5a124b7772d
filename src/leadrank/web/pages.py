"""Server-rendered pages (Jinja2). ``mount_web`` adds the session middleware, static files
and page routes to the app."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.sessions import SessionMiddleware

from leadrank.config import get_settings


def mount_web(app: FastAPI) -> None:
    app.add_middleware(SessionMiddleware, secret_key=get_settings().secret_key, same_site="lax",
                       session_cookie="leadrank_session", https_only=False)
