"""A workspace's number of leads on PostgreSQL comes from the changes triggers record
(migration 0005): exact in every transaction, whatever added or removed the leads."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from leadrank.db import session_scope
from leadrank.leads import service
from leadrank.leads.filters import LeadFilters
from leadrank.leads.repository import LeadRepository
from leadrank.workspaces.service import create_workspace
from tests.web.factories import add_lead

pytestmark = pytest.mark.postgres


def _counted(workspace_id) -> int:  # noqa: ANN001
    with session_scope() as session:
        return session.scalar(text("SELECT count(*) FROM leads WHERE workspace_id = :ws"), {"ws": workspace_id})


def _total(workspace_id) -> int:  # noqa: ANN001
    with session_scope() as session:
        counted = service.count_leads(session, workspace_id)
    assert counted.as_of is None  # exact now, not a cached count
    return counted.total


@pytest.mark.parametrize("env", ["postgres"], indirect=True)
def test_the_total_follows_every_insert_and_delete(client, tenant, env):  # noqa: ARG001
    ws = tenant.workspace_id
    with session_scope() as session:
        other = create_workspace(session, "Other").id
    assert _total(ws) == 0
    first = add_lead(ws, "a@x.example", score=50.0)
    add_lead(other, "b@x.example", score=40.0)
    with session_scope() as session:  # many in one statement, as an upload chunk writes them
        session.execute(text(
            "INSERT INTO leads (id, workspace_id, dedupe_key, content_hash, custom, consent, outcome, sort_score, "
            "created_at, updated_at) SELECT gen_random_uuid(), :ws, 'bulk:' || g, 'x', '{}', '{}', 'open', g, "
            "now(), now() FROM generate_series(1, 250) AS g"), {"ws": ws})
        # Inside the writing transaction the total already counts them.
        assert service.count_leads(session, ws).total == 251
    assert _total(ws) == _counted(ws) == 251
    assert _total(other) == 1

    with session_scope() as session:
        session.execute(text("DELETE FROM leads WHERE workspace_id = :ws AND dedupe_key LIKE 'bulk:1%'"), {"ws": ws})
        service.delete_lead(session, ws, first)
    assert _total(ws) == _counted(ws) == 250 - 111

    with session_scope() as session:  # a rolled-back insert counts nothing
        session.execute(text(
            "INSERT INTO leads (id, workspace_id, dedupe_key, content_hash, custom, consent, outcome, sort_score, "
            "created_at, updated_at) VALUES (gen_random_uuid(), :ws, 'gone', 'x', '{}', '{}', 'open', 1, "
            "now(), now())"),
            {"ws": ws})
        session.rollback()
    assert _total(ws) == 139

    with session_scope() as session:
        rows = session.scalar(text("SELECT count(*) FROM lead_counts WHERE workspace_id = :ws"), {"ws": ws})
        LeadRepository(session).compact_counts(ws)
    with session_scope() as session:
        assert rows > 1
        assert session.scalar(text("SELECT count(*) FROM lead_counts WHERE workspace_id = :ws"), {"ws": ws}) == 1
    assert _total(ws) == 139

    with session_scope() as session:  # a workspace deleted takes its counts along
        session.execute(text("DELETE FROM workspaces WHERE id = :ws"), {"ws": other})
        assert session.scalar(text("SELECT count(*) FROM lead_counts WHERE workspace_id = :ws"), {"ws": other}) == 0
    # A filtered list is still counted (scores 200-250 of the bulk leads are left).
    with session_scope() as session:
        assert service.count_leads(session, ws, LeadFilters(min_score=200)).total == 51
