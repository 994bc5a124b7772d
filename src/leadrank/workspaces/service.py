from __future__ import annotations

import re
import unicodedata
import uuid

from sqlalchemy.orm import Session

from leadrank.errors import Conflict, InvalidInput, NotFound
from leadrank.models import Workspace
from leadrank.workspaces.repository import WorkspaceRepository


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:80]


def create_workspace(session: Session, name: str, *, slug: str | None = None) -> Workspace:
    name = name.strip()
    if not name:
        raise InvalidInput("workspace name must not be empty")
    slug = slug or slugify(name) or uuid.uuid4().hex[:8]
    repo = WorkspaceRepository(session)
    if repo.by_slug(slug) is not None:
        raise Conflict(f"a workspace named {slug!r} already exists")
    workspace = Workspace(name=name, slug=slug, settings={})
    session.add(workspace)
    session.flush()
    return workspace


def resolve_workspace(session: Session, ref: str) -> Workspace:
    """A workspace by slug or id (the CLI accepts either)."""
    repo = WorkspaceRepository(session)
    workspace = repo.by_slug(ref)
    if workspace is None:
        try:
            workspace = repo.get(uuid.UUID(ref))
        except ValueError:
            workspace = None
    if workspace is None:
        raise NotFound(f"no workspace {ref!r}")
    return workspace
