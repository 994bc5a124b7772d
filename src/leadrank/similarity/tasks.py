"""``similarity.embed``: embed an upload's leads (or the workspace) in parallel chunks."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from leadrank.db import session_scope
from leadrank.jobs.context import JobContext
from leadrank.jobs.registry import chunked_job
from leadrank.models import Lead
from leadrank.scoring.repository import ScoringRepository
from leadrank.similarity import service

EMBED_CHUNK = 20_000


def plan_embedding(ctx: JobContext) -> list[dict]:
    with session_scope() as session:
        stmt = select(Lead.id).where(Lead.workspace_id == ctx.workspace_id)
        if ctx.params.get("upload_job_id"):
            stmt = stmt.where(Lead.upload_job_id == uuid.UUID(ctx.params["upload_job_id"]))
        ids = [str(i) for i in session.scalars(stmt.order_by(Lead.id))]
    ctx.progress["rows_total_estimate"] = len(ids)
    return [{"lead_ids": ids[s:s + EMBED_CHUNK]} for s in range(0, len(ids), EMBED_CHUNK)]


def embed_chunk(session, ctx: JobContext, params: dict) -> dict:  # noqa: ANN001
    ids = [uuid.UUID(i) for i in params["lead_ids"]]
    frame = ScoringRepository(session).load_leads(ctx.workspace_id, lead_ids=ids)
    if not frame.empty:
        service.embed_leads(session, ctx.workspace_id, frame)
    return {"processed": len(frame)}


def finish_embedding(ctx: JobContext, results: list[dict]) -> dict:
    return {"embedded": sum(r.get("processed", 0) for r in results), "backend": service.vector_backend()}


chunked_job("similarity.embed", plan=plan_embedding, run_chunk=embed_chunk, finish=finish_embedding)
