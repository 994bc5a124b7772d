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
from leadrank.jobs.registry import ChunkedJob, get_handler
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


MAX_CHUNK_ATTEMPTS = 3


class Deferred(Exception):
    """Not an error: the job's chunks were handed to other workers, who finish it."""


def run_job(job_id: uuid.UUID, *, stop_after_chunks: int | None = None) -> str:
    """Run (or resume) one job. Returns its status afterwards.

    A job that raises ends ``failed`` with the reason; a process that dies leaves it
    ``running`` with a stale heartbeat, and :func:`resume_stale_jobs` (or the queue's own
    redelivery) picks it up again.
    """
    with session_scope() as session:
        job = JobRepository(session).get_for_update(job_id)
        if job is None or job.status in ("done", "failed"):
            return job.status if job else "missing"
        job.status = "running"
        job.started_at = job.started_at or utcnow()
        job.heartbeat_at = utcnow()
        job.attempts += 1
        ctx = _context(job, stop_after_chunks)
    stop_beating = threading.Event()
    beater = threading.Thread(target=_heartbeat, args=(job_id, stop_beating), daemon=True)
    beater.start()
    try:
        handler = get_handler(ctx.kind)
        if isinstance(handler, ChunkedJob):
            return _run_chunked(ctx, handler)
        result = handler(ctx) or {}
    except (JobInterrupted, Deferred) as stop:
        if isinstance(stop, JobInterrupted):
            log.warning("job %s interrupted; it stays running and will be resumed", job_id)
        return "running"
    except Exception as exc:  # noqa: BLE001 - any failure must end in a recorded state
        log.error("job %s failed: %s\n%s", job_id, _describe(exc), traceback.format_exc())
        _finish(job_id, "failed", error=_describe(exc))
        return "failed"
    finally:
        stop_beating.set()
    _finish(job_id, "done", result=result)
    return "done"


def _context(job: Job, stop_after_chunks: int | None = None) -> JobContext:
    return JobContext(
        job_id=job.id, workspace_id=job.workspace_id, kind=job.kind, params=dict(job.params),
        checkpoint=dict(job.checkpoint or {}), progress=dict(job.progress or {}),
        attempts=job.attempts, stop_after_chunks=stop_after_chunks,
    )


def _describe(exc: BaseException) -> str:
    return exc.message if isinstance(exc, LeadrankError) else f"{type(exc).__name__}: {exc}"


def _run_chunked(ctx: JobContext, spec: ChunkedJob) -> str:
    with session_scope() as session:
        repo = JobRepository(session)
        if not repo.has_chunks(ctx.job_id):
            plan = spec.plan(ctx)
            repo.add_chunks(ctx.job_id, plan)
            ctx.save(session, set_={"chunks_total": len(plan)})
        pending = repo.unfinished_chunks(ctx.job_id)
    from leadrank.jobs.runner import get_runner

    runner = get_runner()
    if hasattr(runner, "submit_chunks"):
        runner.submit_chunks(ctx.job_id, pending)
        raise Deferred
    done = 0
    for seq in pending:
        while run_chunk(ctx.job_id, seq, finalize=False) == "retry":
            pass
        done += 1
        if ctx.stop_after_chunks is not None and done >= ctx.stop_after_chunks:
            raise JobInterrupted(f"stopped after {done} chunks")
    return finalize_job(ctx.job_id)


def run_chunk(job_id: uuid.UUID, seq: int, *, finalize: bool = True) -> str:
    """Process one chunk. Its writes and its ``done`` mark commit in one transaction, under a
    row lock, so a redelivered chunk is skipped once done and never written twice. Returns
    done | failed | retry (retry: the caller or the queue should run it again)."""
    with session_scope() as session:
        repo = JobRepository(session)
        chunk = repo.chunk(job_id, seq, lock=True)
        job = repo.get(job_id)
        if chunk is None or job is None or chunk.status in ("done", "failed"):
            return chunk.status if chunk else "missing"
        chunk.status = "running"
        chunk.attempts += 1
        chunk.updated_at = utcnow()
        attempts = chunk.attempts
        ctx = _context(job)
    spec = get_handler(ctx.kind)
    assert isinstance(spec, ChunkedJob)
    try:
        with session_scope() as session:
            repo = JobRepository(session)
            chunk = repo.chunk(job_id, seq, lock=True)
            if chunk.status == "done":
                return "done"
            result = spec.run_chunk(session, ctx, dict(chunk.params))
            chunk.status, chunk.result, chunk.error, chunk.updated_at = "done", result, None, utcnow()
            repo.heartbeat(job_id)
    except Exception as exc:  # noqa: BLE001
        poisoned = attempts >= MAX_CHUNK_ATTEMPTS
        log.error("job %s chunk %d attempt %d failed: %s", job_id, seq, attempts, _describe(exc))
        with session_scope() as session:
            chunk = JobRepository(session).chunk(job_id, seq, lock=True)
            chunk.status = "failed" if poisoned else "queued"
            chunk.error = _describe(exc)
            chunk.updated_at = utcnow()
        if not poisoned:
            return "retry"
    if finalize:
        finalize_job(job_id)
    return "done"


def finalize_job(job_id: uuid.UUID) -> str:
    """End a chunked job once no chunk is queued or running. Safe to call from every worker."""
    with session_scope() as session:
        repo = JobRepository(session)
        job = repo.get_for_update(job_id)
        if job is None or job.status in ("done", "failed"):
            return job.status if job else "missing"
        if repo.unfinished_chunks(job_id):
            return "running"
        chunks = repo.chunks(job_id)
        ctx = _context(job)
        spec = get_handler(job.kind)
        results = [c.result or {} for c in chunks if c.status == "done"]
        failed = [c for c in chunks if c.status == "failed"]
        result = spec.finish(ctx, results)
        result.update(chunks_total=len(chunks), chunks_failed=len(failed))
        job.result = result
        job.finished_at = utcnow()
        if failed and not results:
            job.status = "failed"
        else:
            job.status = "done"
        if failed:
            first = failed[0]
            job.error = (f"{len(failed)} of {len(chunks)} chunks failed after {MAX_CHUNK_ATTEMPTS} attempts; "
                         f"chunk {first.seq}: {first.error}")
        return job.status


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
