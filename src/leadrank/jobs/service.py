"""Create, run and inspect jobs. Runners (in-process or Redis) only call :func:`run_job` and
:func:`run_chunk`.

Who runs a job, and how a dead runner is replaced:

- **Lease.** A job is held by one runner at a time: ``status == "running"`` with a fresh
  ``heartbeat_at`` (beaten every quarter of the stale interval). A job that is ``queued``,
  or ``running`` with a stale or cleared heartbeat, may be claimed; claiming adds one to
  ``attempts``.
- **Fencing.** ``attempts`` is the lease's token: every write a runner makes to its job
  (checkpoint, progress, the final status) is conditional on the token it claimed with, so
  a runner that was presumed dead and comes back (a long GC pause, a network partition)
  cannot overwrite the work of its successor; its chunk transaction rolls back instead.
- **Chunks** of a chunked job are claimed with a row lock (``SKIP LOCKED`` on PostgreSQL)
  held for the whole chunk transaction, which also commits the chunk's writes and its
  ``done`` mark: a duplicate or redelivered message either finds the chunk done, or locked
  by a live worker, and does nothing.
- **Sweeping.** The queue may lose messages (Redis restarted without persistence) and a
  worker may die; the database stays the source of truth. :func:`sweep_stale_jobs`, run
  by every worker every few seconds, puts jobs whose runner went silent back in the queue
  (atomically, so several sweeping workers enqueue each job once).
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
import uuid
from datetime import datetime, timedelta

from sqlalchemy import and_, event, func, or_, update
from sqlalchemy.orm import Session

from leadrank.config import get_settings
from leadrank.db import session_scope
from leadrank.errors import LeadrankError, NotFound
from leadrank.jobs import testing
from leadrank.jobs.context import JobContext, JobInterrupted, LeaseLost, rows_of
from leadrank.jobs.registry import ChunkedJob, get_handler
from leadrank.jobs.repository import JobRepository
from leadrank.models import Job
from leadrank.models.base import utcnow
from leadrank.ops import metrics

log = logging.getLogger("leadrank.jobs")

PENDING_KEY = "leadrank_jobs_to_enqueue"
MAX_CHUNK_ATTEMPTS = 3


def stale_after() -> timedelta:
    """A runner silent this long is presumed dead (the queue's own worker heartbeat timeout,
    ``LEADRANK_QUEUE_HEARTBEAT_TIMEOUT_MS``, default 60 s)."""
    return timedelta(milliseconds=max(get_settings().queue_heartbeat_timeout_ms, 1000))


def heartbeat_seconds() -> float:
    return stale_after().total_seconds() / 4


# --- creating jobs --------------------------------------------------------------------------

def create_job(session: Session, workspace_id: uuid.UUID, kind: str, params: dict | None = None) -> Job:
    """Add a queued job; it is handed to the runner only once this transaction commits."""
    job = Job(workspace_id=workspace_id, kind=kind, params=params or {}, status="queued",
              progress={}, checkpoint={}, result={}, attempts=0)
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
            try:
                runner.submit(job_id)
            except Exception as exc:  # noqa: BLE001 - the job is committed; the sweeper enqueues it
                log.warning("could not enqueue job %s (%s); it stays queued and is enqueued again "
                            "by the next worker sweep", job_id, exc, extra={"job_id": str(job_id)})


@event.listens_for(Session, "after_rollback")
def _drop_on_rollback(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)


def get_job(session: Session, workspace_id: uuid.UUID, job_id: uuid.UUID) -> Job:
    job = JobRepository(session).get(job_id, workspace_id)
    if job is None:
        raise NotFound(f"job {job_id} not found")
    return job


class Deferred(Exception):
    """Not an error: the job's chunks were handed to other workers, who finish it."""


# --- running a job ---------------------------------------------------------------------------

def _claimable(job: Job, now: datetime) -> bool:
    if job.status == "queued":
        return True
    return job.status == "running" and (job.heartbeat_at is None or job.heartbeat_at < now - stale_after())


def _claim(job_id: uuid.UUID, stop_after_chunks: int | None) -> JobContext | str:
    with session_scope() as session:
        job = JobRepository(session).get_for_update(job_id)
        if job is None:
            return "missing"
        if job.status in ("done", "failed"):
            return job.status
        now = utcnow()
        if not _claimable(job, now):
            return "busy"
        job.status = "running"
        job.started_at = job.started_at or now
        job.heartbeat_at = now
        job.attempts = (job.attempts or 0) + 1
        return _context(job, stop_after_chunks, fenced=True)


def run_job(job_id: uuid.UUID, *, stop_after_chunks: int | None = None) -> str:
    """Run (or resume) one job. Returns its status afterwards, or ``busy`` when another live
    runner holds it.

    A job that raises ends ``failed`` with the reason; a process that dies leaves it
    ``running`` with a heartbeat that goes stale, and the sweep (or the queue's own
    redelivery) hands it to another runner, which resumes from the last checkpoint.
    """
    claimed = _claim(job_id, stop_after_chunks)
    if isinstance(claimed, str):
        return claimed
    ctx = claimed
    started = time.monotonic()
    log.info("job started", extra={"job_id": str(job_id), "kind": ctx.kind, "attempt": ctx.attempts})
    stop_beating = threading.Event()
    beater = threading.Thread(target=_beat_job, args=(ctx, stop_beating), daemon=True,
                              name=f"heartbeat-{job_id}")
    beater.start()
    try:
        handler = get_handler(ctx.kind)
        if isinstance(handler, ChunkedJob):
            return _run_chunked(ctx, handler)
        result = handler(ctx) or {}
    except Deferred:
        return "running"
    except JobInterrupted:
        log.warning("job interrupted; it is resumed by the next runner", extra={"job_id": str(job_id)})
        _release(ctx)
        return "running"
    except LeaseLost:
        log.warning("job was taken over by another runner; this one stops", extra={"job_id": str(job_id)})
        return "running"
    except Exception as exc:  # noqa: BLE001 - any failure must end in a recorded state
        log.error("job failed: %s\n%s", _describe(exc), traceback.format_exc(),
                  extra={"job_id": str(job_id), "kind": ctx.kind})
        return _finish(ctx, "failed", error=_describe(exc))
    finally:
        stop_beating.set()
    status = _finish(ctx, "done", result=result)
    _log_finished(ctx, status, result, time.monotonic() - started)
    return status


def _context(job: Job, stop_after_chunks: int | None = None, *, fenced: bool = False) -> JobContext:
    return JobContext(
        job_id=job.id, workspace_id=job.workspace_id, kind=job.kind, params=dict(job.params or {}),
        checkpoint=dict(job.checkpoint or {}), progress=dict(job.progress or {}),
        attempts=job.attempts, stop_after_chunks=stop_after_chunks, fenced=fenced,
    )


def _describe(exc: BaseException) -> str:
    return exc.message if isinstance(exc, LeadrankError) else f"{type(exc).__name__}: {exc}"


def _held(ctx: JobContext):  # noqa: ANN202 - a SQL condition
    """The row is still this runner's: same lease token, still running."""
    return and_(Job.id == ctx.job_id, Job.attempts == ctx.attempts, Job.status == "running")


def _finish(ctx: JobContext, status: str, *, result: dict | None = None, error: str | None = None) -> str:
    values: dict = {"status": status, "finished_at": utcnow()}
    if result is not None:
        values["result"] = result
    if error is not None:
        values["error"] = error
    with session_scope() as session:
        done = session.execute(update(Job).where(_held(ctx)).values(**values)).rowcount
    if not done:
        log.warning("job result discarded: another runner took the job over", extra={"job_id": str(ctx.job_id)})
        return "running"
    return status


def _release(ctx: JobContext) -> None:
    """Stop holding the job without finishing it (graceful stop): claimable at once."""
    with session_scope() as session:
        session.execute(update(Job).where(_held(ctx)).values(heartbeat_at=None))


def _beat_job(ctx: JobContext, stop: threading.Event) -> None:
    while not stop.wait(heartbeat_seconds()):
        try:
            with session_scope() as session:
                held = session.execute(update(Job).where(_held(ctx)).values(heartbeat_at=utcnow())).rowcount
            if not held:
                ctx.lease_lost = True
                return
        except Exception:  # noqa: BLE001 - a missed beat only risks an early takeover
            log.exception("heartbeat failed", extra={"job_id": str(ctx.job_id)})


def _beat_running(job_id: uuid.UUID, stop: threading.Event) -> None:
    """While a chunk is processed: its job is alive (no fencing: chunks fence themselves)."""
    while not stop.wait(heartbeat_seconds()):
        try:
            with session_scope() as session:
                JobRepository(session).heartbeat(job_id)
        except Exception:  # noqa: BLE001
            log.exception("heartbeat failed", extra={"job_id": str(job_id)})


def _log_finished(ctx: JobContext, status: str, result: dict, seconds: float) -> None:
    rows = rows_of(result)
    log.info("job finished", extra={
        "job_id": str(ctx.job_id), "kind": ctx.kind, "status": status, "rows": rows,
        "seconds": round(seconds, 3), "rows_per_s": round(rows / seconds, 1) if rows and seconds > 0 else None,
    })
    metrics.job_finished(ctx.kind, status, rows, seconds)


# --- chunked jobs ----------------------------------------------------------------------------

def _run_chunked(ctx: JobContext, spec: ChunkedJob) -> str:
    with session_scope() as session:
        repo = JobRepository(session)
        if not repo.has_chunks(ctx.job_id):
            plan = spec.plan(ctx)
            # The fenced save first: it takes the job row's lock, so a concurrent planner
            # (a presumed-dead runner) waits here and then fails its fence instead of
            # inserting a second plan.
            ctx.save(session, set_={"chunks_total": len(plan)})
            repo.add_chunks(ctx.job_id, plan)
        pending = repo.unfinished_chunks(ctx.job_id)
    from leadrank.jobs.runner import get_runner

    runner = get_runner()
    if hasattr(runner, "submit_chunks") and pending:
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
    """Process one chunk. Its writes and its ``done`` mark commit in one transaction, under
    the chunk's row lock, so a redelivered chunk is skipped once done and never written
    twice. Returns done | failed | busy (a live worker holds it) | retry (run it again)."""
    with session_scope() as session:
        repo = JobRepository(session)
        chunk = repo.chunk(job_id, seq, lock=True)
        if chunk is None:  # locked by a live worker, or gone with its job
            return "busy" if repo.chunk_exists(job_id, seq) else "missing"
        if chunk.status in ("done", "failed"):
            return chunk.status
        job = repo.get(job_id)
        if job is None or job.status in ("done", "failed"):
            return job.status if job else "missing"
        # Counted before the work, in its own transaction: a chunk that kills its worker
        # every time (out of memory, a segfault) still ends poisoned.
        chunk.status = "running"
        chunk.attempts += 1
        chunk.updated_at = utcnow()
        attempts = chunk.attempts
        ctx = _context(job)
    log.info("chunk started", extra={"job_id": str(job_id), "kind": ctx.kind, "seq": seq, "attempt": attempts})
    spec = get_handler(ctx.kind)
    assert isinstance(spec, ChunkedJob)
    started = time.monotonic()
    stop_beating = threading.Event()
    threading.Thread(target=_beat_running, args=(job_id, stop_beating), daemon=True).start()
    try:
        with session_scope() as session:
            repo = JobRepository(session)
            chunk = repo.chunk(job_id, seq, lock=True)
            if chunk is None:  # locked by a live worker (a duplicate message)
                return "busy"
            if chunk.status in ("done", "failed"):
                return chunk.status
            result = spec.run_chunk(session, ctx, dict(chunk.params))
            testing.after_chunk_writes(ctx.params, seq)  # test hooks; no-ops outside tests
            chunk.status, chunk.result, chunk.error, chunk.updated_at = "done", result, None, utcnow()
            repo.heartbeat(job_id)
    except Exception as exc:  # noqa: BLE001
        poisoned = attempts >= MAX_CHUNK_ATTEMPTS
        log.error("chunk failed: %s", _describe(exc), extra={
            "job_id": str(job_id), "kind": ctx.kind, "seq": seq, "attempt": attempts, "poisoned": poisoned})
        metrics.chunk_failed(ctx.kind, poisoned)
        with session_scope() as session:
            chunk = JobRepository(session).chunk(job_id, seq, lock=True, wait=True)
            if chunk is not None and chunk.status not in ("done", "failed"):
                chunk.status = "failed" if poisoned else "queued"
                chunk.error = _describe(exc)
                chunk.updated_at = utcnow()
        if not poisoned:
            return "retry"
    else:
        seconds = time.monotonic() - started
        rows = rows_of(result)
        log.info("chunk done", extra={"job_id": str(job_id), "kind": ctx.kind, "seq": seq, "rows": rows,
                                      "seconds": round(seconds, 3), "attempt": attempts})
        metrics.chunk_done(ctx.kind, rows, seconds)
    finally:
        stop_beating.set()
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
        if failed:
            result["failed_chunks"] = [{"seq": c.seq, "attempts": c.attempts, "error": c.error} for c in failed[:20]]
            first = failed[0]
            job.error = (f"{len(failed)} of {len(chunks)} chunks failed after {MAX_CHUNK_ATTEMPTS} attempts; "
                         f"chunk {first.seq}: {first.error}")
        job.result = result
        job.finished_at = utcnow()
        job.status = "failed" if failed and not results else "done"
        status = job.status
        seconds = (job.finished_at - job.started_at).total_seconds() if job.started_at else 0.0
    _log_finished(ctx, status, result, seconds)
    return status


# --- resuming --------------------------------------------------------------------------------

def resume_stale_jobs() -> list[uuid.UUID]:
    """On start-up (of the app or a worker): every queued job, and running jobs whose
    runner went silent, are handed to the runner again. Duplicates are harmless."""
    from leadrank.jobs.runner import get_runner

    with session_scope() as session:
        ids = list(JobRepository(session).resumable(utcnow() - stale_after()))
    return _submit_all(get_runner(), ids)


def sweep_stale_jobs() -> list[uuid.UUID]:
    """Periodically (every worker): jobs queued for longer than the stale interval (their
    message may be lost) and running jobs whose runner went silent are put back in the
    queue. The UPDATE … RETURNING is atomic, so concurrent sweeps enqueue a job once."""
    from leadrank.jobs.runner import get_runner

    now = utcnow()
    cutoff = now - stale_after()
    stmt = (
        update(Job)
        .where(or_(
            and_(Job.status == "running", or_(Job.heartbeat_at.is_(None), Job.heartbeat_at < cutoff)),
            and_(Job.status == "queued", func.coalesce(Job.heartbeat_at, Job.created_at) < cutoff),
        ))
        .values(status="queued", heartbeat_at=now)
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    with session_scope() as session:
        ids = list(session.scalars(stmt))
    if ids:
        log.info("re-enqueued jobs whose runner went silent", extra={"jobs": [str(i) for i in ids]})
    return _submit_all(get_runner(), ids)


def _submit_all(runner, ids: list[uuid.UUID]) -> list[uuid.UUID]:  # noqa: ANN001
    for job_id in ids:
        runner.submit(job_id)
    return ids
