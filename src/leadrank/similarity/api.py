from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from leadrank.deps import PrincipalDep, SessionDep
from leadrank.jobs.service import create_job
from leadrank.models import IdealCustomerProfile
from leadrank.similarity import service

router = APIRouter(tags=["similarity"])


class ICPIn(BaseModel):
    name: str = "Ideal customer profile"
    description: str = Field("", examples=["VP of Sales at a 50–500 person B2B SaaS company in Europe"])
    industries: list[str] = []
    size_min: int | None = None
    size_max: int | None = None
    seniorities: list[str] = Field([], description="c_level, vp, director, manager, ic, student")
    locations: list[str] = []
    sources: list[str] = []
    example_lead_ids: list[str] = Field([], description="Leads or past customers that are the ideal")
    example_profiles: list[str] = Field([], description="Free-text profiles of ideal customers")
    primary: bool | None = Field(None, description="Use it for cold-start scoring (the first ICP is)")


def icp_view(row: IdealCustomerProfile) -> dict[str, Any]:
    return {"icp_id": str(row.id), "name": row.name, "primary": row.is_primary, "definition": row.definition,
            "created_at": row.created_at.isoformat(), "updated_at": row.updated_at.isoformat()}


@router.get("/leads/similar", summary="Leads most like a lead or an ICP (vector search)")
def similar(session: SessionDep, principal: PrincipalDep,
            to: Annotated[str, Query(description="A lead id or an ICP id")],
            k: Annotated[int, Query(ge=1, le=200)] = 10) -> dict:
    return service.similar_leads(session, principal.workspace_id, to, k)


@router.get("/icps", summary="The workspace's ideal customer profiles")
def list_icps(session: SessionDep, principal: PrincipalDep) -> dict:
    return {"icps": [icp_view(r) for r in service.list_icps(session, principal.workspace_id)]}


@router.post("/icps", status_code=201, summary="Define an ICP (text, criteria and/or examples)")
def create_icp(body: ICPIn, session: SessionDep, principal: PrincipalDep) -> dict:
    principal.require_write()
    data = body.model_dump(exclude={"primary"})
    row = service.save_icp(session, principal.workspace_id, data, primary=body.primary)
    create_job(session, principal.workspace_id, "scoring.score", {})  # fit changes every cold-start score
    return icp_view(row)


@router.get("/icps/{icp_id}", summary="One ICP")
def read_icp(icp_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> dict:
    return icp_view(service.get_icp(session, principal.workspace_id, icp_id))


@router.put("/icps/{icp_id}", summary="Replace an ICP")
def update_icp(icp_id: uuid.UUID, body: ICPIn, session: SessionDep, principal: PrincipalDep) -> dict:
    principal.require_write()
    row = service.save_icp(session, principal.workspace_id, body.model_dump(exclude={"primary"}),
                           icp_id=icp_id, primary=body.primary)
    create_job(session, principal.workspace_id, "scoring.score", {})
    return icp_view(row)


@router.delete("/icps/{icp_id}", status_code=204, summary="Delete an ICP")
def delete_icp(icp_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> None:
    principal.require_write()
    service.delete_icp(session, principal.workspace_id, icp_id)


@router.post("/embeddings/rebuild", status_code=202, summary="Embed every lead again (after a model change)")
def rebuild(session: SessionDep, principal: PrincipalDep) -> dict:
    principal.require_write()
    job = create_job(session, principal.workspace_id, "similarity.embed", {})
    return {"status": "queued", "job_id": str(job.id)}
