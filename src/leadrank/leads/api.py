from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request, UploadFile
from fastapi.responses import FileResponse, Response, StreamingResponse
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from leadrank.config import get_settings
from leadrank.db import get_engine, session_scope
from leadrank.deps import PrincipalDep, SessionDep
from leadrank.errors import InvalidInput
from leadrank.ingest import service as ingest
from leadrank.leads import export, service
from leadrank.leads.filters import LeadFilters, LeadSort
from leadrank.leads.repository import LeadRepository
from leadrank.leads.schemas import ActivityIn, JobCreated, JsonUpload, LeadOut, LeadPage, filters_query
from leadrank.models.base import utcnow

router = APIRouter(prefix="/leads", tags=["leads"])
FiltersDep = Annotated[LeadFilters, Depends(filters_query)]


@router.post("/upload", response_model=JobCreated, status_code=202,
             summary="Upload a CSV/XLSX file (multipart) or JSON {\"leads\": [...]}")
async def upload_leads(request: Request, session: SessionDep, principal: PrincipalDep) -> JobCreated:
    principal.require_write()
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        file = form.get("file")
        if not isinstance(file, UploadFile) and not hasattr(file, "read"):
            raise InvalidInput("multipart upload needs a 'file' field")
        mapping = _mapping_field(form.get("mapping"))
        kind = str(form.get("kind") or "leads")
        sheet = form.get("sheet") or None
        path = ingest.save_upload(file.file, file.filename or "upload.csv")
        filename = file.filename or path.name
    elif content_type.startswith("application/json"):
        try:
            payload = JsonUpload.model_validate(await request.json())
        except ValueError as exc:
            raise InvalidInput(f'expected JSON {{"leads": [...]}}: {exc}') from None
        path = ingest.save_json_leads(payload.leads)
        mapping, kind, sheet, filename = payload.mapping, payload.kind, None, "leads.json"
    else:
        raise InvalidInput("send multipart/form-data with a 'file', or application/json with {\"leads\": [...]}")
    job = ingest.start_upload(session, principal.workspace_id, path, filename=filename, kind=kind,
                              sheet=sheet, mapping=mapping)
    return JobCreated(job_id=str(job.id), status=job.status)


def _mapping_field(raw: object) -> dict[str, str] | None:
    if raw in (None, ""):
        return None
    try:
        value = json.loads(str(raw))
    except json.JSONDecodeError:
        raise InvalidInput("mapping must be a JSON object of header → field") from None
    if not isinstance(value, dict):
        raise InvalidInput("mapping must be a JSON object of header → field")
    return {str(k): str(v) for k, v in value.items()}


@router.get("/prioritized", response_model=LeadPage, summary="Leads sorted by score, filtered, paginated")
async def prioritized(principal: PrincipalDep, filters: FiltersDep,
                      limit: Annotated[int, Query(ge=1, le=500)] = 50, cursor: str | None = None,
                      sort: str = "score", order: Literal["desc", "asc"] = "desc",
                      count: bool = False,
                      explain: Annotated[bool, Query(description="Include each lead's full explanation")] = False,
                      ) -> Response:
    # The most requested read: async, so that checking the key (remembered for a few seconds)
    # and parsing the filters take no worker thread, and the database work takes exactly one.
    by = LeadSort(sort, order == "desc")
    body = await run_in_threadpool(_prioritized_page, principal.workspace_id, filters, by, limit, cursor, count,
                                   explain)
    return Response(body, media_type="application/json")


@contextmanager
def read_session() -> Iterator[Session]:
    """A session that only reads, each statement on its own (autocommit): no BEGIN and COMMIT
    round trips around a page's few statements (this list, and the web list page)."""
    with get_engine().connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        with Session(bind=connection) as session:
            yield session


def _prioritized_page(workspace_id: uuid.UUID, filters: LeadFilters, sort: LeadSort, limit: int,
                      cursor: str | None, count: bool, explain: bool) -> bytes:
    """The page as JSON. Its own session, for reading only: the request's session dependency
    would cost two more worker-thread hops, one to open it and one to close it.

    The page is built as plain dicts and encoded by orjson in one go: validating 50 leads
    with their insights through pydantic cost more than the query (LeadPage documents it)."""
    with read_session() as session:
        views, next_cursor = service.list_views(session, workspace_id, filters, sort, limit=limit, cursor=cursor,
                                                explain=explain)
        body: dict = {"leads": views, "next_cursor": next_cursor, "total": None, "total_as_of": None}
        if count:
            counted = service.count_leads(session, workspace_id, filters)
            body["total"] = counted.total
            body["total_as_of"] = counted.as_of
    return orjson.dumps(body)


@router.get("/export", summary="The ranked list (filtered; top N or top N%) as CSV or XLSX")
def export_leads(session: SessionDep, principal: PrincipalDep, filters: FiltersDep,
                 format: Literal["csv", "xlsx"] = "csv", top: int | None = None,
                 top_percent: float | None = None):  # noqa: ANN201
    total = LeadRepository(session).count(principal.workspace_id, filters)
    limit = export.resolve_limit(total, top, top_percent)
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    if format == "xlsx":
        path = export.write_xlsx(session, principal.workspace_id, filters, limit=limit,
                                 directory=get_settings().data_dir / "exports")
        return FileResponse(path, filename=f"leads-{stamp}.xlsx",
                            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                            background=BackgroundTask(path.unlink, missing_ok=True))
    workspace_id = principal.workspace_id

    def stream():  # noqa: ANN202 - its own read session: the request's closes before streaming
        with session_scope() as reading:
            yield from export.iter_csv(reading, workspace_id, filters, limit=limit)

    return StreamingResponse(stream(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="leads-{stamp}.csv"'})


@router.get("/{lead_id}", response_model=LeadOut, summary="One lead: every field, its score and reasons")
def get_lead(lead_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> LeadOut:
    return LeadOut(**service.lead_view(service.get_lead(session, principal.workspace_id, lead_id)))


@router.delete("/{lead_id}", status_code=204, summary="Delete a lead with its activities and scores")
def delete_lead(lead_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> None:
    principal.require_write()
    service.delete_lead(session, principal.workspace_id, lead_id)


@router.post("/{lead_id}/activities", status_code=201, summary="Record an activity for a lead")
def add_activity(lead_id: uuid.UUID, body: ActivityIn, session: SessionDep, principal: PrincipalDep) -> dict:
    principal.require_write()
    return service.add_activity(session, principal.workspace_id, lead_id, activity_type=body.activity_type,
                                activity_date=body.activity_date, description=body.description,
                                source=body.source)


@router.get("/{lead_id}/activities", summary="A lead's activity timeline, newest first")
def list_activities(lead_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> dict:
    lead = service.get_lead(session, principal.workspace_id, lead_id)
    return {"activities": [
        {"activity_id": str(a.id), "activity_type": a.activity_type, "activity_date": a.activity_date.isoformat(),
         "description": a.description, "source": a.source}
        for a in LeadRepository(session).activities(lead.id)
    ]}
