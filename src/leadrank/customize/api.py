"""REST endpoints of customizable scoring (under /api/v1) and grade overrides."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field

from leadrank.customize import service
from leadrank.customize.engine import ScoringConfig
from leadrank.deps import PrincipalDep, SessionDep

router = APIRouter(tags=["scoring configuration"])


class SaveIn(BaseModel):
    config: ScoringConfig
    note: str | None = Field(None, max_length=500)


class OverrideIn(BaseModel):
    grade: str = Field(..., description="A, B, C, D, or X (excluded)")
    reason: str = Field(..., min_length=1, max_length=1000)
    label: str | None = Field(None, description="junk | not_a_fit (a lost lead for training) | converted")


def _saved(row, job) -> dict:  # noqa: ANN001
    return {"status": "queued", "job_id": str(job.id), **service.config_view(row)}


@router.get("/scoring/config", summary="The active scoring configuration, its data points and its measured quality")
def get_config(session: SessionDep, principal: PrincipalDep) -> dict:
    return service.get_config(session, principal.workspace_id)


@router.put("/scoring/config", status_code=202,
            summary="Save a new configuration version, make it active and rescore every lead (a job)")
def put_config(body: SaveIn, session: SessionDep, principal: PrincipalDep) -> dict:
    principal.require_write()
    row, job = service.save_config(session, principal.workspace_id, body.config, user_id=principal.user_id,
                                   note=body.note)
    return _saved(row, job)


@router.post("/scoring/config/what-if",
             summary="What a configuration would do: holdout ROC AUC, capture@20%, calibration; top-20% movers")
def what_if(body: ScoringConfig, session: SessionDep, principal: PrincipalDep) -> dict:
    return service.what_if(session, principal.workspace_id, body)


@router.get("/scoring/configs", summary="Every saved configuration, newest first")
def list_configs(session: SessionDep, principal: PrincipalDep) -> dict:
    return {"configs": [service.config_view(r) for r in service.list_configs(session, principal.workspace_id)]}


@router.get("/scoring/configs/compare", summary="Two saved configurations side by side, measured on the holdout")
def compare(a: uuid.UUID, b: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> dict:
    return service.compare(session, principal.workspace_id, a, b)


@router.get("/scoring/configs/{config_id}", summary="One saved configuration")
def get_one(config_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> dict:
    return service.config_view(service.get_config_version(session, principal.workspace_id, config_id))


@router.post("/scoring/configs/{config_id}/activate", status_code=202,
             summary="Roll back (or forward) to a saved configuration and rescore")
def activate(config_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> dict:
    principal.require_write()
    row, job = service.activate_config(session, principal.workspace_id, config_id)
    return _saved(row, job)


@router.post("/leads/{lead_id}/override", summary="Override a lead's grade with a reason (the score is kept)")
def set_override(lead_id: uuid.UUID, body: OverrideIn, session: SessionDep, principal: PrincipalDep) -> dict:
    principal.require_write()
    o = service.set_override(session, principal.workspace_id, lead_id, grade=body.grade, reason=body.reason,
                             label=body.label, user_id=principal.user_id)
    return {"lead_id": str(lead_id), "grade_override": o.grade, "override_reason": o.reason, "label": o.label,
            "history": service.override_history(session, principal.workspace_id, lead_id)}


@router.delete("/leads/{lead_id}/override", summary="Remove a lead's grade override (back to the model's grade)")
def clear_override(lead_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> dict:
    principal.require_write()
    service.clear_override(session, principal.workspace_id, lead_id)
    return {"lead_id": str(lead_id), "grade_override": None,
            "history": service.override_history(session, principal.workspace_id, lead_id)}


def install(app: FastAPI, api_prefix: str) -> None:
    """The API router and the customization page (registered before the web app's routes, so
    this page serves /customize)."""
    from leadrank.customize.pages import router as pages_router

    app.include_router(router, prefix=api_prefix)
    app.include_router(pages_router, include_in_schema=False)
