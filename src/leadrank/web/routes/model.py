"""The model page: the active version's quality in plain words and charts, the alternatives,
every version with activation and rollback, and retraining with progress."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from leadrank.errors import InvalidInput
from leadrank.jobs.repository import JobRepository
from leadrank.models import Job
from leadrank.web.charts import Series, hbar_chart, histogram, line_chart
from leadrank.web.csrf import require_csrf
from leadrank.scoring import service
from leadrank.web.model_view import ReportView, algorithm_label, category_of, group_label
from leadrank.leads.summary import score_histogram, workspace_summary
from leadrank.web.session import WebContext, WebDep
from leadrank.web.templating import flash, render

router = APIRouter(dependencies=[Depends(require_csrf)])
IMPORTANCE_ROWS = 15


def _running(web: WebContext, kinds: tuple[str, ...] = ("model.train", "scoring.score")) -> list[Job]:
    jobs = JobRepository(web.db).list(web.workspace_id, limit=20)
    return [j for j in jobs if j.kind in kinds and j.status in ("queued", "running")]


def _importance(items: list[dict]) -> list[dict]:
    total = sum(abs(float(i.get("importance") or 0)) for i in items) or 1.0
    rows = []
    for i in items:
        share = i.get("share")
        share = float(share) if isinstance(share, (int, float)) else abs(float(i.get("importance") or 0)) / total
        name = str(i.get("name") or i.get("group") or "")
        rows.append({"name": name, "label": group_label(i.get("group") or name), "share": share,
                     "category": category_of(i), "importance": i.get("importance")})
    return sorted(rows, key=lambda r: -r["share"])


@router.get("/model")
def model_page(request: Request, web: WebDep, version: uuid.UUID | None = None,
               job: uuid.UUID | None = None) -> Response:
    summary = workspace_summary(web.db, web.workspace_id)
    versions = list(service.list_versions(web.db, web.workspace_id))
    active_version = service.active_version(web.db, web.workspace_id)
    shown = active_version or (versions[0] if versions else None)
    if version is not None:
        shown = service.get_version(web.db, web.workspace_id, version)
    report = ReportView(shown.report if shown else None)
    if shown is not None and active_version is not None and shown.id == active_version.id:
        importance = _importance(list(service.feature_importance(web.db, web.workspace_id)))
    else:
        importance = _importance(list((shown.features if shown else None) or report.r.get("feature_importance") or []))
    charts = _charts(web, report, importance)
    running = _running(web)
    # The job the user just started (?job=), then anything still running (a rescoring that
    # follows a training run): each gets a progress panel that polls until it is finished.
    watches: list[Job] = []
    if job is not None:
        started = JobRepository(web.db).get(job, web.workspace_id)
        if started is not None:
            watches.append(started)
    watches += [j for j in running if all(j.id != w.id for w in watches)]
    return render(request, "model.html", web=web, active="model", title="Model · leadrank",
                  min_outcomes=service.MIN_OUTCOMES, min_per_class=service.MIN_PER_CLASS,
                  versions=versions, shown=shown, active_version=active_version, report=report, charts=charts,
                  importance=importance, running=running, watches=watches, summary=summary,
                  algorithm_label=algorithm_label)


def _charts(web: WebContext, report: ReportView, importance: list[dict]) -> dict:
    charts: dict = {}
    if importance:
        top = importance[:IMPORTANCE_ROWS]
        charts["importance"] = hbar_chart(
            [(r["label"], r["share"]) for r in top], fmt=lambda v: f"{v:.0%}",
            title="What drives the score",
            desc="Share of the model's total influence per data point, largest first: "
                 + ", ".join(f"{r['label']} {r['share']:.0%}" for r in top[:5]))
    gains = report.gains()
    if len(gains) > 2:
        charts["gains"] = line_chart(
            [Series("leadrank", [(a * 100, b * 100) for a, b in gains], cls="c-line"),
             Series("Random order", [(0, 0), (100, 100)], cls="c-ref", markers=False, dashed=True)],
            title="Cumulative gains", desc="Share of conversions found when calling the best-scored leads first. "
            + "; ".join(f"top {a:.0%}: {b:.0%}" for a, b in gains if a in (0.1, 0.2, 0.5)),
            x_label="Leads contacted, best first (%)", y_label="Conversions found (%)",
            x_domain=(0, 100), y_domain=(0, 100), x_fmt=lambda v: f"{v:g}%", y_fmt=lambda v: f"{v:g}%")
    calibration = report.calibration()
    if calibration:
        hi = max(0.05, *(max(b["predicted"], b["observed"]) for b in calibration))
        hi = min(1.0, round(hi * 1.1 + 0.005, 2))
        charts["calibration"] = line_chart(
            [Series("leadrank", [(b["predicted"] * 100, b["observed"] * 100) for b in calibration], cls="c-line"),
             Series("Perfectly honest", [(0, 0), (hi * 100, hi * 100)], cls="c-ref", markers=False, dashed=True)],
            title="Calibration", desc="Predicted conversion chance against what happened, in ten groups of "
            "evaluation leads.", x_label="Predicted chance (%)", y_label="Converted (%)",
            x_domain=(0, hi * 100), y_domain=(0, hi * 100), x_fmt=lambda v: f"{v:g}%", y_fmt=lambda v: f"{v:g}%")
    hist = score_histogram(web.db, web.workspace_id)
    if sum(hist):
        charts["distribution"] = histogram(
            hist, title="Score distribution", desc=f"Scores of the {sum(hist):,} scored leads in this workspace, "
            "in bands of 5 points; lines mark the grade cut-offs.", bands=report.grade_cuts())
    return charts


def _after_job(request: Request, job: Job, message: str) -> Response:
    flash(request, message, "success")
    return RedirectResponse(f"/model?job={job.id}", status_code=303)


@router.post("/model/retrain")
def retrain(request: Request, web: WebDep) -> Response:
    web.principal.require_write()
    try:
        job = service.request_retrain(web.db, web.workspace_id)
    except InvalidInput as exc:
        flash(request, exc.message[0].upper() + exc.message[1:], "error")
        return RedirectResponse("/model", status_code=303)
    return _after_job(request, job, "Training a new model version. This page updates when it is done.")


@router.post("/model/versions/{version_id}/activate")
def activate(version_id: uuid.UUID, request: Request, web: WebDep) -> Response:
    web.principal.require_write()
    version = service.get_version(web.db, web.workspace_id, version_id)
    job = service.activate_version(web.db, web.workspace_id, version_id)
    return _after_job(request, job, f"Version {version.version} is now active. Rescoring every lead with it…")


@router.post("/model/rollback")
def rollback(request: Request, web: WebDep) -> Response:
    web.principal.require_write()
    try:
        job = service.rollback(web.db, web.workspace_id)
    except InvalidInput as exc:
        flash(request, exc.message[0].upper() + exc.message[1:], "error")
        return RedirectResponse("/model", status_code=303)
    active = service.active_version(web.db, web.workspace_id)
    label = f"version {active.version}" if active else "the previous version"
    return _after_job(request, job, f"Rolled back to {label}. Rescoring every lead with it…")
