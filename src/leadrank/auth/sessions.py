"""Browser sessions: a signed cookie holding the user id and the chosen workspace."""

from __future__ import annotations

import uuid

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadrank.models import Membership, User, Workspace


def principal_from_session(request: Request, session: Session):  # noqa: ANN201 - deps.Principal
    from leadrank.deps import Principal

    data = request.scope.get("session") if "session" in request.scope else None
    if not data or "user_id" not in data:
        return None
    try:
        user_id = uuid.UUID(data["user_id"])
    except ValueError:
        return None
    user = session.get(User, user_id)
    if user is None:
        return None
    stmt = select(Workspace, Membership.role).join(Membership, Membership.workspace_id == Workspace.id).where(
        Membership.user_id == user.id)
    wanted = data.get("workspace_id")
    rows = session.execute(stmt.order_by(Workspace.name)).all()
    if not rows:
        return None
    chosen = next((r for r in rows if str(r[0].id) == wanted), rows[0])
    return Principal(workspace_id=chosen[0].id, role=chosen[1], user_id=user.id, workspace=chosen[0])
