"""Job runners. The in-process runner (worker threads) is the default; a Redis-backed
runner is selected with ``LEADRANK_QUEUE_URL``. Both only ever call ``run_job(job_id)``."""

from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from leadrank.config import get_settings

log = logging.getLogger("leadrank.jobs")


class JobRunner(Protocol):
    def submit(self, job_id: uuid.UUID) -> None: ...
    def shutdown(self) -> None: ...


class InProcessRunner:
    def __init__(self, workers: int = 1) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="leadrank-job")
        self._futures: dict[uuid.UUID, Future] = {}
        self._lock = threading.Lock()

    def submit(self, job_id: uuid.UUID) -> None:
        from leadrank.jobs.service import run_job

        with self._lock:
            running = self._futures.get(job_id)
            if running is not None and not running.done():
                return
            self._futures[job_id] = self._pool.submit(run_job, job_id)

    def wait(self, job_id: uuid.UUID | None = None, timeout: float = 120) -> None:
        """Block until one job (or every submitted job) has finished; for tests and the CLI."""
        while True:
            with self._lock:
                futures = [self._futures[job_id]] if job_id else list(self._futures.values())
            pending = [f for f in futures if not f.done()]
            if not pending:
                for f in futures:
                    f.result()
                return
            for f in pending:
                f.result(timeout=timeout)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)


_runner: JobRunner | None = None
_runner_lock = threading.Lock()


def get_runner() -> JobRunner:
    global _runner
    with _runner_lock:
        if _runner is None:
            settings = get_settings()
            if settings.queue_url:
                from leadrank.jobs.distributed import RedisRunner

                _runner = RedisRunner(settings.queue_url)
            else:
                _runner = InProcessRunner(settings.job_workers)
        return _runner


def set_runner(runner: JobRunner | None) -> None:
    global _runner
    with _runner_lock:
        previous, _runner = _runner, runner
    # Shut the old runner down outside the lock: its jobs may still be running, and a job
    # asks for the runner (to submit chunks or follow-up jobs) before it can end.
    if previous is not None and previous is not runner:
        previous.shutdown()
