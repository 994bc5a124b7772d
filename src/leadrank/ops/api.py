"""``GET /ready`` and ``GET /metrics`` (``/health``, liveness, lives in app.py)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

router = APIRouter(tags=["ops"])


@router.get("/ready", summary="Readiness: database reachable, schema at head, queue reachable")
async def ready() -> JSONResponse:
    from leadrank.ops.readiness import run_checks

    ok, checks = await run_in_threadpool(run_checks)
    return JSONResponse({"status": "ready" if ok else "not_ready", "checks": checks},
                        status_code=200 if ok else 503)


@router.get("/metrics", summary="Prometheus metrics (jobs, chunks, rows/s, HTTP latency)")
async def metrics() -> Response:
    from leadrank.ops.metrics import render

    body, content_type = await run_in_threadpool(render)
    return Response(body, media_type=content_type)
