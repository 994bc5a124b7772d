from __future__ import annotations

import csv
import io
import uuid

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from leadrank.deps import PrincipalDep, SessionDep
from leadrank.jobs.repository import JobRepository
from leadrank.jobs.service import get_job
from leadrank.models import Job

router = APIRouter(prefix="/jobs", tags=["jobs"])


def job_view(job: Job, rejects_preview: list[dict] | None = None, chunks: dict | None = None) -> dict:
    """A job as users see it. ``chunks`` is the chunk summary of a chunked job."""
    progress = dict(job.progress or {})
    if chunks:
        progress.update(chunks)
    total = progress.get("rows_total_estimate")
    done = progress.get("rows_read") or progress.get("processed") or 0
    return {
        "job_id": str(job.id), "kind": job.kind, "status": job.status, "progress": progress,
        "percent": (100.0 if job.status == "done" else
                    round(min(99.0, 100.0 * done / total), 1) if total else None),
        "result": job.result or {}, "error": job.error, "attempts": job.attempts,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "rejects": rejects_preview if rejects_preview is not None else None,
        "rejects_csv": f"/api/v1/jobs/{job.id}/rejects" if (progress.get("rejected") or 0) else None,
    }


@router.get("", summary="Recent jobs of the workspace")
def list_jobs(session: SessionDep, principal: PrincipalDep, kind: str | None = None) -> dict:
    repo = JobRepository(session)
    return {"jobs": [job_view(j, chunks=repo.chunk_summary(j.id))
                     for j in repo.list(principal.workspace_id, kind=kind)]}


@router.get("/{job_id}", summary="A job's status, progress, result and first rejects")
def read_job(job_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> dict:
    job = get_job(session, principal.workspace_id, job_id)
    repo = JobRepository(session)
    preview = [{"row_number": r.row_number, "field": r.field, "reason": r.reason}
               for r in repo.rejects(job.id, limit=50)]
    return job_view(job, preview, chunks=repo.chunk_summary(job.id))


@router.get("/{job_id}/rejects", summary="The rejected rows as CSV: row, field, reason, then the row")
def read_rejects(job_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> StreamingResponse:
    job = get_job(session, principal.workspace_id, job_id)
    rejects = JobRepository(session).rejects(job.id)
    headers = list((job.params or {}).get("headers") or [])
    for r in rejects:
        for key in r.raw or {}:
            if key not in headers:
                headers.append(key)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["row_number", "field", "reason", *headers])
    from leadrank.leads.export import neutralise

    for r in rejects:
        raw = r.raw or {}
        writer.writerow([r.row_number, r.field or "", r.reason, *[neutralise(raw.get(h, "")) for h in headers]])
    return StreamingResponse(iter([buf.getvalue()]), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="rejects-{job.id}.csv"'})
