"""Prometheus metrics.

Two sources, so every API instance reports the same cluster-wide job figures however many
workers run on however many machines:

- **From the database, at scrape time** (cached a few seconds): jobs by kind and status
  (queued / running / done / failed), chunks by kind and status, chunk retries, rows
  processed by jobs finished in the last hour, and rows/s of the most recent finished job
  of each kind.
- **From this process**: the HTTP request latency histogram (API processes); chunks and
  rows processed, chunk failures and job durations (worker processes, scraped from
  ``leadrank worker --metrics-port``).

Several API processes behind one port (gunicorn/uvicorn ``--workers``): set
``PROMETHEUS_MULTIPROC_DIR`` to an empty directory before they start, and ``/metrics``
aggregates the per-process series (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import timedelta
from time import perf_counter

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

from leadrank.db import session_scope
from leadrank.jobs.context import rows_of
from leadrank.jobs.repository import JobRepository
from leadrank.models.base import utcnow

log = logging.getLogger("leadrank.ops")

HTTP_LATENCY = Histogram(
    "leadrank_http_request_duration_seconds", "HTTP request latency by route template",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
CHUNKS = Counter("leadrank_worker_chunks_total", "Chunks processed by this process", ["kind"])
CHUNK_FAILURES = Counter("leadrank_worker_chunk_failures_total",
                         "Chunk attempts that raised in this process (poisoned: attempts exhausted)",
                         ["kind", "poisoned"])
ROWS = Counter("leadrank_worker_rows_total", "Rows processed by this process", ["kind"])
JOB_SECONDS = Histogram("leadrank_worker_job_duration_seconds", "Duration of jobs finished by this process",
                        ["kind", "status"], buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600))
ENQUEUED = Counter("leadrank_jobs_enqueued_total", "Jobs this process handed to the Redis queue")


def chunk_done(kind: str, rows: int, seconds: float) -> None:  # noqa: ARG001
    CHUNKS.labels(kind).inc()
    ROWS.labels(kind).inc(rows)


def chunk_failed(kind: str, poisoned: bool) -> None:
    CHUNK_FAILURES.labels(kind, "true" if poisoned else "false").inc()


def job_finished(kind: str, status: str, rows: int, seconds: float) -> None:
    JOB_SECONDS.labels(kind, status).observe(seconds)
    if kind != "scoring.score":  # chunked jobs count their rows per chunk
        ROWS.labels(kind).inc(rows)


def job_enqueued() -> None:
    ENQUEUED.inc()


class JobsCollector:
    """Cluster-wide job figures read from the database (cached ``ttl`` seconds)."""

    def __init__(self, ttl: float = 5.0) -> None:
        self.ttl = ttl
        self._cache: tuple[float, list] | None = None
        self._lock = threading.Lock()

    def describe(self) -> list:
        return []  # computed at scrape time; nothing to check at registration

    def collect(self):  # noqa: ANN201
        with self._lock:
            if self._cache is None or time.monotonic() - self._cache[0] > self.ttl:
                self._cache = (time.monotonic(), self._read())
            return list(self._cache[1])

    def _read(self) -> list:
        up = GaugeMetricFamily("leadrank_metrics_database_up", "1 when the job figures could be read")
        try:
            with session_scope() as session:
                repo = JobRepository(session)
                jobs = repo.counts_by_kind_status()
                chunks = repo.chunk_counts_by_kind_status()
                recent = repo.finished_since(utcnow() - timedelta(hours=1))
                recent = [(j.kind, rows_of(j.result), j.started_at, j.finished_at) for j in recent]
        except Exception as exc:  # noqa: BLE001 - report the outage as a metric
            log.warning("job metrics unavailable: %s", exc)
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        by_status = GaugeMetricFamily("leadrank_jobs", "Jobs by kind and status", labels=["kind", "status"])
        seen = {(k, s) for k, s, _ in jobs}
        for kind, status, n in jobs:
            by_status.add_metric([kind, status], n)
        for kind in {k for k, _ in seen}:
            for status in ("queued", "running", "done", "failed"):
                if (kind, status) not in seen:
                    by_status.add_metric([kind, status], 0)
        chunk_g = GaugeMetricFamily("leadrank_job_chunks", "Chunks of chunked jobs by kind and status",
                                    labels=["kind", "status"])
        retries = GaugeMetricFamily("leadrank_job_chunk_retries", "Chunk attempts beyond the first (crashes, errors)",
                                    labels=["kind"])
        failed = GaugeMetricFamily("leadrank_job_chunks_failed", "Chunks that ended failed (poisoned)",
                                   labels=["kind"])
        retry_sum: dict[str, int] = {}
        failed_sum: dict[str, int] = {}
        for kind, status, n, extra in chunks:
            chunk_g.add_metric([kind, status], n)
            retry_sum[kind] = retry_sum.get(kind, 0) + int(extra)
            failed_sum[kind] = failed_sum.get(kind, 0) + (n if status == "failed" else 0)
        for kind, n in retry_sum.items():
            retries.add_metric([kind], n)
            failed.add_metric([kind], failed_sum[kind])
        rows_recent = GaugeMetricFamily("leadrank_job_rows_last_hour",
                                        "Rows processed by jobs that finished in the last hour", labels=["kind"])
        rate = GaugeMetricFamily("leadrank_job_rows_per_second",
                                 "Rows per second of the most recent finished job of each kind (last hour)",
                                 labels=["kind"])
        totals: dict[str, int] = {}
        latest: dict[str, float] = {}
        for kind, rows, started, finished in recent:  # newest first
            totals[kind] = totals.get(kind, 0) + rows
            if kind not in latest and started and finished and rows:
                seconds = (finished - started).total_seconds()
                if seconds > 0:
                    latest[kind] = rows / seconds
        for kind, n in totals.items():
            rows_recent.add_metric([kind], n)
        for kind, r in latest.items():
            rate.add_metric([kind], round(r, 2))
        return [up, by_status, chunk_g, retries, failed, rows_recent, rate]


_collector = JobsCollector()
_registered = False
_register_lock = threading.Lock()


def _ensure_registered() -> None:
    global _registered
    with _register_lock:
        if not _registered and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
            REGISTRY.register(_collector)
            _registered = True


def render() -> tuple[bytes, str]:
    """The exposition text for ``/metrics``."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(_collector)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    _ensure_registered()
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def serve_worker_metrics(port: int) -> None:
    """A worker's own ``/metrics`` (process-local counters, RSS and CPU) on ``port``."""
    from prometheus_client import start_http_server

    start_http_server(port)
    log.info("worker metrics served", extra={"port": port})


class HttpMetricsMiddleware:
    """Pure ASGI middleware: request latency by method, route template and status."""

    def __init__(self, app) -> None:  # noqa: ANN001
        self.app = app

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        status = [500]

        async def send_wrapper(message) -> None:  # noqa: ANN001
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            HTTP_LATENCY.labels(scope["method"], self._template(scope), str(status[0])).observe(
                perf_counter() - started)

    @staticmethod
    def _template(scope) -> str:  # noqa: ANN001
        """The matched route's full path template (``/api/v1/leads/{lead_id}``): label values
        stay bounded whatever the ids in the URL. A route of an included router knows only
        its own part of the path; the prefix is what precedes it in the request path."""
        route = scope.get("route")
        template = getattr(route, "path", None)
        if not template:
            return "static" if scope["path"].startswith("/static") else "unmatched"
        if ":path}" in template:
            return template
        own = template.strip("/").split("/") if template.strip("/") else []
        parts = scope["path"].strip("/").split("/")
        prefix = parts[: max(len(parts) - len(own), 0)]
        return "/" + "/".join([*prefix, *own]) if prefix or own else "/"
