"""The contributions-changed stamp: it changes when a transaction that wrote contributions
commits, not when it rolls back, and marking it does not make writers of the same workspace
wait for each other (two upload writers, two workers' reasons chunks)."""

from __future__ import annotations

import threading

from sqlalchemy import text

from leadrank.customize.repository import CustomizeRepository
from leadrank.db import get_sessionmaker, session_scope
from tests.conftest import make_tenant


def _stamp(workspace_id) -> str:  # noqa: ANN001
    with session_scope() as session:
        return CustomizeRepository(session).stamp(workspace_id)


def test_the_stamp_changes_on_commit_only(env) -> None:  # noqa: ANN001
    ws = make_tenant("Stamp").workspace_id
    before = _stamp(ws)

    session = get_sessionmaker()()
    CustomizeRepository(session).bump_stamp(ws)
    session.rollback()
    session.close()
    assert _stamp(ws) == before

    with session_scope() as session:
        CustomizeRepository(session).bump_stamp(ws)
        CustomizeRepository(session).bump_stamp(ws)  # twice in one transaction: one change
    after = _stamp(ws)
    assert after and after != before

    with session_scope() as session:
        CustomizeRepository(session).bump_stamp(ws)
    assert _stamp(ws) not in (before, after)


def test_marking_the_stamp_does_not_make_writers_wait(env) -> None:  # noqa: ANN001
    ws = make_tenant("Stamp").workspace_id
    if env.kind != "postgres":
        return  # SQLite has one writer at a time anyway
    with session_scope() as session:
        CustomizeRepository(session).bump_stamp(ws)
    first = get_sessionmaker()()
    try:
        CustomizeRepository(first).bump_stamp(ws)
        first.execute(text("SELECT 1"))  # the first transaction is open and has marked the stamp

        finished = threading.Event()

        def second_writer() -> None:
            with session_scope() as session:
                session.execute(text("SET LOCAL lock_timeout = '5s'"))
                CustomizeRepository(session).bump_stamp(ws)
            finished.set()

        thread = threading.Thread(target=second_writer)
        thread.start()
        assert finished.wait(10), "the second writer waited for the first one's transaction"
        thread.join()
        middle = _stamp(ws)
        first.commit()
        assert _stamp(ws) != middle
    finally:
        first.close()


def test_a_savepoint_leaves_the_stamp_to_the_whole_transaction(env) -> None:  # noqa: ANN001
    ws = make_tenant("Stamp").workspace_id
    before = _stamp(ws)
    session = get_sessionmaker()()
    try:
        CustomizeRepository(session).bump_stamp(ws)
        with session.begin_nested():  # a savepoint that commits
            session.execute(text("SELECT 1"))
        nested = session.begin_nested()  # and one that rolls back
        session.execute(text("SELECT 1"))
        nested.rollback()
        session.rollback()  # the whole transaction rolls back: no change
        assert _stamp(ws) == before
        CustomizeRepository(session).bump_stamp(ws)
        with session.begin_nested():
            session.execute(text("SELECT 1"))
        session.commit()
        assert _stamp(ws) != before
    finally:
        session.close()
