"""API keys: remembered briefly by each process, so that authenticated reads cost no database
round trip and no write; revocation still takes effect (at once here, within
KEY_CACHE_SECONDS in other processes). On SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import event, text, update

from leadrank.auth import apikeys
from leadrank.db import get_engine, session_scope
from leadrank.models import ApiKey
from tests.conftest import make_tenant
from tests.web.factories import add_lead


@pytest.fixture
def statements(env):  # noqa: ANN001, ANN201 - the SQL each request sends, as it sends it
    sent: list[str] = []

    def record(conn, cursor, statement, params, context, executemany):  # noqa: ANN001, ARG001
        sent.append(" ".join(statement.split()).lower())

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", record)
    yield sent
    event.remove(engine, "before_cursor_execute", record)


def _key_id(tenant) -> object:  # noqa: ANN001
    with session_scope() as session:
        return session.scalars(ApiKey.__table__.select().with_only_columns(ApiKey.id)
                               .where(ApiKey.workspace_id == tenant.workspace_id)).one()


def test_repeated_reads_check_the_key_once_and_never_write(client, tenant, statements):
    for _ in range(5):
        assert client.get("/api/v1/leads/prioritized", headers=tenant.headers).status_code == 200
    on_keys = [s for s in statements if "api_keys" in s]
    assert len([s for s in on_keys if s.startswith("select")]) == 1
    # The first check records the use (last_used_at); the next reads write nothing.
    assert len([s for s in on_keys if s.startswith("update")]) == 1
    assert not [s for s in statements if s.startswith(("update", "insert", "delete")) and "api_keys" not in s]
    with session_scope() as session:
        assert session.get(ApiKey, _key_id(tenant)).last_used_at is not None


def test_a_key_revoked_here_is_refused_at_once(client, tenant):
    assert client.get("/api/v1/leads/prioritized", headers=tenant.headers).status_code == 200  # remembered
    with session_scope() as session:
        apikeys.revoke_api_key(session, tenant.workspace_id, _key_id(tenant))
    refused = client.get("/api/v1/leads/prioritized", headers=tenant.headers)
    assert refused.status_code == 401 and "revoked" in refused.json()["error"]["message"]
    # And it stays refused: a refusal is not remembered as a grant.
    assert client.get("/api/v1/leads/prioritized", headers=tenant.headers).status_code == 401


def test_a_key_revoked_elsewhere_is_refused_within_the_cache_time(client, tenant, monkeypatch):
    monkeypatch.setattr(apikeys._grants, "ttl", 0.3)
    assert client.get("/api/v1/leads/prioritized", headers=tenant.headers).status_code == 200
    # Another process (the CLI, another API worker) revokes it straight in the database.
    with session_scope() as session:
        session.execute(update(ApiKey).where(ApiKey.workspace_id == tenant.workspace_id)
                        .values(revoked_at=text("CURRENT_TIMESTAMP")))
    deadline = time.monotonic() + 5
    status = 200
    while status == 200 and time.monotonic() < deadline:
        status = client.get("/api/v1/leads/prioritized", headers=tenant.headers).status_code
        time.sleep(0.05)
    assert status == 401
    assert time.monotonic() < deadline  # refused once the remembered grant expired, not later


def test_a_remembered_key_keeps_its_role_and_workspace(client, tenant):
    add_lead(tenant.workspace_id, "ana@acme.io", score=70.0, grade="A")
    with session_scope() as session:
        _, viewer = apikeys.create_api_key(session, tenant.workspace_id, name="read only", role="viewer")
    headers = {"Authorization": f"Bearer {viewer}"}
    other = make_tenant("Other Co")
    for _ in range(2):  # the second time from memory
        page = client.get("/api/v1/leads/prioritized", headers=headers).json()
        assert [lead["lead_data"]["email"] for lead in page["leads"]] == ["ana@acme.io"]
        denied = client.post("/api/v1/leads/upload", headers=headers, json={"leads": [{"email": "a@b.co"}]})
        assert denied.status_code == 403
        assert client.get("/api/v1/leads/prioritized", headers=other.headers).json()["leads"] == []


def test_unknown_keys_are_checked_every_time(client, tenant, statements):
    for _ in range(3):
        assert client.get("/api/v1/leads/prioritized",
                          headers={"Authorization": "Bearer lr_00000000_nope"}).status_code == 401
    assert len([s for s in statements if s.startswith("select") and "api_keys" in s]) == 3
