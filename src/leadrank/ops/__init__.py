"""Operations: liveness/readiness, Prometheus metrics, structured logs.

``install(app)`` adds the HTTP latency middleware and the ``/ready`` and ``/metrics``
routes; ``leadrank.ops.logging.setup_logging`` configures text or JSON logs."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI


def install(app: FastAPI) -> None:
    from leadrank.config import get_settings
    from leadrank.ops.api import router
    from leadrank.ops.logging import setup_logging
    from leadrank.ops.metrics import HttpMetricsMiddleware

    if get_settings().log_format == "json":
        setup_logging()  # after uvicorn/gunicorn configured theirs: one JSON line per record
    app.add_middleware(HttpMetricsMiddleware)
    app.include_router(router)
