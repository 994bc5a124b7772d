"""Readiness checks: is this instance able to serve? (``GET /ready``)

Other packages add their own checks here without the ops package knowing them, e.g. the
similarity engine reports which vector index it uses::

    from leadrank.ops.readiness import register_check
    register_check("vector_index", lambda: {"ok": True, "backend": "usearch"}, required=False)

A check returns a dict with ``ok`` (and any details) or raises; a failing *required* check
makes ``/ready`` answer 503.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text

from leadrank.config import get_settings
from leadrank.db import get_engine


@dataclass(frozen=True)
class Check:
    fn: Callable[[], dict]
    required: bool = True


CHECKS: dict[str, Check] = {}


def register_check(name: str, fn: Callable[[], dict], *, required: bool = True) -> None:
    CHECKS[name] = Check(fn, required)


def check_database() -> dict:
    with get_engine().connect() as conn:
        conn.execute(text("SELECT 1"))
    return {"ok": True, "dialect": get_engine().dialect.name}


def check_migrations() -> dict:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from leadrank.migrate import alembic_config

    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    with get_engine().connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    return {"ok": current == heads, "current": sorted(current), "head": sorted(heads)}


def check_queue() -> dict:
    settings = get_settings()
    if not settings.queue_url:
        return {"ok": True, "runner": "in-process"}
    from leadrank.jobs.distributed import queue_status

    return {"runner": "redis", **queue_status()}


register_check("database", check_database)
register_check("migrations", check_migrations)
register_check("queue", check_queue)


def run_checks() -> tuple[bool, dict[str, dict]]:
    results: dict[str, dict] = {}
    ready = True
    for name, check in list(CHECKS.items()):
        try:
            outcome = dict(check.fn())
            outcome.setdefault("ok", True)
        except Exception as exc:  # noqa: BLE001 - a failing dependency is the answer, not an error
            outcome = {"ok": False, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
        if not outcome["ok"] and check.required:
            ready = False
        outcome["required"] = check.required
        results[name] = outcome
    return ready, results
