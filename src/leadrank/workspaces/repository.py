from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadrank.models import Membership, Workspace


class WorkspaceRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, workspace_id: uuid.UUID) -> Workspace | None:
        return self.session.get(Workspace, workspace_id)

    def by_slug(self, slug: str) -> Workspace | None:
        return self.session.scalars(select(Workspace).where(Workspace.slug == slug)).first()

    def all(self) -> Sequence[Workspace]:
        return self.session.scalars(select(Workspace).order_by(Workspace.name)).all()

    def for_user(self, user_id: uuid.UUID) -> Sequence[tuple[Workspace, str]]:
        rows = self.session.execute(
            select(Workspace, Membership.role)
            .join(Membership, Membership.workspace_id == Workspace.id)
            .where(Membership.user_id == user_id)
            .order_by(Workspace.name)
        ).all()
        return [(ws, role) for ws, role in rows]
