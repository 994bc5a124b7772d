"""Migrations on PostgreSQL: processes starting together (the app and its workers) each bring
the schema up to date without tripping over one another, and the move of explanations from
the ``json`` type to JSON text keeps every document."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import PG_ADMIN_URL

pytestmark = pytest.mark.postgres


@pytest.fixture
def scratch_url(pg_database) -> Iterator[str]:  # noqa: ANN001 - requires the server
    name = f"lr_migrate_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _migrate(url: str, revision: str = "head") -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", f"from leadrank.migrate import upgrade; upgrade({revision!r})"],
        env={**os.environ, "DATABASE_URL": url, "LEADRANK_ENV": "test"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_processes_starting_together_migrate_one_after_the_other(scratch_url) -> None:  # noqa: ANN001
    from leadrank.migrate import head_revision

    procs = [_migrate(scratch_url) for _ in range(3)]
    outputs = [p.communicate(timeout=180)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], "\n".join(outputs)
    engine = create_engine(scratch_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head_revision()]
    engine.dispose()


def test_explanations_keep_their_documents_as_text(scratch_url, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    assert _migrate(scratch_url, "0002").wait(timeout=180) == 0
    engine = create_engine(scratch_url, isolation_level="AUTOCOMMIT")
    ws, lead = uuid.uuid4(), uuid.uuid4()
    document = '{"reasons": [{"text": "Visited pricing 3 times", "points": 12.5}], "model": {"base_logit": -1.2}}'
    with engine.connect() as conn:
        conn.execute(text("INSERT INTO workspaces (id, name, slug, settings, created_at) "
                          "VALUES (:id, 'W', :slug, '{}', now())"), {"id": ws, "slug": f"w-{ws.hex[:8]}"})
        conn.execute(text("INSERT INTO leads (id, workspace_id, dedupe_key, content_hash, outcome, consent, custom, "
                          "created_at, updated_at, sort_score) VALUES (:id, :ws, 'k', 'h', 'open', '{}', '{}', "
                          "now(), now(), 50)"), {"id": lead, "ws": ws})
        conn.execute(text("INSERT INTO lead_explanations (lead_id, explanation) VALUES (:id, CAST(:doc AS json))"),
                     {"id": lead, "doc": document})
    assert _migrate(scratch_url).wait(timeout=180) == 0

    monkeypatch.setenv("DATABASE_URL", scratch_url)
    monkeypatch.setenv("LEADRANK_DATA_DIR", str(tmp_path / "data"))
    from leadrank.config import get_settings
    from leadrank.db import reset_caches, session_scope
    from leadrank.models import LeadExplanation

    get_settings.cache_clear()
    reset_caches()
    try:
        with session_scope() as session:
            stored = session.get(LeadExplanation, lead).explanation
            kind = session.execute(text(
                "SELECT data_type FROM information_schema.columns "
                "WHERE table_name = 'lead_explanations' AND column_name = 'explanation'")).scalar()
            model_block = session.execute(text(
                "SELECT CAST(explanation AS json) -> 'model' ->> 'base_logit' FROM lead_explanations")).scalar()
        assert kind == "text"
        assert stored == {"reasons": [{"text": "Visited pricing 3 times", "points": 12.5}],
                          "model": {"base_logit": -1.2}}
        assert model_block == "-1.2"
    finally:
        reset_caches()
        get_settings.cache_clear()
        engine.dispose()


def test_existing_leads_get_their_search_text_and_the_table_is_vacuumed(scratch_url) -> None:  # noqa: ANN001
    """Migration 0004 computes the search text of the leads already stored, and the upgrade
    vacuums the rewritten table (so that the score index can be read without it)."""
    assert _migrate(scratch_url, "0003").wait(timeout=180) == 0
    engine = create_engine(scratch_url, isolation_level="AUTOCOMMIT")
    ws = uuid.uuid4()
    try:
        with engine.connect() as conn:
            conn.execute(text("INSERT INTO workspaces (id, name, slug, settings, created_at) "
                              "VALUES (:id, 'W', :slug, '{}', now())"), {"id": ws, "slug": f"w-{ws.hex[:8]}"})
            conn.execute(text(
                "INSERT INTO leads (id, workspace_id, dedupe_key, content_hash, first_name, last_name, email, "
                "company_name, outcome, consent, custom, created_at, updated_at, sort_score) VALUES "
                "(:id, :ws, 'k', 'h', 'Ana', NULL, 'Ana@Example.COM', 'Élan SA', 'open', '{}', '{}', now(), now(), 50)"),
                {"id": uuid.uuid4(), "ws": ws})
        assert _migrate(scratch_url).wait(timeout=180) == 0
        with engine.connect() as conn:
            assert conn.execute(text("SELECT search_text FROM leads")).scalar() == "ana  ana@example.com élan sa"
            vacuumed = conn.execute(text("SELECT last_vacuum FROM pg_stat_user_tables WHERE relname = 'leads'")
                                    ).scalar()
            include = conn.execute(text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_leads_ws_sort'")
                                   ).scalar()
        assert vacuumed is not None
        assert "INCLUDE (search_text)" in include
    finally:
        engine.dispose()
