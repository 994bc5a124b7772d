"""Workspace API keys: ``lr_<prefix>_<secret>``; only the SHA-256 of the whole key is stored.

A fast hash is right here (unlike passwords): keys are 190 bits of randomness, so there is
nothing to brute-force, and every API request checks one.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from leadrank.errors import Unauthorized
from leadrank.models import ApiKey, Workspace
from leadrank.models.base import utcnow


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(session: Session, workspace_id: uuid.UUID, name: str = "", role: str = "admin") -> tuple[ApiKey, str]:
    prefix = secrets.token_hex(4)
    plaintext = f"lr_{prefix}_{secrets.token_urlsafe(24)}"
    key = ApiKey(workspace_id=workspace_id, name=name, prefix=prefix, key_hash=_hash(plaintext), role=role)
    session.add(key)
    session.flush()
    return key, plaintext


def authenticate(session: Session, plaintext: str) -> tuple[Workspace, ApiKey]:
    key = session.scalars(
        select(ApiKey).where(ApiKey.key_hash == _hash(plaintext.strip()), ApiKey.revoked_at.is_(None))
    ).first()
    if key is None:
        raise Unauthorized("invalid or revoked API key")
    workspace = session.get(Workspace, key.workspace_id)
    if workspace is None:
        raise Unauthorized("invalid or revoked API key")
    # Recording use at most once a minute keeps every request from writing.
    now = utcnow()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
    return workspace, key


def revoke_api_key(session: Session, workspace_id: uuid.UUID, key_id: uuid.UUID) -> None:
    session.execute(
        update(ApiKey).where(ApiKey.id == key_id, ApiKey.workspace_id == workspace_id).values(revoked_at=utcnow())
    )
