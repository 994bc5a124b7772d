"""CSRF protection for the browser session.

One random token per session (``session["csrf"]``). Every page form carries it as the
hidden field ``csrf_token``; scripts send it as the ``X-CSRF-Token`` header. A POST whose
token is missing or wrong is refused with 403 before the handler runs.

Two layers:
* :func:`require_csrf` is a dependency on every page router (checks form field or header);
* :class:`SessionCSRFMiddleware` covers the REST API when it is called with the session
  cookie instead of an API key (the pages' scripts do this): there the header is required.
  Requests carrying ``Authorization`` are not cookie-authenticated and pass untouched.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from leadrank.errors import Forbidden

SESSION_KEY = "csrf"
FORM_FIELD = "csrf_token"
HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class CSRFError(Forbidden):
    code = "csrf_failed"


def get_token(session: dict) -> str:
    """The session's token, created on first use."""
    token = session.get(SESSION_KEY)
    if not isinstance(token, str) or len(token) < 20:
        token = secrets.token_urlsafe(32)
        session[SESSION_KEY] = token
    return token


def rotate_token(session: dict) -> str:
    session[SESSION_KEY] = secrets.token_urlsafe(32)
    return session[SESSION_KEY]


def token_matches(session: dict, candidate: object) -> bool:
    expected = session.get(SESSION_KEY)
    if not isinstance(expected, str) or not isinstance(candidate, str) or not candidate:
        return False
    return hmac.compare_digest(expected.encode(), candidate.encode())


async def require_csrf(request: Request) -> None:
    """Router dependency: unsafe methods need the session's token (form field or header)."""
    if request.method in SAFE_METHODS:
        return
    candidate = request.headers.get(HEADER)
    if not candidate:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()  # cached on the request: the handler reads it again for free
            value = form.get(FORM_FIELD)
            candidate = value if isinstance(value, str) else None
    if not token_matches(request.session, candidate):
        raise CSRFError("This form has expired or did not come from leadrank. Reload the page and try again.")


class SessionCSRFMiddleware:
    """API calls authenticated by the session cookie must send ``X-CSRF-Token``.

    Sits inside ``SessionMiddleware`` so ``scope["session"]`` is already decoded.
    """

    def __init__(self, app: ASGIApp, *, api_prefix: str = "/api/") -> None:
        self.app = app
        self.api_prefix = api_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope["method"] not in SAFE_METHODS
                and scope["path"].startswith(self.api_prefix)):
            headers = Headers(scope=scope)
            session = scope.get("session") or {}
            if "authorization" not in headers and session.get("user_id") and \
                    not token_matches(session, headers.get(HEADER)):
                response = JSONResponse(
                    {"error": {"code": CSRFError.code,
                               "message": "requests made with the browser session need the X-CSRF-Token header"}},
                    status_code=403)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
