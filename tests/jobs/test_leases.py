"""Who runs a job: leases, fencing, the stale-job sweep, chunk poisoning and enqueue after
commit, on SQLite and PostgreSQL with the in-process runner."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from leadrank.db import session_scope
from leadrank.jobs.context import JobContext, LeaseLost
from leadrank.jobs.registry import chunked_job, job_handler
from leadrank.jobs.repository import JobRepository
from leadrank.jobs.service import MAX_CHUNK_ATTEMPTS, _claim, _finish, create_job, run_job, stale_after, sweep_stale_jobs
from leadrank.models import Job, JobReject
from leadrank.models.base import utcnow

STEPS = 3


@job_handler("test.steps")
def _steps(ctx: JobContext) -> dict:
    """A resumable job of three committed steps (each writes one reject row as its data)."""
    step = int(ctx.checkpoint.get("step", 0))
    while step < STEPS:
        with session_scope() as session:
            JobRepository(session).add_rejects(ctx.job_id, [{"row_number": step, "field": None,
                                                             "reason": f"step {step}", "raw": {}}])
            step += 1
            ctx.save(session, checkpoint={"step": step}, add={"rows_read": 1})
        ctx.chunk_done()
    return {"rows_read": ctx.progress["rows_read"]}


def _plan(ctx: JobContext) -> list[dict]:
    return [{"row": i} for i in range(int(ctx.params.get("chunks", 4)))]


def _write_chunk(session, ctx: JobContext, params: dict) -> dict:  # noqa: ANN001
    JobRepository(session).add_rejects(ctx.job_id, [{"row_number": params["row"], "field": None,
                                                     "reason": "written", "raw": {}}])
    return {"processed": 1}


def _finish_chunks(ctx: JobContext, results: list[dict]) -> dict:
    return {"processed": sum(r["processed"] for r in results)}


chunked_job("test.chunks", plan=_plan, run_chunk=_write_chunk, finish=_finish_chunks)


class _Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.submitted: list[uuid.UUID] = []
        self.fail = fail

    def submit(self, job_id: uuid.UUID) -> None:
        if self.fail:
            raise ConnectionError("Redis is down")
        self.submitted.append(job_id)

    def shutdown(self) -> None:
        pass


@pytest.fixture
def recorder(env):  # noqa: ANN001, ANN201
    from leadrank.jobs.runner import set_runner

    runner = _Recorder()
    set_runner(runner)
    return runner


def _new_job(tenant, kind: str = "test.steps", params: dict | None = None) -> uuid.UUID:  # noqa: ANN001
    with session_scope() as session:
        return create_job(session, tenant.workspace_id, kind, params).id


def _age(job_id: uuid.UUID, **values) -> None:  # noqa: ANN003
    with session_scope() as session:
        job = session.get(Job, job_id)
        for key, value in values.items():
            setattr(job, key, value)


def _job(job_id: uuid.UUID) -> Job:
    with session_scope() as session:
        return session.get(Job, job_id)


def _rows(job_id: uuid.UUID) -> list[int]:
    with session_scope() as session:
        return sorted(session.scalars(select(JobReject.row_number).where(JobReject.job_id == job_id)))


def test_a_job_held_by_a_live_runner_is_not_run_twice(tenant, recorder):
    job_id = _new_job(tenant)
    held = _claim(job_id, None)
    assert isinstance(held, JobContext)
    assert run_job(job_id) == "busy"  # a duplicate message: the live holder keeps it
    assert _rows(job_id) == [] and _job(job_id).attempts == 1


def test_a_presumed_dead_runner_cannot_overwrite_its_successor(tenant, recorder):
    job_id = _new_job(tenant)
    zombie = _claim(job_id, None)
    assert isinstance(zombie, JobContext)
    _age(job_id, heartbeat_at=utcnow() - 2 * stale_after())  # it went silent
    assert run_job(job_id) == "done"  # the successor claims it and finishes
    assert _rows(job_id) == [0, 1, 2]

    # The zombie wakes up: its chunk transaction is refused and rolls back.
    with pytest.raises(LeaseLost), session_scope() as session:
        JobRepository(session).add_rejects(job_id, [{"row_number": 99, "field": None, "reason": "late", "raw": {}}])
        zombie.save(session, checkpoint={"step": 1}, add={"rows_read": 1})
    assert _finish(zombie, "failed", error="zombie") == "running"  # discarded
    job = _job(job_id)
    assert job.status == "done" and job.error is None and job.result == {"rows_read": 3}
    assert _rows(job_id) == [0, 1, 2]


def test_an_interrupted_runner_releases_its_job_for_the_next(tenant, recorder):
    job_id = _new_job(tenant)
    assert run_job(job_id, stop_after_chunks=1) == "running"
    job = _job(job_id)
    assert job.status == "running" and job.heartbeat_at is None and job.checkpoint == {"step": 1}
    assert run_job(job_id) == "done"
    assert _rows(job_id) == [0, 1, 2] and _job(job_id).attempts == 2


def test_sweep_requeues_silent_and_lost_jobs_once(tenant, recorder):
    lost = _new_job(tenant)  # queued, but its message never arrived
    dead = _new_job(tenant)  # its runner died mid-way
    live = _new_job(tenant)  # running, beating
    fresh = _new_job(tenant)  # just queued
    old = utcnow() - 2 * stale_after()
    _age(lost, created_at=old)
    assert run_job(dead, stop_after_chunks=1) == "running"
    _age(dead, heartbeat_at=old)
    assert isinstance(_claim(live, None), JobContext)
    recorder.submitted.clear()

    assert sorted(sweep_stale_jobs()) == sorted([lost, dead])
    assert sorted(recorder.submitted) == sorted([lost, dead])
    assert sweep_stale_jobs() == []  # a second (concurrent) sweep enqueues nothing again
    assert _job(dead).status == "queued" and _job(fresh).status == "queued"

    assert run_job(dead) == "done"
    assert _rows(dead) == [0, 1, 2]
    assert run_job(live) == "busy"


def test_enqueue_failure_after_commit_keeps_the_job_for_the_sweep(env, tenant):
    from leadrank.jobs.runner import set_runner

    set_runner(_Recorder(fail=True))
    job_id = _new_job(tenant)  # the commit succeeds although Redis is down
    assert _job(job_id).status == "queued"
    runner = _Recorder()
    set_runner(runner)
    _age(job_id, created_at=utcnow() - 2 * stale_after())
    assert sweep_stale_jobs() == [job_id] and runner.submitted == [job_id]


def test_rolled_back_jobs_are_never_enqueued(tenant, recorder):
    with pytest.raises(RuntimeError), session_scope() as session:
        create_job(session, tenant.workspace_id, "test.steps")
        raise RuntimeError("request failed")
    assert recorder.submitted == []
    job_id = _new_job(tenant)
    assert recorder.submitted == [job_id]


def test_poisoned_chunk_fails_alone_and_its_writes_roll_back(tenant, recorder, monkeypatch):
    job_id = _new_job(tenant, "test.chunks", {"chunks": 4, "_test": {"fail_chunks": [2]}})
    assert run_job(job_id) == "done"
    job = _job(job_id)
    assert job.result["processed"] == 3 and job.result["chunks_failed"] == 1
    assert "chunk 2" in job.error and "poisoned" in job.error
    with session_scope() as session:
        chunks = {c.seq: c for c in JobRepository(session).chunks(job_id)}
    assert chunks[2].status == "failed" and chunks[2].attempts == MAX_CHUNK_ATTEMPTS
    assert _rows(job_id) == [0, 1, 3]  # chunk 2 wrote on every attempt; nothing stayed


def test_test_hooks_are_ignored_outside_test_mode(tenant, recorder, monkeypatch):
    from leadrank.config import get_settings

    monkeypatch.setenv("LEADRANK_ENV", "development")
    get_settings.cache_clear()
    job_id = _new_job(tenant, "test.chunks", {"chunks": 2, "_test": {"fail_chunks": [0]}})
    assert run_job(job_id) == "done"
    assert _job(job_id).result["chunks_failed"] == 0 and _rows(job_id) == [0, 1]


def test_a_done_chunk_is_never_redone(tenant, recorder):
    from leadrank.jobs.service import run_chunk

    job_id = _new_job(tenant, "test.chunks", {"chunks": 2})
    assert run_job(job_id) == "done"
    assert run_chunk(job_id, 0) == "done"  # a redelivered message
    assert _rows(job_id) == [0, 1]


def test_stale_interval_follows_the_queue_heartbeat_timeout(env, monkeypatch):
    from leadrank.config import get_settings

    monkeypatch.setenv("LEADRANK_QUEUE_HEARTBEAT_TIMEOUT_MS", "4000")
    get_settings.cache_clear()
    assert stale_after() == timedelta(seconds=4)


def test_replacing_the_runner_lets_its_running_jobs_ask_for_the_runner(env):  # noqa: ANN001
    """A job still running on the old runner asks for the runner (to submit chunks or a
    follow-up job) while set_runner waits for it: that must not deadlock."""
    import threading
    import time

    from leadrank.jobs.runner import InProcessRunner, get_runner, set_runner

    old = InProcessRunner(1)
    set_runner(old)
    go = threading.Event()
    running = old._pool.submit(lambda: (go.wait(5), get_runner())[1])
    replacing = threading.Thread(target=set_runner, args=(_Recorder(),))
    replacing.start()
    time.sleep(0.2)
    go.set()
    replacing.join(10)
    assert not replacing.is_alive(), "set_runner deadlocked with a running job"
    assert isinstance(running.result(timeout=5), _Recorder)
