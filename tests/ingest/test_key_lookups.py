"""An upload finds the leads it already has by key through the key's index, whatever the
planner's statistics say about the workspace.

A big upload into a new workspace is not in the statistics until it ends (they are refreshed
then). Shown the workspace's id, PostgreSQL took it for one row and read every lead of the
workspace for each chunk's key lookup; the upload grew quadratically (58 s of a million-lead
upload). Each value is now looked up on its own, in its index (``leads_by_key``)."""

from __future__ import annotations

import pytest
from sqlalchemy import event, text

from leadrank.db import get_engine, session_scope
from leadrank.ingest.repository import lead_ids_by
from leadrank.leads.repository import LeadRepository
from leadrank.workspaces.service import create_workspace

pytestmark = pytest.mark.postgres



def _add_leads(workspace_id, prefix: str, n: int) -> None:  # noqa: ANN001
    with session_scope() as session:
        session.execute(text(
            "INSERT INTO leads (id, workspace_id, dedupe_key, content_hash, email, external_id, custom, consent, "
            "outcome, sort_score, created_at, updated_at) SELECT gen_random_uuid(), :ws, :p || g, 'h' || g, "
            ":p || g || '@x.example', :p || 'ext' || g, '{}', '{}', 'open', g % 100, now(), now() "
            "FROM generate_series(1, :n) AS g"), {"ws": workspace_id, "p": prefix, "n": n})


def _plans(lookup) -> tuple[object, list[str]]:  # noqa: ANN001
    """What ``lookup()`` returns, and the plan of each statement it ran."""
    engine = get_engine()
    sent: list[tuple[str, object]] = []

    def record(conn, cursor, statement, params, context, executemany):  # noqa: ANN001, ARG001
        sent.append((statement, params))

    event.listen(engine, "before_cursor_execute", record)
    try:
        result = lookup()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    plans = []
    with engine.connect() as conn, conn.connection.driver_connection.cursor() as cur:
        for statement, params in sent:
            cur.execute("EXPLAIN " + statement, params)
            plans.append("\n".join(r[0] for r in cur.fetchall()))
    return result, plans


@pytest.mark.parametrize("env", ["postgres"], indirect=True)
def test_keys_are_looked_up_by_their_index_in_a_workspace_the_statistics_do_not_know(client, tenant, env):  # noqa: ARG001
    _add_leads(tenant.workspace_id, "old", 3000)
    with get_engine().connect() as conn:  # statistics that know only the first workspace
        conn.execute(text("COMMIT"))
        conn.execute(text("ANALYZE leads"))
    with session_scope() as session:
        new = create_workspace(session, "New").id
    _add_leads(new, "new", 40_000)  # far more leads than keys looked up: probing the keys is right
    with get_engine().connect() as conn:  # what the planner would do with the id in view
        shown = "\n".join(r[0] for r in conn.execute(text(
            "EXPLAIN SELECT id FROM leads WHERE workspace_id = :ws AND dedupe_key = ANY(:keys)"),
            {"ws": new, "keys": [f"new{i}" for i in range(1, 501)]}))
    assert "uq_leads_workspace_id_dedupe_key" not in shown, "the statistics no longer mislead: rework this test"

    wanted = [f"new{i}" for i in range(1, 501)] + ["missing"]

    def by_key() -> dict:
        with session_scope() as session:
            return LeadRepository(session).find_by_keys(new, wanted)

    found, plans = _plans(by_key)
    assert len(found) == 500 and set(found) == set(wanted[:-1])
    assert all("uq_leads_workspace_id_dedupe_key" in plan and "Filter" not in plan for plan in plans), plans

    def by_email() -> dict:
        with session_scope() as session:
            return lead_ids_by(session, new, "email", [f"new{i}@x.example" for i in range(1, 501)])

    ids, plans = _plans(by_email)
    assert len(ids) == 500
    assert all("ix_leads_ws_email" in plan for plan in plans), plans
