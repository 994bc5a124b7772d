"""Sign in, sign out, switch workspace."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from leadrank.auth.sessions import principal_from_session
from leadrank.auth.users import authenticate_user, get_user_by_email
from leadrank.config import get_settings
from leadrank.demo.setup import DEMO_EMAIL, DEMO_PASSWORD
from leadrank.deps import SessionDep
from leadrank.errors import Unauthorized
from leadrank.web.csrf import require_csrf, rotate_token
from leadrank.web.session import WebDep, safe_next
from leadrank.web.templating import flash, render
from leadrank.workspaces.repository import WorkspaceRepository

router = APIRouter(dependencies=[Depends(require_csrf)])



def _demo_hint(db: SessionDep) -> dict | None:
    """Offer the documented demo login on the sign-in page, outside production only."""
    if get_settings().env == "production" or get_user_by_email(db, DEMO_EMAIL) is None:
        return None
    return {"email": DEMO_EMAIL, "password": DEMO_PASSWORD}


@router.get("/login")
def login_page(request: Request, db: SessionDep, next: str = "/") -> Response:
    if principal_from_session(request, db) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", title="Sign in · leadrank", next=safe_next(next), email="",
                  error=None, demo=_demo_hint(db))


@router.post("/login")
def login(request: Request, db: SessionDep, email: Annotated[str, Form()] = "",
          password: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/") -> Response:
    def again(message: str, status: int) -> Response:
        return render(request, "login.html", status=status, title="Sign in · leadrank", next=safe_next(next),
                      email=email, error=message, demo=_demo_hint(db))

    if not email.strip() or not password:
        return again("Enter your email and password.", 422)
    try:
        user = authenticate_user(db, email, password)
    except Unauthorized:
        return again("That email and password do not match an account.", 401)
    workspaces = WorkspaceRepository(db).for_user(user.id)
    if not workspaces:
        return again("Your account is not a member of any workspace yet. Ask an admin to add you.", 403)
    # A fresh session on sign-in: nothing from before survives (no session fixation).
    request.session.clear()
    request.session.update(user_id=str(user.id), workspace_id=str(workspaces[0][0].id))
    rotate_token(request.session)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request) -> Response:
    request.session.clear()
    flash(request, "You are signed out.")
    return RedirectResponse("/login", status_code=303)


@router.post("/workspace")
def switch_workspace(request: Request, web: WebDep, workspace_id: Annotated[str, Form()],
                     next_url: Annotated[str, Form(alias="next")] = "/") -> Response:
    try:
        wanted = uuid.UUID(workspace_id)
    except ValueError:
        wanted = None
    match = next((ws for ws, _role in web.workspaces if ws.id == wanted), None)
    if match is None:
        flash(request, "You are not a member of that workspace.", "error")
        return RedirectResponse("/", status_code=303)
    request.session["workspace_id"] = str(match.id)
    request.session.pop("uploads", None)  # a file picked in one workspace is not offered in another
    flash(request, f"Switched to {match.name}.", "success")
    # Stay in the same area of the app, but not on a record that belongs to the other workspace.
    section = "/" + safe_next(next_url).lstrip("/").split("/", 1)[0].split("?", 1)[0]
    return RedirectResponse(section if section in ("/", "/leads", "/upload", "/model", "/customize") else "/",
                            status_code=303)
