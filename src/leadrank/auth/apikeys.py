"""Workspace API keys: ``lr_<prefix>_<secret>``; only the SHA-256 of the whole key is stored.

A fast hash is right here (unlike passwords): keys are 190 bits of randomness, so there is
nothing to brute-force, and every API request checks one.

Each API process remembers a valid key for :data:`KEY_CACHE_SECONDS` (what it grants: the
workspace and the role), so that a request does not pay a database round trip to be let in.
Revoking a key takes effect at once in the process that revokes it, and within
:data:`KEY_CACHE_SECONDS` everywhere else. Unknown and revoked keys are never remembered:
each attempt with one is checked against the database.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import uuid
from dataclasses import dataclass

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from leadrank.errors import Unauthorized
from leadrank.models import ApiKey, Workspace
from leadrank.models.base import utcnow

KEY_CACHE_SECONDS = 5.0
KEY_CACHE_SIZE = 10_000
# Recording use at most once a minute keeps authenticated reads from writing.
LAST_USED_RESOLUTION_SECONDS = 60


@dataclass(frozen=True)
class KeyGrant:
    """What a valid API key grants: a role in one workspace."""

    key_id: uuid.UUID
    workspace_id: uuid.UUID
    role: str


class _GrantCache:
    """Valid keys (by hash) → their grant, each for ``ttl`` seconds. Thread-safe."""

    def __init__(self, ttl: float, size: int) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: dict[str, tuple[float, KeyGrant]] = {}
        self._lock = threading.Lock()

    def get(self, key_hash: str) -> KeyGrant | None:
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        if time.monotonic() >= entry[0]:
            with self._lock:
                if self._entries.get(key_hash) is entry:
                    del self._entries[key_hash]
            return None
        return entry[1]

    def put(self, key_hash: str, grant: KeyGrant) -> None:
        with self._lock:
            if len(self._entries) >= self.size:
                self._entries.clear()  # bounded: at worst every key is checked once more
            self._entries[key_hash] = (time.monotonic() + self.ttl, grant)

    def forget_key(self, key_id: uuid.UUID) -> None:
        with self._lock:
            for key_hash in [h for h, (_, g) in self._entries.items() if g.key_id == key_id]:
                del self._entries[key_hash]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_grants = _GrantCache(KEY_CACHE_SECONDS, KEY_CACHE_SIZE)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(session: Session, workspace_id: uuid.UUID, name: str = "", role: str = "admin") -> tuple[ApiKey, str]:
    prefix = secrets.token_hex(4)
    plaintext = f"lr_{prefix}_{secrets.token_urlsafe(24)}"
    key = ApiKey(workspace_id=workspace_id, name=name, prefix=prefix, key_hash=_hash(plaintext), role=role)
    session.add(key)
    session.flush()
    return key, plaintext


def remembered_grant(plaintext: str) -> KeyGrant | None:
    """The grant of a key this process checked less than :data:`KEY_CACHE_SECONDS` ago
    (no database access), else None: then call :func:`authenticate`."""
    return _grants.get(_hash(plaintext.strip()))


def authenticate(session: Session, plaintext: str) -> KeyGrant:
    """Check a key against the database (one query: the key, not revoked, of an existing
    workspace) and remember it. Raises :class:`Unauthorized` for an unknown or revoked key."""
    key_hash = _hash(plaintext.strip())
    row = session.execute(
        select(ApiKey.id, ApiKey.workspace_id, ApiKey.role, ApiKey.last_used_at)
        .join(Workspace, Workspace.id == ApiKey.workspace_id)
        .where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
    ).first()
    if row is None:
        raise Unauthorized("invalid or revoked API key")
    now = utcnow()
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > LAST_USED_RESOLUTION_SECONDS:
        session.execute(update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=now))
    grant = KeyGrant(key_id=row.id, workspace_id=row.workspace_id, role=row.role)
    _grants.put(key_hash, grant)
    return grant


def revoke_api_key(session: Session, workspace_id: uuid.UUID, key_id: uuid.UUID) -> None:
    """Revoke a key: refused from now on by this process, by the others within
    :data:`KEY_CACHE_SECONDS`."""
    session.execute(
        update(ApiKey).where(ApiKey.id == key_id, ApiKey.workspace_id == workspace_id).values(revoked_at=utcnow())
    )
    _grants.forget_key(key_id)
    # A request checking the key before this commits may remember it again: forget it once more.
    event.listen(session, "after_commit", lambda _session: _grants.forget_key(key_id), once=True)


def forget_remembered_keys() -> None:
    """Drop every remembered key (tests switch databases)."""
    _grants.clear()
