"""A lead upload on PostgreSQL writes two chunks at once (``LEADRANK_UPLOAD_WRITERS``): the
result must be exactly what writing them one by one gives, whatever the file repeats across
chunks, and an interruption must leave only whole chunks, in file order."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from leadrank.config import get_settings
from leadrank.db import session_scope
from leadrank.ingest.service import save_upload, start_upload
from leadrank.jobs.service import run_job
from leadrank.models import Job, Lead
from tests.conftest import make_tenant, wait_for_jobs

pytestmark = pytest.mark.parametrize("env", ["postgres"], indirect=True)  # SQLite writes one chunk at a time


def _file(tmp_path, name: str):  # noqa: ANN001
    """1,000 rows, 100 per chunk; in the 4th and 8th chunks every 7th row repeats a lead of the
    chunk before with another company: the later row must win, as it does when written one by
    one. The other chunks share no lead and are written side by side."""
    lines = ["Email,Company,Employees"]
    for i in range(1000):
        if i % 7 == 3 and (300 <= i < 400 or 700 <= i < 800):
            j = i - 60 - (i % 40)
            lines.append(f"user{j}@firm{j}.com,Renamed {i},{i}")
        else:
            lines.append(f"user{i}@firm{i}.com,Firm {i},{10 + i if i % 97 else 'many'}")
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def _upload(workspace_id, path, writers: int, monkeypatch, stop_after: int | None = None):  # noqa: ANN001
    monkeypatch.setenv("LEADRANK_UPLOAD_CHUNK_ROWS", "100")
    monkeypatch.setenv("LEADRANK_UPLOAD_WRITERS", str(writers))
    get_settings.cache_clear()
    with path.open("rb") as fh:
        stored = save_upload(fh, path.name)
    with session_scope() as session:
        job = start_upload(session, workspace_id, stored, filename=path.name)
        session.info.pop("leadrank_jobs_to_enqueue", None)
        job_id = job.id
    status = run_job(job_id, stop_after_chunks=stop_after)
    # The scoring the upload queued runs on the in-process runner: let it end inside this test
    # (left running, it wrote beside the next test's TRUNCATE of the shared database).
    wait_for_jobs()
    return job_id, status


def _state(workspace_id, job_id):  # noqa: ANN001
    with session_scope() as session:
        leads = session.execute(select(Lead.email, Lead.company_name, Lead.company_size)
                                .where(Lead.workspace_id == workspace_id)).all()
        job = session.get(Job, job_id)
        return sorted(leads), {k: job.result[k] for k in ("created", "updated", "rejected", "duplicates_in_file")}


def test_two_writers_store_what_one_writer_stores(env, tenant, tmp_path, monkeypatch):  # noqa: ANN001
    import threading
    import time

    from leadrank.ingest import tasks

    writing, most = [0], [0]
    lock = threading.Lock()
    real = tasks.write_lead_chunk

    def counted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        with lock:
            writing[0] += 1
            most[0] = max(most[0], writing[0])
        try:
            time.sleep(0.05)  # long enough for the next chunk to start beside this one
            return real(*args, **kwargs)
        finally:
            with lock:
                writing[0] -= 1

    monkeypatch.setattr(tasks, "write_lead_chunk", counted)
    path = _file(tmp_path, "a.csv")
    one = make_tenant("one writer")
    job_one, status = _upload(one.workspace_id, path, 1, monkeypatch)
    assert status == "done"
    job_two, status = _upload(tenant.workspace_id, path, 2, monkeypatch)
    assert status == "done"
    leads_one, counts_one = _state(one.workspace_id, job_one)
    leads_two, counts_two = _state(tenant.workspace_id, job_two)
    assert leads_two == leads_one and counts_two == counts_one
    assert counts_two["updated"] > 0 and counts_two["rejected"] == 10  # the file did repeat leads across chunks
    assert any(company.startswith("Renamed") for _, company, _ in leads_two)
    assert most[0] == 2  # chunks were written side by side


def test_interrupted_overlapped_upload_keeps_whole_chunks_and_resumes(env, tenant, tmp_path, monkeypatch):  # noqa: ANN001
    path = _file(tmp_path, "b.csv")
    job_id, status = _upload(tenant.workspace_id, path, 2, monkeypatch, stop_after=2)
    assert status == "running"
    with session_scope() as session:
        job = session.get(Job, job_id)
        assert job.checkpoint == {"next_row": 202} and job.progress["rows_read"] == 200
        stored = session.scalars(select(Lead.email).where(Lead.workspace_id == tenant.workspace_id)).all()
    # the two committed chunks, nothing of the third (written beside the second, rolled back)
    assert sorted(int(e.split("@")[0][4:]) for e in stored) == [i for i in range(200) if i % 97]
    assert run_job(job_id) == "done"
    one = make_tenant("reference")
    ref_job, _ = _upload(one.workspace_id, path, 1, monkeypatch)
    assert _state(tenant.workspace_id, job_id)[0] == _state(one.workspace_id, ref_job)[0]
