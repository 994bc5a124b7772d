"""Create, run and inspect jobs. Runners (in-process or Redis) only call :func:`run_job`."""

from __future__ import annotations

import logging
import threading
import traceback
import uuid
from datetime import timedelta

from sqlalchemy import event
from sqlalchemy.orm import Session

from leadrank.db import session_scope
from leadrank.errors import LeadrankError, NotFound
from leadrank.jobs.context import JobContext, JobInterrupted
from leadrank.jobs.registry import get_handler
from leadrank.jobs.repository import JobRepository
from leadrank.models import Job
from leadrank.models.base import utcnow

log = logging.getLogger("leadrank.jobs")

PENDING_KEY = "leadrank_jobs_to_enqueue"
HEARTBEAT_SECONDS = 10
STALE_AFTER = timedelta(seconds=60)


def create_job(session: Session, workspace_id: uuid.UUID, kind: str, params: dict | None = None) -> Job:
    """Add a queued job; it is handed to the runner only once this transaction commits."""
    job = Job(workspace_id=workspace_id, kind=kind, params=params or {}, status="queued",
              progress={}, checkpoint={}, result={})
    session.add(job)
    session.flush()
    session.info.setdefault(PENDING_KEY, []).append(job.id)
    return job


@event.listens_for(Session, "after_commit")
def _enqueue_after_commit(session: Session) -> None:
    pending = session.info.pop(PENDING_KEY, None)
    if pending:
        from leadrank.jobs.runner import get_runner

        runner = get_runner()
        for job_id in pending:
            runner.submit(job_id)


@event.listens_for(Session, "after_rollback")
def _drop_on_rollback(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)


def get_job(session: Session, workspace_id: uuid.UUID, job_id: uuid.UUID) -> Job:
    job = JobRepository(session).get(job_id, workspace_id)
    if job is None:
        raise NotFound(f"job {job_id} not found")
    return job


def run_job(job_id: uuid.UUID, *, stop_after_chunks: int | None = None) -> str:
    """Run (or resume) one job to its end. Returns the final status.

    A job that raises ends ``failed`` with the reason; a process that dies leaves it
    ``running`` with a stale heartbeat, and :func:`resume_stale_jobs` picks it up again.
    """
    with session_scope() as session:
        job = JobRepository(session).get_for_update(job_id)
        if job is None or job.status in ("done", "failed"):
            return job.status if job else "missing"
        job.status = "running"
        job.started_at = job.started_at or utcnow()
        job.heartbeat_at = utcnow()
        job.attempts += 1
        ctx = JobContext(
            job_id=job.id, workspace_id=job.workspace_id, kind=job.kind, params=dict(job.params),
            checkpoint=dict(job.checkpoint or {}), progress=dict(job.progress or {}),
            attempts=job.attempts, stop_after_chunks=stop_after_chunks,
        )
    stop_beating = threading.Event()
    beater = threading.Thread(target=_heartbeat, args=(job_id, stop_beating), daemon=True)
    beater.start()
    try:
        result = get_handler(ctx.kind)(ctx) or {}
    except JobInterrupted:
        log.warning("job %s interrupted; it stays running and will be resumed", job_id)
        return "running"
    except Exception as exc:  # noqa: BLE001 - any failure must end in a recorded state
        message = exc.message if isinstance(exc, LeadrankError) else f"{type(exc).__name__}: {exc}"
        log.error("job %s failed: %s\n%s", job_id, message, traceback.format_exc())
        _finish(job_id, "failed", error=message)
        return "failed"
    finally:
        stop_beating.set()
    _finish(job_id, "done", result=result)
    return "done"


def _finish(job_id: uuid.UUID, status: str, *, result: dict | None = None, error: str | None = None) -> None:
    with session_scope() as session:
        job = JobRepository(session).get_for_update(job_id)
        if job is None:
            return
        job.status = status
        job.finished_at = utcnow()
        if result is not None:
            job.result = result
        if error is not None:
            job.error = error


def _heartbeat(job_id: uuid.UUID, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_SECONDS):
        try:
            with session_scope() as session:
                JobRepository(session).heartbeat(job_id)
        except Exception:  # noqa: BLE001 - a missed beat only delays resumption
            log.exception("heartbeat failed for job %s", job_id)


def resume_stale_jobs() -> list[uuid.UUID]:
    """Queued jobs and running jobs whose worker went silent: hand them to the runner again."""
    from leadrank.jobs.runner import get_runner

    with session_scope() as session:
        ids = list(JobRepository(session).resumable(utcnow() - STALE_AFTER))
    runner = get_runner()
    for job_id in ids:
        runner.submit(job_id)
    return ids
