"""create_app(): routers, pages, error handlers, lifespan."""

from __future__ import annotations

import gc
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import text

from leadrank import __version__
from leadrank.config import get_settings
from leadrank.db import get_engine
from leadrank.errors import LeadrankError

log = logging.getLogger("leadrank")
API_PREFIX = "/api/v1"


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith(API_PREFIX) and "text/html" in request.headers.get("accept", "")


def _settle(app: FastAPI) -> None:
    """Once started, before the first request: work a request would otherwise wait for.

    - The OpenAPI document, and with it the request handling FastAPI prepares for each route
      of an included router (the first request of a route would wait ~0.1 s for it, and
      every request behind it on this worker with it).
    - Python's garbage collector leaves alone what exists now (the modules, the app, the
      models: about 250,000 objects): each full collection walked all of them, stopping
      the worker for 0.3-0.5 s under load, the slowest 5% of the list's requests."""
    app.openapi()
    gc.collect()
    gc.freeze()


def create_app(*, run_migrations: bool = True, resume_jobs: bool = True) -> FastAPI:
    settings = get_settings()
    settings.check_production()

    @asynccontextmanager
    async def lifespan(_app: FastAPI):  # noqa: ANN202
        settings.ensure_dirs()
        if run_migrations:
            from leadrank.migrate import upgrade

            upgrade()
        if resume_jobs:
            from leadrank.jobs.service import resume_stale_jobs

            resumed = resume_stale_jobs()
            if resumed:
                log.info("resumed %d unfinished jobs", len(resumed))
        if run_migrations:  # a serving process (tests build their apps without migrations)
            _settle(_app)
        yield

    app = FastAPI(
        title="leadrank",
        version=__version__,
        description="Self-hosted AI lead scoring: calibrated probabilities, scores, reasons, exports.",
        lifespan=lifespan,
    )

    from leadrank.jobs.api import router as jobs_router
    from leadrank.leads.api import router as leads_router

    from leadrank.scoring.api import router as model_router
    from leadrank.similarity.api import router as similarity_router

    # similarity first: its /leads/similar must win over /leads/{lead_id}.
    for router in (similarity_router, leads_router, jobs_router, model_router):
        app.include_router(router, prefix=API_PREFIX)
    from leadrank.customize.api import install as install_customize

    install_customize(app, API_PREFIX)  # /api/v1/scoring/…, overrides, and the /customize page

    from leadrank.web.pages import mount_web

    mount_web(app)

    from leadrank.ops import install as install_ops

    install_ops(app)  # /ready, /metrics, HTTP latency histogram
    from leadrank.similarity.service import register_readiness

    register_readiness()

    @app.exception_handler(LeadrankError)
    async def leadrank_error(request: Request, exc: LeadrankError):  # noqa: ANN202
        body = {"error": {"code": exc.code, "message": exc.message}}
        if exc.details is not None:
            body["error"]["details"] = exc.details
        if _wants_html(request):
            from leadrank.web.errors import render_error

            return render_error(request, exc.status_code, exc.message)
        return JSONResponse(body, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):  # noqa: ANN202
        problems = [
            {"field": ".".join(str(p) for p in e["loc"][1:]) or str(e["loc"][0]), "reason": e["msg"]}
            for e in exc.errors()
        ]
        message = "; ".join(f"{p['field']}: {p['reason']}" for p in problems)
        if _wants_html(request):
            from leadrank.web.errors import render_error

            return render_error(request, 422, message)
        return JSONResponse({"error": {"code": "invalid_input", "message": message, "details": problems}},
                            status_code=422)

    @app.get("/health", tags=["ops"], summary="Liveness and what this instance runs on")
    def health() -> dict:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        from leadrank.similarity.service import vector_backend

        return {"status": "ok", "version": __version__,
                "database": "postgresql" if settings.is_postgres else "sqlite",
                "queue": "redis" if settings.queue_url else "in-process",
                "vector_index": vector_backend()}

    return app
