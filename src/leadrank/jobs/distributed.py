"""The Redis-backed runner, on Dramatiq.

Why Dramatiq: its Redis broker acknowledges a message only after the actor returns (acks
late) and redelivers the unacknowledged messages of a worker whose heartbeat stopped, which
is exactly the crash behaviour we need; it is small, typed, well kept, and has no separate
result backend to run. Celery needs more moving parts for the same guarantees, and RQ
re-runs a dead worker's job only through its separate "abandoned job" sweep.

Messages carry ids only. Each message runs either a whole job (``run_job``) or one chunk of
a chunked job (``run_chunk``); every chunk commits its writes and its ``done`` mark together,
so a redelivered or duplicated message repeats nothing. The database, not Redis, is the
source of truth: each worker also sweeps for jobs whose runner went silent or whose message
was lost (a Redis restarted without persistence) and enqueues them again.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import uuid

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, Retries, ShutdownNotifications, TimeLimit

from leadrank.config import get_settings
from leadrank.ops import metrics

log = logging.getLogger("leadrank.jobs")

SIX_HOURS_MS = 6 * 3600 * 1000
# How long a worker's consumer sleeps at most between polls of Redis. It also polls while its
# threads are busy (their messages fill its prefetch), so after a chunk it may still be
# asleep: Dramatiq's default of 1 s left a worker idle half a second between chunks on
# average (42 s of a million leads' reasons). A poll is one small Lua call.
POLL_MS = 100
MAX_RETRIES = 5
_broker: RedisBroker | None = None
_actors: dict[str, dramatiq.Actor] = {}
_lock = threading.Lock()


def _run_job_message(job_id: str) -> None:
    from leadrank.jobs.service import run_job

    run_job(uuid.UUID(job_id))


def _run_chunk_message(job_id: str, seq: int) -> None:
    from leadrank.jobs.service import run_chunk

    if run_chunk(uuid.UUID(job_id), seq) == "retry":
        # Dramatiq retries with backoff (Retry is not logged as an error); the chunk counts
        # its own attempts and is marked failed (poisoned) once they run out.
        raise dramatiq.Retry(f"chunk {seq} of job {job_id} failed; retrying")


def get_broker(url: str | None = None) -> RedisBroker:
    global _broker
    with _lock:
        if _broker is None:
            settings = get_settings()
            _broker = RedisBroker(
                url=url or settings.queue_url,
                heartbeat_timeout=settings.queue_heartbeat_timeout_ms,
                maintenance_chance=settings.queue_maintenance_chance,
                middleware=[AgeLimit(), TimeLimit(time_limit=SIX_HOURS_MS), ShutdownNotifications(), Callbacks(),
                            Pipelines(), Retries(max_retries=MAX_RETRIES, min_backoff=500, max_backoff=30_000)],
                # Fail fast when Redis is down or frozen; Dramatiq's consumers reconnect.
                socket_connect_timeout=5, socket_timeout=15, health_check_interval=30,
            )
            dramatiq.set_broker(_broker)
            queue = settings.queue_name
            _actors["job"] = dramatiq.actor(_run_job_message, actor_name="leadrank.run_job", queue_name=queue,
                                            broker=_broker, max_retries=MAX_RETRIES)
            _actors["chunk"] = dramatiq.actor(_run_chunk_message, actor_name="leadrank.run_chunk",
                                              queue_name=queue, broker=_broker, max_retries=MAX_RETRIES)
        return _broker


def reset_broker() -> None:
    global _broker
    with _lock:
        if _broker is not None:
            _broker.close()
        _broker = None
        _actors.clear()


def queue_status(timeout_s: float = 2.0) -> dict:
    """For readiness: is Redis reachable, how many messages wait, how many workers beat."""
    import time

    import redis

    settings = get_settings()
    client = redis.Redis.from_url(settings.queue_url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
    try:
        client.ping()
        waiting = client.llen(f"dramatiq:{settings.queue_name}")
        cutoff = int(time.time() * 1000) - settings.queue_heartbeat_timeout_ms
        workers = client.zcount("dramatiq:__heartbeats__", cutoff, "+inf")
        return {"ok": True, "queue": settings.queue_name, "waiting_messages": int(waiting),
                "live_worker_processes": int(workers)}
    finally:
        client.close()


def _actor(name: str, url: str | None = None) -> dramatiq.Actor:
    get_broker(url)
    return _actors[name]


class RedisRunner:
    """Enqueues onto Redis; ``leadrank worker`` processes consume."""

    def __init__(self, url: str) -> None:
        self.url = url
        get_broker(url)

    def submit(self, job_id: uuid.UUID) -> None:
        _actor("job", self.url).send(str(job_id))
        metrics.job_enqueued()

    def submit_chunks(self, job_id: uuid.UUID, seqs: list[int]) -> None:
        actor = _actor("chunk", self.url)
        for seq in seqs:
            actor.send(str(job_id), seq)

    def shutdown(self) -> None:
        reset_broker()


def _sweep_forever(stop: threading.Event) -> None:
    from leadrank.jobs.service import stale_after, sweep_stale_jobs

    interval = max(1.0, stale_after().total_seconds() / 2)
    while not stop.wait(interval):
        try:
            sweep_stale_jobs()
        except Exception as exc:  # noqa: BLE001 - the database or Redis is down: try again later
            log.warning("stale-job sweep failed: %s", exc)


def _limit_native_threads() -> None:
    """One BLAS/OpenMP thread per job thread unless ``OMP_NUM_THREADS`` says otherwise:
    workers scale out by processes (one per core), several native thread pools per process
    would only fight over the same cores, and single-threaded BLAS sums in a fixed order,
    so every worker computes bit-identical scores."""
    n = os.environ.get("OMP_NUM_THREADS") or "1"
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, n)  # for native libraries loaded later
    from threadpoolctl import threadpool_limits

    import numpy  # noqa: F401 - load BLAS now so the limit below applies to it

    threadpool_limits(limits=int(n))


def run_worker(*, threads: int = 1, resume: bool = True, metrics_port: int | None = None) -> None:
    """Consume jobs until SIGINT/SIGTERM (which let the current chunks finish). On start,
    jobs whose workers all died are enqueued again; every few seconds, jobs whose runner
    went silent or whose message was lost are swept back into the queue."""
    from dramatiq import Worker

    from leadrank.jobs.registry import load_handlers

    _limit_native_threads()
    load_handlers()
    settings = get_settings()
    broker = get_broker()
    worker = Worker(broker, worker_threads=threads, worker_timeout=POLL_MS)
    # One message per thread: a long chunk never holds back a second one that another,
    # idle worker could be processing.
    worker.queue_prefetch = threads
    worker.start()
    if metrics_port:
        from leadrank.ops.metrics import serve_worker_metrics

        serve_worker_metrics(metrics_port)
    if resume:
        try:
            from leadrank.jobs.service import resume_stale_jobs

            resumed = resume_stale_jobs()
            if resumed:
                log.info("resumed unfinished jobs", extra={"jobs": [str(j) for j in resumed]})
        except Exception as exc:  # noqa: BLE001 - the sweep retries
            log.warning("could not resume jobs at start: %s", exc)
    stop = threading.Event()
    sweeper = threading.Thread(target=_sweep_forever, args=(stop,), daemon=True, name="leadrank-sweeper")
    sweeper.start()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    log.info("worker started", extra={"queue": settings.queue_name, "threads": threads, "pid": os.getpid(),
                                      "metrics_port": metrics_port})
    stop.wait()
    log.info("worker stopping: finishing the chunks in hand", extra={"pid": os.getpid()})
    worker.stop()
    reset_broker()
    log.info("worker stopped", extra={"pid": os.getpid()})
