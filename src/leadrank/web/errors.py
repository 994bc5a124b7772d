from __future__ import annotations

from html import escape

from fastapi import Request
from fastapi.responses import HTMLResponse


def render_error(request: Request, status: int, message: str) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><title>leadrank — error {status}</title><h1>Something went wrong</h1>"
        f"<p>{escape(message)}</p><p><a href='/'>Back to leadrank</a></p>",
        status_code=status,
    )
