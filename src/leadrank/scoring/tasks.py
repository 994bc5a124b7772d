"""Jobs: ``scoring.score`` (chunked, resumable, idempotent) and ``model.train``."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from leadrank.db import session_scope
from leadrank.jobs.context import JobContext
from leadrank.jobs.registry import job_handler
from leadrank.models import Lead
from leadrank.scoring import service
from leadrank.scoring.repository import ScoringRepository

SCORE_CHUNK = 10_000


def _chunks_from_params(ctx: JobContext) -> list[uuid.UUID] | None:
    if ctx.params.get("lead_ids") is not None:
        return [uuid.UUID(i) for i in ctx.params["lead_ids"]]
    if ctx.params.get("only_upload") and ctx.params.get("upload_job_id"):
        with session_scope() as session:
            return list(session.scalars(
                select(Lead.id).where(Lead.workspace_id == ctx.workspace_id,
                                      Lead.upload_job_id == uuid.UUID(ctx.params["upload_job_id"]))
                .order_by(Lead.id)))
    return None


@job_handler("scoring.score")
def run_scoring(ctx: JobContext) -> dict:
    """Score leads in id order, one committed chunk at a time. The checkpoint is the last id
    written, so a resumed job neither skips nor repeats a lead."""
    with session_scope() as session:
        version = service.active_version(session, ctx.workspace_id)
        version_id = version.id if version else None
        explicit = _chunks_from_params(ctx)
        total = len(explicit) if explicit is not None else ScoringRepository(session).outcome_counts(ctx.workspace_id)
        if isinstance(total, dict):
            total = sum(total.values())
        ctx.progress.setdefault("processed", 0)
        ctx.save(session, set_={"rows_total_estimate": total, "model_version_id": str(version_id or "")})
    after = uuid.UUID(ctx.checkpoint["after"]) if ctx.checkpoint.get("after") else None
    if explicit is not None:
        explicit.sort()
    while True:
        with session_scope() as session:
            if explicit is None:
                ids = ScoringRepository(session).lead_ids(ctx.workspace_id, after=after, limit=SCORE_CHUNK)
            else:
                start = 0 if after is None else _bisect_after(explicit, after)
                ids = explicit[start:start + SCORE_CHUNK]
            if not ids:
                break
            version = service.get_version(session, ctx.workspace_id, version_id) if version_id else None
            n = service.score_chunk(session, ctx.workspace_id, ids, version)
            after = ids[-1]
            ctx.save(session, checkpoint={"after": str(after)}, add={"processed": n, "rows_read": len(ids)})
        ctx.chunk_done()
    return {"scored": ctx.progress.get("processed", 0), "model_version_id": str(version_id) if version_id else None,
            "score_kind": "model" if version_id else "cold_start"}


def _bisect_after(ids: list[uuid.UUID], after: uuid.UUID) -> int:
    import bisect

    return bisect.bisect_right(ids, after)


@job_handler("model.train")
def run_training(ctx: JobContext) -> dict:
    with session_scope() as session:
        version, activated = service.train_version(
            session, ctx.workspace_id, include_columns=ctx.params.get("include_columns") or None)
        result = {"model_version_id": str(version.id), "version": version.version, "activated": activated,
                  "algorithm": version.algorithm, "roc_auc": version.report.get("roc_auc"),
                  "capture_at_20": version.report.get("capture_at_20"), "note": version.note}
        if activated:
            result["rescore_job_id"] = str(service.request_rescore(session, ctx.workspace_id).id)
    return result
