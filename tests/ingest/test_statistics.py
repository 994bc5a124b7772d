"""A large upload refreshes the leads table's planner statistics on PostgreSQL (VACUUM
(ANALYZE)), so the list's plans fit the table at once; a failure to do so never fails the
upload."""

from __future__ import annotations

import time

from sqlalchemy import text

from leadrank.db import get_engine, session_scope
from leadrank.ingest import tasks
from leadrank.ingest.service import save_upload, start_upload
from leadrank.jobs.service import run_job
from leadrank.models import Job
from tests.conftest import wait_for_jobs


def _upload(workspace_id, tmp_path, rows: int) -> Job:  # noqa: ANN001
    path = tmp_path / "leads.csv"
    path.write_text("Email,Company\n" + "".join(f"p{i}@firm{i}.com,Firm {i}\n" for i in range(rows)))
    with path.open("rb") as fh:
        stored = save_upload(fh, path.name)
    with session_scope() as session:
        job_id = start_upload(session, workspace_id, stored, filename=path.name).id
        session.info.pop("leadrank_jobs_to_enqueue", None)
    run_job(job_id)
    wait_for_jobs()
    with session_scope() as session:
        job = session.get(Job, job_id)
        session.expunge(job)
        return job


def _maintained() -> tuple:
    with get_engine().connect() as connection:
        return tuple(connection.execute(text(
            "SELECT vacuum_count, analyze_count FROM pg_stat_user_tables WHERE relname = 'leads'")).one())


def test_a_large_upload_vacuums_and_analyzes_the_leads_table(env, tenant, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(tasks, "REFRESH_STATISTICS_AFTER", 200)
    before = _maintained() if env.kind == "postgres" else None
    small = _upload(tenant.workspace_id, tmp_path, 150)
    assert small.status == "done"
    if env.kind == "postgres":
        assert _maintained() == before  # below the threshold: left to autovacuum
    large = _upload(tenant.workspace_id, tmp_path, 400)
    assert large.status == "done" and large.result["created"] == 250
    if env.kind == "postgres":
        deadline = time.monotonic() + 10  # the statistics are reported asynchronously
        while not all(now > then for now, then in zip(_maintained(), before)) and time.monotonic() < deadline:
            time.sleep(0.2)
        vacuums, analyzes = _maintained()
        assert vacuums > before[0] and analyzes > before[1]


def test_a_failed_refresh_does_not_fail_the_upload(env, tenant, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from leadrank.leads import repository

    def refuse(engine) -> bool:  # noqa: ANN001, ARG001
        raise RuntimeError("permission denied for table leads")

    monkeypatch.setattr(tasks, "REFRESH_STATISTICS_AFTER", 1)
    monkeypatch.setattr(repository, "refresh_lead_statistics", refuse)
    job = _upload(tenant.workspace_id, tmp_path, 20)
    assert job.status == "done" and job.result["created"] == 20
