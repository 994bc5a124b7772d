"""Upload: pick a file → preview with the detected mapping → adjust → start → progress → result."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from leadrank.config import get_settings
from leadrank.errors import InvalidInput, NotFound
from leadrank.ingest import service as ingest
from leadrank.ingest.mapping import ACTIVITY_TARGETS, CUSTOM_PREFIX, FULL_NAME, IGNORE, LEAD_TARGETS, snake_name
from leadrank.jobs.repository import JobRepository
from leadrank.jobs.service import get_job
from leadrank.models import Job
from leadrank.web.csrf import require_csrf
from leadrank.web.session import WebContext, WebDep
from leadrank.web.templating import field_label, render

router = APIRouter(dependencies=[Depends(require_csrf)])

TOKEN = re.compile(r"^[0-9a-f]{32}$")
ACCEPTED = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".xls", ".ods")
KEEP_UPLOADS = 6
PREVIEW_ROWS = 8
IDENTIFYING = {"email", "external_id", "first_name", "last_name", FULL_NAME, "company_name"}
JOB_TITLES = {"leads.upload": "Upload", "scoring.score": "Scoring", "model.train": "Model training"}


# --- the files this browser session picked -------------------------------------------------------

def _remember(request: Request, token: str, path: Path, filename: str, kind: str, workspace_id: uuid.UUID) -> None:
    uploads = dict(request.session.get("uploads") or {})
    uploads[token] = {"file": path.name, "name": filename[:120], "kind": kind, "ws": str(workspace_id)}
    while len(uploads) > KEEP_UPLOADS:
        uploads.pop(next(iter(uploads)))
    request.session["uploads"] = uploads


def _picked(web: WebContext, token: str) -> tuple[Path, dict]:
    """A file picked earlier in this session, for this workspace; 404 otherwise (a token from
    another session or workspace is never honoured)."""
    entry = (web.request.session.get("uploads") or {}).get(token)
    if not TOKEN.match(token) or not entry or entry.get("ws") != str(web.workspace_id):
        raise NotFound("That file is no longer available. Pick it again to upload it.")
    path = get_settings().data_dir / "uploads" / token / entry["file"]
    if not path.is_file():
        raise NotFound("That file is no longer available. Pick it again to upload it.")
    return path, entry


# --- pages ---------------------------------------------------------------------------------------

def _upload_page(web: WebContext, *, error: str | None = None, status: int = 200, kind: str = "leads") -> Response:
    recent = list(JobRepository(web.db).list(web.workspace_id, kind="leads.upload", limit=8))
    return render(web.request, "upload.html", web=web, active="upload", title="Upload leads · leadrank",
                  error=error, recent=recent, kind=kind, accepted=",".join(ACCEPTED),
                  max_mb=get_settings().max_upload_mb, status=status)


@router.get("/upload")
def upload_page(web: WebDep) -> Response:
    return _upload_page(web)


@router.post("/upload")
async def upload_file(request: Request, web: WebDep) -> Response:
    web.principal.require_write()
    form = await request.form()
    file = form.get("file")
    kind = str(form.get("kind") or "leads")
    if kind not in ingest.UPLOAD_KINDS:
        kind = "leads"
    if not isinstance(file, UploadFile) or not file.filename:
        return _upload_page(web, error="Choose a CSV or Excel file to upload.", status=422, kind=kind)
    if not file.filename.lower().endswith(ACCEPTED):
        return _upload_page(web, error=f"“{file.filename}” is not a CSV or Excel file. leadrank reads "
                            f"{', '.join(ACCEPTED)}.", status=422, kind=kind)
    try:
        path = ingest.save_upload(file.file, file.filename)
        ingest.preview_upload(path, kind=kind, rows=1)
    except InvalidInput as exc:
        return _upload_page(web, error=f"“{file.filename}” could not be read: {exc.message}", status=422,
                            kind=kind)
    token = path.parent.name
    _remember(request, token, path, file.filename, kind, web.workspace_id)
    return RedirectResponse(f"/upload/{token}", status_code=303)


def _targets(kind: str) -> list[str]:
    return list(ACTIVITY_TARGETS if kind == "activities" else LEAD_TARGETS)


def _preview_page(web: WebContext, token: str, path: Path, entry: dict, *, chosen: dict[str, str] | None = None,
                  error: str | None = None, status: int = 200) -> Response:
    kind = entry.get("kind", "leads")
    try:
        preview = ingest.preview_upload(path, kind=kind, rows=PREVIEW_ROWS)
    except InvalidInput as exc:
        return _upload_page(web, error=f"“{entry['name']}” could not be read: {exc.message}", status=422, kind=kind)
    mapping = {**preview.mapping, **(chosen or {})}
    columns = []
    for i, header in enumerate(preview.headers):
        samples = [row[i] for row in preview.rows if i < len(row) and str(row[i]).strip()][:3]
        custom = CUSTOM_PREFIX + (snake_name(header) or f"column_{i + 1}")
        suggested = preview.mapping.get(header, IGNORE)
        if suggested.startswith(CUSTOM_PREFIX):
            custom = suggested
        columns.append({"index": i, "header": header or f"Column {i + 1}", "samples": samples,
                        "target": mapping.get(header, IGNORE), "suggested": suggested, "custom": custom})
    mapped = {c["target"] for c in columns}
    warning = None
    if kind == "leads" and not mapped & IDENTIFYING:
        warning = ("No column is mapped to email, external ID, name or company: every row would be rejected. "
                   "Map at least one of them.")
    options = [(t, field_label(t)) for t in _targets(kind)]
    return render(web.request, "upload_preview.html", web=web, active="upload", title="Check the columns · leadrank",
                  token=token, entry=entry, preview=preview, columns=columns, options=options, kind=kind,
                  error=error, warning=warning, status=status,
                  estimate=_estimate(path))


def _estimate(path: Path) -> int | None:
    from leadrank.ingest.tasks import estimate_rows

    try:
        return estimate_rows(path)
    except OSError:
        return None


@router.get("/upload/{token}")
def preview_page(token: str, web: WebDep) -> Response:
    path, entry = _picked(web, token)
    return _preview_page(web, token, path, entry)


@router.post("/upload/{token}")
async def start(token: str, request: Request, web: WebDep) -> Response:
    web.principal.require_write()
    path, entry = _picked(web, token)
    kind = entry.get("kind", "leads")
    form = await request.form()
    preview = ingest.preview_upload(path, kind=kind, rows=1)
    allowed = set(_targets(kind)) | {IGNORE}
    chosen: dict[str, str] = {}
    for i, header in enumerate(preview.headers):
        value = form.get(f"map-{i}")
        if not isinstance(value, str) or not value:
            continue
        if value in allowed or (kind == "leads" and value.startswith(CUSTOM_PREFIX)):
            chosen[header] = value
    # The form shows the whole mapping, so every submitted select is the user's choice: two
    # columns left on one field is a conflict to resolve (apply_overrides says which).
    try:
        job = ingest.start_upload(web.db, web.workspace_id, path, filename=entry["name"], kind=kind,
                                  mapping=chosen or None)
    except InvalidInput as exc:
        web.db.rollback()
        return _preview_page(web, token, path, entry, chosen=chosen, error=exc.message, status=422)
    uploads = dict(request.session.get("uploads") or {})
    uploads.pop(token, None)
    request.session["uploads"] = uploads
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


# --- a job's progress and result -------------------------------------------------------------------

def _follow_ups(web: WebContext, job: Job) -> list[Job]:
    """Jobs started because of this one (scoring after an upload)."""
    out = []
    for other in JobRepository(web.db).list(web.workspace_id, kind="scoring.score", limit=20):
        if (other.params or {}).get("upload_job_id") == str(job.id):
            out.append(other)
    return out


@router.get("/jobs/{job_id}")
def job_page(job_id: uuid.UUID, web: WebDep) -> Response:
    job = get_job(web.db, web.workspace_id, job_id)
    repo = JobRepository(web.db)
    rejects = list(repo.rejects(job.id, limit=200))
    n_rejects = repo.count_rejects(job.id) if rejects else 0
    headers = list((job.params or {}).get("headers") or [])
    inverse = {target: header for header, target in ((job.params or {}).get("mapping") or {}).items()}
    from leadrank.jobs.api import job_view

    view = job_view(job)
    finished = job.status in ("done", "failed")
    follow = _follow_ups(web, job) if job.kind == "leads.upload" else []
    pending_follow = [f for f in follow if f.status not in ("done", "failed")]
    title = JOB_TITLES.get(job.kind, job.kind)
    if job.kind == "leads.upload":
        title = f"Upload of {(job.params or {}).get('filename') or 'a file'}"
    return render(web.request, "job.html", web=web, active="upload" if job.kind == "leads.upload" else "model",
                  title=f"{title} · leadrank", heading=title, job=job, view=view, rejects=rejects,
                  n_rejects=n_rejects, file_headers=headers, inverse=inverse, finished=finished, follow=follow,
                  pending_follow=pending_follow, result=job.result or {}, progress=job.progress or {})

