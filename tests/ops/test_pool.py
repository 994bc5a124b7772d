"""Pooled PostgreSQL connections: one that sat idle is tested before use, so a connection
the server closed meanwhile (a restart, an idle timeout) is replaced, not handed out; one
used moments ago is handed out without a round trip."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from leadrank import db

pytestmark = pytest.mark.parametrize("env", ["postgres"], indirect=True)


def _backend_pid() -> int:
    with db.get_engine().connect() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar()


def test_an_idle_connection_the_server_closed_is_replaced(env, monkeypatch) -> None:  # noqa: ANN001
    first = _backend_pid()  # back in the pool, idle
    outside = create_engine(db.get_engine().url, poolclass=NullPool)
    try:
        with outside.connect() as other:  # e.g. the server restarting: it closes the pooled one
            assert other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first}).scalar()
    finally:
        outside.dispose()
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)
    assert _backend_pid() != first  # no error: the closed connection was replaced


def test_a_connection_used_moments_ago_is_not_pinged(env, monkeypatch) -> None:  # noqa: ANN001
    engine = db.get_engine()
    _backend_pid()
    pings = []
    real = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda conn: pings.append(1) or real(conn))
    _backend_pid()
    assert pings == []
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)
    _backend_pid()
    assert pings == [1]
