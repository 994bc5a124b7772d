from __future__ import annotations

import uuid

from fastapi import APIRouter
from pydantic import BaseModel

from leadrank.deps import PrincipalDep, SessionDep
from leadrank.models import ModelVersion
from leadrank.scoring import service

router = APIRouter(prefix="/model", tags=["model"])


class RetrainIn(BaseModel):
    include_columns: list[str] | None = None


def version_view(v: ModelVersion, *, full: bool = False) -> dict:
    report = v.report or {}
    out = {
        "model_version_id": str(v.id), "version": v.version, "status": v.status, "algorithm": v.algorithm,
        "created_at": v.created_at.isoformat(), "activated_at": v.activated_at.isoformat() if v.activated_at else None,
        "note": v.note,
        "metrics": {k: report.get(k) for k in ("roc_auc", "pr_auc", "brier", "log_loss", "capture_at_10",
                                               "capture_at_20", "lift_at_10", "lift_at_20", "base_rate")},
        "data_summary": v.data_summary,
    }
    if full:
        out.update(report=report, features=v.features, params=v.params)
    return out


@router.post("/retrain", status_code=202, summary="Train a new model version on the workspace's outcomes")
def retrain(session: SessionDep, principal: PrincipalDep, body: RetrainIn | None = None) -> dict:
    principal.require_write()
    job = service.request_retrain(session, principal.workspace_id,
                                  include_columns=body.include_columns if body else None)
    return {"status": "queued", "job_id": str(job.id)}


@router.get("/features", summary="Global feature importance of the active model")
def features(session: SessionDep, principal: PrincipalDep) -> dict:
    return {"features": service.feature_importance(session, principal.workspace_id)}


@router.get("/versions", summary="Every trained version, newest first")
def versions(session: SessionDep, principal: PrincipalDep) -> dict:
    return {"versions": [version_view(v) for v in service.list_versions(session, principal.workspace_id)]}


@router.get("/versions/{version_id}", summary="A version's full quality report")
def version(version_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> dict:
    return version_view(service.get_version(session, principal.workspace_id, version_id), full=True)


@router.post("/versions/{version_id}/activate", status_code=202,
             summary="Activate a version (also rolls forward/back) and rescore the workspace")
def activate(version_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> dict:
    principal.require_write()
    job = service.activate_version(session, principal.workspace_id, version_id)
    return {"status": "queued", "job_id": str(job.id), "active_model_version_id": str(version_id)}


@router.post("/rollback", status_code=202, summary="Re-activate the previously active version and rescore")
def rollback(session: SessionDep, principal: PrincipalDep) -> dict:
    principal.require_write()
    job = service.rollback(session, principal.workspace_id)
    ws_active = service.active_version(session, principal.workspace_id)
    return {"status": "queued", "job_id": str(job.id),
            "active_model_version_id": str(ws_active.id) if ws_active else None}


@router.post("/rescore", status_code=202, summary="Rescore every lead with the active model (or cold start)")
def rescore(session: SessionDep, principal: PrincipalDep) -> dict:
    principal.require_write()
    return {"status": "queued", "job_id": str(service.request_rescore(session, principal.workspace_id).id)}
