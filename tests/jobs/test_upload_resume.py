"""An upload interrupted mid-way is resumed from its last committed chunk: every row ends
up stored exactly once, and rejects are neither lost nor doubled."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from leadrank.config import get_settings
from leadrank.db import session_scope
from leadrank.ingest.service import save_upload, start_upload
from leadrank.jobs.repository import JobRepository
from leadrank.jobs.service import resume_stale_jobs, run_job
from leadrank.models import Job, Lead
from tests.conftest import wait_for_jobs


def _file(tmp_path, n: int):
    lines = ["Email,Company,Employees"]
    for i in range(n):
        size = "many" if i % 100 == 7 else str(10 + i)
        lines.append(f"user{i}@firm{i}.com,Firm {i},{size}")
    path = tmp_path / "big.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _start(workspace_id, path):
    with path.open("rb") as fh:
        stored = save_upload(fh, path.name)
    with session_scope() as session:
        job = start_upload(session, workspace_id, stored, filename=path.name)
        session.info.pop("leadrank_jobs_to_enqueue", None)  # the test drives the job itself
        return job.id


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setenv("LEADRANK_UPLOAD_CHUNK_ROWS", "500")
    get_settings.cache_clear()


def _lead_count(workspace_id) -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(Lead).where(Lead.workspace_id == workspace_id))


def test_interrupted_upload_resumes_without_loss_or_duplicates(env, tenant, tmp_path, small_chunks):
    path = _file(tmp_path, 2300)
    job_id = _start(tenant.workspace_id, path)

    assert run_job(job_id, stop_after_chunks=2) == "running"
    assert _lead_count(tenant.workspace_id) == 1000 - 10  # two chunks of 500, 5 rejects each
    with session_scope() as session:
        job = session.get(Job, job_id)
        assert job.status == "running" and job.checkpoint == {"next_row": 1002}
        assert job.progress["rows_read"] == 1000

    assert run_job(job_id) == "done"
    wait_for_jobs()
    assert _lead_count(tenant.workspace_id) == 2300 - 23
    with session_scope() as session:
        job = session.get(Job, job_id)
        assert job.result["created"] == 2277 and job.result["rejected"] == 23
        rejects = JobRepository(session).rejects(job_id)
        assert len(rejects) == 23 and len({r.row_number for r in rejects}) == 23
        assert all(r.field == "company_size" for r in rejects)


def test_stale_running_job_is_picked_up_again(env, tenant, tmp_path, small_chunks):
    from datetime import timedelta

    from leadrank.models.base import utcnow

    job_id = _start(tenant.workspace_id, _file(tmp_path, 1200))
    assert run_job(job_id, stop_after_chunks=1) == "running"
    with session_scope() as session:  # the worker "died" two minutes ago
        session.get(Job, job_id).heartbeat_at = utcnow() - timedelta(minutes=2)
    assert job_id in resume_stale_jobs()
    wait_for_jobs()
    with session_scope() as session:
        assert session.get(Job, job_id).status == "done"
    assert _lead_count(tenant.workspace_id) == 1200 - 12


def test_missing_file_fails_with_a_clear_reason(env, tenant, tmp_path):
    path = _file(tmp_path, 10)
    job_id = _start(tenant.workspace_id, path)
    with session_scope() as session:
        stored = session.get(Job, job_id).params["path"]
    import os

    os.unlink(stored)
    assert run_job(job_id) == "failed"
    with session_scope() as session:
        job = session.get(Job, job_id)
        assert "no longer on disk" in job.error
    assert _lead_count(tenant.workspace_id) == 0
