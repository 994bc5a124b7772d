"""Typed FastAPI dependencies shared by the API and the pages."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from leadrank.auth.apikeys import KeyGrant, authenticate, remembered_grant
from leadrank.db import get_sessionmaker, session_scope
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
    workspace_id: uuid.UUID
    role: str
    user_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    # Loaded for a browser session (its pages show the workspace); an API key carries only the id.
    workspace: Workspace | None = None

    def require_write(self) -> None:
        if self.role not in WRITE_ROLES:
            raise Forbidden("this key or account can read but not change data")


async def get_principal(request: Request) -> Principal:
    """An API key (``Authorization: Bearer lr_…``), or the signed-in user's session.

    Async, with its own short unit of work when it needs the database: a key checked in the
    last few seconds (``auth.apikeys.KEY_CACHE_SECONDS``) costs no database access and no
    worker thread, and a handler that reads through its own session does not open the
    request's session for the check."""
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        token = header[7:]
        grant = remembered_grant(token) or await run_in_threadpool(_check_key, token)
        return Principal(workspace_id=grant.workspace_id, role=grant.role, api_key_id=grant.key_id)
    principal = await run_in_threadpool(_session_principal, request)
    if principal is None:
        raise Unauthorized("send an API key as 'Authorization: Bearer <key>' (create one with "
                           "'leadrank apikey create --workspace <name>')")
    return principal


def _check_key(token: str) -> KeyGrant:
    with session_scope() as session:
        return authenticate(session, token)


def _session_principal(request: Request) -> Principal | None:
    from leadrank.auth.sessions import principal_from_session

    with session_scope() as session:
        return principal_from_session(request, session)


PrincipalDep = Annotated[Principal, Depends(get_principal)]
