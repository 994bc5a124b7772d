"""Local accounts. Passwords are hashed with Argon2id (argon2-cffi's defaults)."""

from __future__ import annotations

import uuid

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadrank.errors import Conflict, InvalidInput, Unauthorized
from leadrank.models import Membership, User
from leadrank.models.user import ROLES

_hasher = PasswordHasher()
MIN_PASSWORD = 8


def create_user(session: Session, email: str, password: str, name: str = "") -> User:
    email = email.strip().lower()
    if "@" not in email:
        raise InvalidInput("a valid email is needed to sign in")
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"passwords need at least {MIN_PASSWORD} characters")
    if session.scalars(select(User).where(User.email == email)).first():
        raise Conflict(f"an account for {email} already exists")
    user = User(email=email, name=name or email.split("@")[0], password_hash=_hasher.hash(password))
    session.add(user)
    session.flush()
    return user


def authenticate_user(session: Session, email: str, password: str) -> User:
    user = session.scalars(select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        _hasher.hash(password)  # same cost whether or not the account exists
        raise Unauthorized("wrong email or password")
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise Unauthorized("wrong email or password") from None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def add_member(session: Session, user_id: uuid.UUID, workspace_id: uuid.UUID, role: str = "admin") -> Membership:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
    existing = session.scalars(select(Membership).where(
        Membership.user_id == user_id, Membership.workspace_id == workspace_id)).first()
    if existing:
        existing.role = role
        return existing
    membership = Membership(user_id=user_id, workspace_id=workspace_id, role=role)
    session.add(membership)
    session.flush()
    return membership


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.scalars(select(User).where(User.email == email.strip().lower())).first()
