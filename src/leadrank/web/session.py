"""Who is signed in, and in which workspace: the context every signed-in page receives."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from leadrank.auth.sessions import session_memberships
from leadrank.deps import Principal, SessionDep
from leadrank.models import User, Workspace


class LoginRequired(Exception):
    """Raised by page dependencies; ``mount_web`` turns it into a redirect to /login."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


@dataclass
class WebContext:
    request: Request
    db: Session
    user: User
    principal: Principal
    workspaces: list[tuple[Workspace, str]] = field(default_factory=list)

    @property
    def workspace(self) -> Workspace:
        return self.principal.workspace

    @property
    def workspace_id(self) -> uuid.UUID:
        return self.principal.workspace_id

    @property
    def role(self) -> str:
        return self.principal.role

    @property
    def can_write(self) -> bool:
        from leadrank.deps import WRITE_ROLES

        return self.role in WRITE_ROLES


def safe_next(target: str | None) -> str:
    """Only same-site relative paths: never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def login_url(next_url: str) -> str:
    return "/login" if next_url in ("", "/") else f"/login?next={quote(next_url, safe='')}"


def get_web_context(request: Request, db: SessionDep) -> WebContext:
    principal, workspaces = session_memberships(request, db)
    if principal is None or principal.user_id is None:
        request.session.pop("user_id", None)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    user = db.get(User, principal.user_id)
    if user is None:
        raise LoginRequired(request.url.path)
    if request.session.get("workspace_id") != str(principal.workspace_id):
        request.session["workspace_id"] = str(principal.workspace_id)
    return WebContext(request=request, db=db, user=user, principal=principal, workspaces=workspaces)


WebDep = Annotated[WebContext, Depends(get_web_context)]
