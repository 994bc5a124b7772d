"""Typed FastAPI dependencies shared by the API and the pages."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from leadrank.auth.apikeys import authenticate
from leadrank.db import get_sessionmaker
from leadrank.errors import Forbidden, Unauthorized
from leadrank.models import Workspace


def get_session() -> Iterator[Session]:
    """The request's unit of work: committed when the handler returns (before the response
    is sent, so a job id the client receives already exists), rolled back on error."""
    session = get_sessionmaker()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session, scope="function")]

WRITE_ROLES = ("owner", "admin", "member")


@dataclass
class Principal:
    workspace: Workspace
    role: str
    user_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None

    @property
    def workspace_id(self) -> uuid.UUID:
        return self.workspace.id

    def require_write(self) -> None:
        if self.role not in WRITE_ROLES:
            raise Forbidden("this key or account can read but not change data")


def get_principal(request: Request, session: SessionDep) -> Principal:
    """An API key (``Authorization: Bearer lr_…``), or the signed-in user's session."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        workspace, key = authenticate(session, header[7:])
        return Principal(workspace=workspace, role=key.role, api_key_id=key.id)
    from leadrank.auth.sessions import principal_from_session

    principal = principal_from_session(request, session)
    if principal is None:
        raise Unauthorized("send an API key as 'Authorization: Bearer <key>' (create one with "
                           "'leadrank apikey create --workspace <name>')")
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]
