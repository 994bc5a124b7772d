"""Browser sessions: a signed cookie holding the user id and the chosen workspace."""

from __future__ import annotations

import uuid

from fastapi import Request
from sqlalchemy.orm import Session

from leadrank.models import User
from leadrank.workspaces.repository import WorkspaceRepository


def principal_from_session(request: Request, session: Session):  # noqa: ANN201 - deps.Principal
    return session_memberships(request, session)[0]


def session_memberships(request: Request, session: Session):  # noqa: ANN201 - (deps.Principal | None, list)
    """The signed-in user's principal (in the chosen workspace, else their first) and every
    workspace they belong to with their role there, alphabetically: one query serves both
    (web pages show the workspace switcher)."""
    from leadrank.deps import Principal

    data = request.scope.get("session") if "session" in request.scope else None
    if not data or "user_id" not in data:
        return None, []
    try:
        user_id = uuid.UUID(data["user_id"])
    except ValueError:
        return None, []
    user = session.get(User, user_id)
    if user is None:
        return None, []
    rows = list(WorkspaceRepository(session).for_user(user.id))
    if not rows:
        return None, []
    wanted = data.get("workspace_id")
    chosen = next((r for r in rows if str(r[0].id) == wanted), rows[0])
    return Principal(workspace_id=chosen[0].id, role=chosen[1], user_id=user.id, workspace=chosen[0]), rows
