"""Job ``customize.rescore``: apply a saved scoring configuration to every scored lead's
stored contributions (no model run), planned into id-range chunks like ``scoring.score``."""

from __future__ import annotations

import uuid

from leadrank.customize import service
from leadrank.db import session_scope
from leadrank.jobs.context import JobContext
from leadrank.jobs.registry import chunked_job

CHUNK = service.RESCORE_CHUNK


def plan(ctx: JobContext) -> list[dict]:
    size = int(ctx.params.get("chunk_rows") or CHUNK)
    config_id = uuid.UUID(ctx.params["config_id"])
    with session_scope() as session:
        planned = service.plan_rescore(session, ctx.workspace_id, config_id)
    ids = planned["ids"]
    ctx.progress["rows_total_estimate"] = len(ids)
    return [{"config_id": str(config_id), "after": str(ids[s - 1]) if s else None, "upto": str(ids[min(s + size, len(ids)) - 1]),
             "resolved_bands": planned["resolved_bands"]} for s in range(0, len(ids), size)]


def run_chunk(session, ctx: JobContext, params: dict) -> dict:  # noqa: ANN001
    from leadrank.scoring.repository import ScoringRepository

    ids = ScoringRepository(session).lead_ids_in_range(
        ctx.workspace_id, after=uuid.UUID(params["after"]) if params["after"] else None, upto=uuid.UUID(params["upto"]))
    n = service.rescore_chunk(session, ctx.workspace_id, uuid.UUID(params["config_id"]), ids,
                              params.get("resolved_bands"))
    return {"processed": n}


def finish(ctx: JobContext, results: list[dict]) -> dict:
    return {"scored": sum(r.get("processed", 0) for r in results), "config_id": ctx.params.get("config_id")}


chunked_job("customize.rescore", plan=plan, run_chunk=run_chunk, finish=finish)
