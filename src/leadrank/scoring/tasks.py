"""Jobs: ``scoring.score`` (planned into id-range chunks that workers score in parallel)
and ``model.train``."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import and_, func, or_, select

from leadrank.db import session_scope
from leadrank.jobs.context import JobContext
from leadrank.jobs.registry import chunked_job, job_handler
from leadrank.jobs.repository import JobRepository
from leadrank.jobs.service import create_job
from leadrank.models import Lead
from leadrank.models.base import utcnow
from leadrank.scoring import service
from leadrank.scoring.repository import ScoringRepository

SCORE_CHUNK = 10_000


def plan_scoring(ctx: JobContext) -> list[dict]:
    """Fix the model version and the scoring time ("now" for recency features) for the whole
    job, whichever worker scores a chunk and however late a retry runs, then cut the leads
    into chunks: explicit id lists for an upload's leads, id ranges ``(after, upto]`` for the
    whole workspace. Params: ``as_of`` (ISO time) and ``chunk_rows`` override the defaults."""
    as_of = ctx.params.get("as_of") or utcnow().isoformat()
    size = int(ctx.params.get("chunk_rows") or SCORE_CHUNK)
    with session_scope() as session:
        version = service.active_version(session, ctx.workspace_id)
        version_id = str(version.id) if version else None
        if ctx.params.get("lead_ids") is not None:
            ids = sorted(uuid.UUID(i) for i in ctx.params["lead_ids"])
        elif ctx.params.get("only_upload") and ctx.params.get("upload_job_id"):
            upload_leads = select(Lead.id).where(Lead.workspace_id == ctx.workspace_id,
                                                 Lead.upload_job_id == uuid.UUID(ctx.params["upload_job_id"]))
            if ctx.params.get("scored_as_of"):
                # New leads the upload scored as it inserted them: only their reasons are due,
                # in id ranges (a million ids written into chunk parameters cost more than the
                # chunks' work); the rest of the upload's leads (updated ones) are scored.
                when = datetime.fromisoformat(ctx.params["scored_as_of"])
                ids = list(session.scalars(upload_leads.where(~_stored_scored(when)).order_by(Lead.id)))
                scored = _scored_ranges(session, upload_leads.where(_stored_scored(when)), when, size)
                ctx.progress["rows_total_estimate"] = len(ids) + sum(c["expected"] for c in scored)
                return [*_id_chunks(ids, version_id, as_of, size), *scored]
            ids = list(session.scalars(upload_leads.order_by(Lead.id)))
        else:
            ids = ScoringRepository(session).lead_ids(ctx.workspace_id)
            chunks = []
            for start in range(0, len(ids), size):
                part = ids[start:start + size]
                chunks.append({"model_version_id": version_id, "after": str(ids[start - 1]) if start else None,
                               "upto": str(part[-1]), "expected": len(part), "as_of": as_of})
            ctx.progress["rows_total_estimate"] = len(ids)
            return chunks
    ctx.progress["rows_total_estimate"] = len(ids)
    return _id_chunks(ids, version_id, as_of, size)


def _id_chunks(ids: list[uuid.UUID], version_id: str | None, as_of: str, size: int, *, scored: bool = False
               ) -> list[dict]:
    extra = {"scored": True} if scored else {}
    return [{"model_version_id": version_id, "lead_ids": [str(i) for i in ids[s:s + size]], "as_of": as_of, **extra}
            for s in range(0, len(ids), size)]


def _stored_scored(as_of: datetime):  # noqa: ANN202
    """Leads that still hold the model score an upload gave them as it inserted them at ``as_of``
    (false, never NULL, for the others: the condition is also used negated)."""
    return func.coalesce(and_(Lead.scored_at == as_of, Lead.score_kind == "model",
                              Lead.model_version_id.is_not(None)), False)


def _scored_ranges(session, scored_leads, as_of: datetime, size: int) -> list[dict]:  # noqa: ANN001
    """Chunks of ``size`` of these leads per model version, as id ranges ``(after, upto]``:
    only every ``size``-th id (and each version's last) comes back from the database. A range
    may hold other leads too; the reasons pass takes only those scored by that version at
    ``as_of``."""
    ranked = scored_leads.add_columns(
        Lead.model_version_id.label("version_id"),
        func.row_number().over(partition_by=Lead.model_version_id, order_by=Lead.id).label("rank"),
        func.count().over(partition_by=Lead.model_version_id).label("total")).subquery()
    bounds = session.execute(
        select(ranked.c.id, ranked.c.version_id, ranked.c.rank)
        .where(or_(ranked.c.rank % size == 0, ranked.c.rank == ranked.c.total))
        .order_by(ranked.c.version_id, ranked.c.id)).all()
    chunks, after, done, last_version = [], None, 0, None
    for upto, version_id, rank in bounds:
        if version_id != last_version:
            after, done, last_version = None, 0, version_id
        chunks.append({"model_version_id": str(version_id), "after": str(after) if after else None,
                       "upto": str(upto), "expected": rank - done, "as_of": as_of.isoformat(), "scored": True})
        after, done = upto, rank
    return chunks


def _chunk_leads(session, ctx: JobContext, params: dict) -> list[uuid.UUID]:  # noqa: ANN001
    if "lead_ids" in params:
        return [uuid.UUID(i) for i in params["lead_ids"]]
    return ScoringRepository(session).lead_ids_in_range(ctx.workspace_id, **_id_range(params))


def _id_range(params: dict) -> dict[str, uuid.UUID | None]:
    return {"after": uuid.UUID(params["after"]) if params["after"] else None, "upto": uuid.UUID(params["upto"])}


def score_one_chunk(session, ctx: JobContext, params: dict) -> dict:  # noqa: ANN001
    if params.get("scored"):  # scored by the upload that inserted them: the reasons pass takes them
        return {"processed": int(params.get("expected") or len(params.get("lead_ids") or ())), "reasons": "pending"}
    ids = _chunk_leads(session, ctx, params)
    version_id = params.get("model_version_id")
    version = service.get_version(session, ctx.workspace_id, uuid.UUID(version_id)) if version_id else None
    as_of = datetime.fromisoformat(params["as_of"]) if params.get("as_of") else None
    return service.score_chunk(session, ctx.workspace_id, ids, version, as_of=as_of)


def finish_scoring(ctx: JobContext, results: list[dict]) -> dict:
    """Scores are in; when reasons were left for the second pass, start it."""
    out = {"scored": sum(r.get("processed", 0) for r in results)}
    # An upload's embeddings come after its reasons (see schedule_after_upload): created by
    # the reasons pass when it ends, their chunks never share the workers with its chunks.
    embed = ctx.params["upload_job_id"] if ctx.params.get("embed_upload") else None
    with session_scope() as session:
        if any(r.get("reasons") == "pending" for r in results):
            params = {"scoring_job_id": str(ctx.job_id)}
            if embed:
                params["embed_upload_job_id"] = embed
            out["explain_job_id"] = str(create_job(session, ctx.workspace_id, "scoring.explain", params).id)
        elif embed:
            out["embed_job_id"] = _embed_upload(session, ctx.workspace_id, embed)
    return out


def _embed_upload(session, workspace_id: uuid.UUID, upload_job_id: str) -> str:  # noqa: ANN001
    return str(create_job(session, workspace_id, "similarity.embed", {"upload_job_id": upload_job_id}).id)


chunked_job("scoring.score", plan=plan_scoring, run_chunk=score_one_chunk, finish=finish_scoring)


def plan_explaining(ctx: JobContext) -> list[dict]:
    """The scoring job's chunks whose reasons were left for this pass (same leads, version
    and scoring time)."""
    with session_scope() as session:
        chunks = JobRepository(session).chunks(uuid.UUID(ctx.params["scoring_job_id"]))
        plan = [dict(c.params) for c in chunks if c.status == "done" and (c.result or {}).get("reasons") == "pending"]
    ctx.progress["rows_total_estimate"] = sum(int(c.get("expected") or len(c.get("lead_ids") or ())) for c in plan)
    return plan


def explain_one_chunk(session, ctx: JobContext, params: dict) -> dict:  # noqa: ANN001
    version = service.get_version(session, ctx.workspace_id, uuid.UUID(params["model_version_id"]))
    # An id range is read as one (the query keeps the leads this scoring gave their score).
    chunk = {"lead_ids": params["lead_ids"]} if "lead_ids" in params else {"id_range": _id_range(params)}
    return {"processed": service.explain_chunk(session, ctx.workspace_id, version=version,
                                               as_of=datetime.fromisoformat(params["as_of"]), **chunk)}


def finish_explaining(ctx: JobContext, results: list[dict]) -> dict:
    out = {"explained": sum(r.get("processed", 0) for r in results)}
    if ctx.params.get("embed_upload_job_id"):
        with session_scope() as session:
            out["embed_job_id"] = _embed_upload(session, ctx.workspace_id, ctx.params["embed_upload_job_id"])
    return out


chunked_job("scoring.explain", plan=plan_explaining, run_chunk=explain_one_chunk, finish=finish_explaining)


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


import leadrank.customize.tasks  # noqa: E402,F401 - registers customize.rescore (applies scoring configurations)
