"""Friendly HTML error pages for browser requests (app.py's handlers call ``render_error``)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

TITLES = {
    400: ("That request could not be handled", "Something in the request was not what leadrank expected."),
    401: ("Please sign in", "You need to be signed in to see this page."),
    403: ("Not allowed", "Your account cannot do this in the current workspace."),
    404: ("Page not found", "There is nothing here. It may have moved, been deleted, or belong to "
                            "another workspace."),
    405: ("That action is not available here", "The page does not accept this kind of request."),
    409: ("That conflicts with what is already there", ""),
    413: ("That file is too large", ""),
    422: ("Some values could not be used", "Check the details below and try again."),
    429: ("Limit reached", ""),
    500: ("Something went wrong on our side", "The error has been logged. Try again in a moment; if it "
                                              "keeps happening, tell whoever runs this leadrank."),
    503: ("leadrank is busy", "Try again in a moment."),
}


def render_error(request: Request, status: int, message: str) -> HTMLResponse:
    from leadrank.web.templating import render

    title, hint = TITLES.get(status, TITLES[500] if status >= 500 else TITLES[400])
    signed_in = bool((request.scope.get("session") or {}).get("user_id"))
    # A 500's message may be an internal exception: never show it to the browser.
    detail = "" if status >= 500 else (message or "").strip()
    if detail:
        detail = detail[0].upper() + detail[1:]
    return render(request, "error.html", status=status, title=f"{title} · leadrank", status_code=status,
                  heading=title, hint=hint, detail=detail, signed_in=signed_in)
