"""The Redis-backed runner, on Dramatiq.

Why Dramatiq: its Redis broker acknowledges a message only after the actor returns (acks
late) and redelivers the unacknowledged messages of a worker whose heartbeat stopped, which
is exactly the crash behaviour we need; it is small, typed, well kept, and has no separate
result backend to run. Celery needs more moving parts for the same guarantees, and RQ
re-runs a dead worker's job only through its separate "abandoned job" sweep.

Messages carry ids only. Each message runs either a whole job (``run_job``) or one chunk of
a chunked job (``run_chunk``); every chunk commits its writes and its ``done`` mark together,
so a redelivered message repeats nothing.
"""

from __future__ import annotations

import logging
import uuid

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, Retries, ShutdownNotifications, TimeLimit

from leadrank.config import get_settings

log = logging.getLogger("leadrank.jobs")

SIX_HOURS_MS = 6 * 3600 * 1000
_broker: RedisBroker | None = None
_actors: dict[str, dramatiq.Actor] = {}


def _run_job_message(job_id: str) -> None:
    from leadrank.jobs.service import run_job

    run_job(uuid.UUID(job_id))


def _run_chunk_message(job_id: str, seq: int) -> None:
    from leadrank.jobs.service import run_chunk

    if run_chunk(uuid.UUID(job_id), seq) == "retry":
        # Raise so Dramatiq retries with backoff; the chunk counts its own attempts and is
        # marked failed (poisoned) once they run out, after which it acks normally.
        raise RuntimeError(f"chunk {seq} of job {job_id} failed; retrying")


def get_broker(url: str | None = None) -> RedisBroker:
    global _broker
    if _broker is None:
        settings = get_settings()
        _broker = RedisBroker(
            url=url or settings.queue_url,
            heartbeat_timeout=settings.queue_heartbeat_timeout_ms,
            maintenance_chance=settings.queue_maintenance_chance,
            middleware=[AgeLimit(), TimeLimit(time_limit=SIX_HOURS_MS), ShutdownNotifications(), Callbacks(),
                        Pipelines(), Retries(max_retries=5, min_backoff=500, max_backoff=30_000)],
        )
        dramatiq.set_broker(_broker)
        queue = settings.queue_name
        _actors["job"] = dramatiq.actor(_run_job_message, actor_name="leadrank.run_job", queue_name=queue,
                                        broker=_broker, max_retries=5)
        _actors["chunk"] = dramatiq.actor(_run_chunk_message, actor_name="leadrank.run_chunk", queue_name=queue,
                                          broker=_broker, max_retries=5)
    return _broker


def reset_broker() -> None:
    global _broker
    if _broker is not None:
        _broker.close()
    _broker = None
    _actors.clear()


class RedisRunner:
    """Enqueues onto Redis; ``leadrank worker`` processes consume."""

    def __init__(self, url: str) -> None:
        self.broker = get_broker(url)

    def submit(self, job_id: uuid.UUID) -> None:
        _actors["job"].send(str(job_id))

    def submit_chunks(self, job_id: uuid.UUID, seqs: list[int]) -> None:
        for seq in seqs:
            _actors["chunk"].send(str(job_id), seq)

    def shutdown(self) -> None:
        reset_broker()


def run_worker(*, threads: int = 1, resume: bool = True) -> None:
    """Consume jobs until SIGINT/SIGTERM. On start, jobs whose workers all died (stale
    heartbeat) are enqueued again."""
    import signal
    import threading

    from dramatiq import Worker

    broker = get_broker()
    worker = Worker(broker, worker_threads=threads, worker_timeout=1000)
    worker.start()
    if resume:
        from leadrank.jobs.service import resume_stale_jobs

        resumed = resume_stale_jobs()
        if resumed:
            log.info("resumed %d unfinished jobs", len(resumed))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    log.info("worker consuming queue %r with %d threads", get_settings().queue_name, threads)
    stop.wait()
    worker.stop()
    broker.close()
