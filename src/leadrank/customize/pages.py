"""The customization panel (/customize): sliders per data point and per sub-score with live
what-if figures, decay per activity type, the rule editor, grade bands, and the history of
configurations with compare and rollback. One form: it saves without JavaScript; with it,
every change is measured as you go (customize.js posts the same form to /customize/what-if)."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from leadrank.customize import engine as E
from leadrank.customize import service
from leadrank.errors import InvalidInput
from leadrank.jobs.repository import JobRepository
from leadrank.ml.features import ACTIVITY_TYPES
from leadrank.web.csrf import require_csrf
from leadrank.web.model_view import group_label
from leadrank.web.session import WebDep
from leadrank.web.templating import flash, render

router = APIRouter(dependencies=[Depends(require_csrf)])
SUBSCORE_LABELS = {"fit": "Fit — who the lead is", "engagement": "Engagement — what the lead did",
                   "similarity": "Similarity — how close to your ideal customers"}
CONDITION_LABELS = {
    "industry_in": "Industry is one of", "size_between": "Company size between", "title_contains": "Job title contains",
    "source_is": "Lead source is", "activity_within": "Activity in the last N days",
    "domain_in": "Email / website domain is", "is_student": "Title says student or intern",
    "is_free_mail": "Free-mail address (gmail, outlook…)",
}
COLD_LABELS = {"icp_criteria": "Ideal-customer criteria", "seniority": "Seniority", "source": "Lead source intent",
               "contactability": "Contact details", "icp_description_similarity": "Similarity to the ICP description",
               "example_similarity": "Similarity to example customers", "engagement": "Recent engagement",
               "quiet": "Gone quiet"}
RULE_FIELD = re.compile(r"^rule-(\d+|new)-(\w+)$")


def _label(name: str) -> str:
    return COLD_LABELS.get(name) or group_label(name)


def _float(form: FormData, key: str, default: float | None = None) -> float | None:
    raw = form.get(key)
    if raw is None or str(raw).strip() == "":
        return default
    try:
        return float(str(raw).replace(",", "."))
    except ValueError:
        raise InvalidInput(f"{key}: {raw!r} is not a number") from None


def config_from_form(form: FormData) -> E.ScoringConfig:
    """The panel's form → a configuration (the one parser for saving and for the what-if)."""
    weights = {k[2:]: _float(form, k, 1.0) for k in form if k.startswith("w:")}
    cats = {k[2:]: _float(form, k, 1.0) for k in form if k.startswith("c:")}
    points = {k[len("decay_points:"):]: _float(form, k, 0.0) for k in form if k.startswith("decay_points:")}
    half = {k[len("decay_half_life:"):]: _float(form, k) for k in form if k.startswith("decay_half_life:")}
    rules_raw: dict[str, dict[str, Any]] = {}
    for k in form:
        m = RULE_FIELD.match(k)
        if m:
            rules_raw.setdefault(m.group(1), {})[m.group(2)] = form.get(k)
    rules = []
    order = sorted((k for k in rules_raw if k != "new"), key=int) + (["new"] if "new" in rules_raw else [])
    for key in order:
        r = rules_raw[key]
        name = str(r.get("name") or "").strip()
        if not name or r.get("delete"):
            continue
        cond: dict[str, Any] = {"type": r.get("cond") or "industry_in"}
        values = [v.strip() for v in str(r.get("values") or "").split(",") if v.strip()]
        if cond["type"] in ("industry_in", "title_contains", "source_is", "domain_in"):
            cond["values"] = values
        elif cond["type"] == "size_between":
            cond["min"], cond["max"] = _float(form, f"rule-{key}-min"), _float(form, f"rule-{key}-max")
        elif cond["type"] == "activity_within":
            cond["activity_type"], cond["days"] = r.get("activity_type") or "demo_request", _float(form, f"rule-{key}-days")
        extra = json.loads(str(r.get("extra") or "[]"))
        kind = "exclude" if r.get("kind") == "exclude" else "boost"
        rid = str(r.get("id") or "").strip() or re.sub(r"[^A-Za-z0-9_-]+", "-", name.lower()).strip("-")[:30] \
            or uuid.uuid4().hex[:8]
        rules.append({"id": rid, "name": name, "kind": kind,
                      "log_odds": 0.0 if kind == "exclude" else _float(form, f"rule-{key}-strength", 0.0),
                      "conditions": [cond, *extra], "enabled": key == "new" or bool(r.get("enabled"))})
    ids = [r["id"] for r in rules]
    for i, r in enumerate(rules):  # a new rule named like an old one gets its own id
        if ids.count(r["id"]) > 1 and i == len(rules) - 1:
            r["id"] = f"{r['id'][:30]}-{uuid.uuid4().hex[:6]}"
    bands = {"mode": form.get("bands_mode") or "model",
             "fixed": {g: _float(form, f"band_fixed_{g}", d) for g, d in (("A", 50.0), ("B", 25.0), ("C", 10.0))},
             "relative": {g: _float(form, f"band_rel_{g}", d) for g, d in (("A", 10.0), ("B", 20.0), ("C", 30.0))}}
    try:
        return E.ScoringConfig.model_validate({
            "weights": weights, "category_weights": cats, "rules": rules,
            "decay": {"points": {t: p for t, p in points.items() if p}, "half_life_days": {t: h for t, h in half.items() if h}},
            "bands": bands})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise InvalidInput(f"this configuration is not valid: {problems}") from None


def _panel(web: Any) -> dict[str, Any]:
    db, ws = web.db, web.workspace_id
    view = service.get_config(db, ws)
    config = E.ScoringConfig.model_validate(view["config"])
    groups: dict[str, list[dict]] = {c: [] for c in E.SUBSCORES}
    total = sum(abs(float(p.get("importance") or 0)) for p in view["data_points"]) or 1.0
    for p in view["data_points"]:
        share = p.get("share")
        share = float(share) if isinstance(share, (int, float)) else abs(float(p.get("importance") or 0)) / total
        groups[p["category"]].append({**p, "label": _label(p["name"]), "share": share,
                                      "weight": config.weights.get(p["name"], 1.0)})
    for items in groups.values():
        items.sort(key=lambda x: -x["share"])
    rules = []
    for r in config.rules:
        first, extra = r.conditions[0], r.conditions[1:]
        rules.append({"rule": r, "cond": first, "extra": json.dumps([c.model_dump(exclude_none=True) for c in extra]),
                      "description": r.describe()})
    figures = service.measure(db, ws, config)
    history = service.list_configs(db, ws)
    return {"view": view, "config": config, "groups": groups, "rules": rules, "figures": figures,
            "history": history, "activity_types": ACTIVITY_TYPES, "activity_labels": E.ACTIVITY_LABELS,
            "subscore_labels": SUBSCORE_LABELS, "condition_labels": CONDITION_LABELS}


@router.get("/customize")
def panel(request: Request, web: WebDep, job: uuid.UUID | None = None) -> Response:
    watch = JobRepository(web.db).get(job, web.workspace_id) if job else None
    return render(request, "customize/panel.html", web=web, active="customize", title="Customize scoring · leadrank",
                  watch=watch, **_panel(web))


@router.post("/customize")
async def save(request: Request, web: WebDep) -> Response:
    web.principal.require_write()
    form = await request.form()
    config = config_from_form(form)
    row, job = service.save_config(web.db, web.workspace_id, config, user_id=web.user.id,
                                   note=str(form.get("note") or "") or None)
    flash(request, f"Saved as configuration v{row.version}. Every lead is being rescored with it.", "success")
    return RedirectResponse(f"/customize?job={job.id}", status_code=303)


@router.post("/customize/what-if")
async def what_if(request: Request, web: WebDep) -> Response:
    form = await request.form()
    try:
        config = config_from_form(form)
    except InvalidInput as exc:
        return JSONResponse({"error": {"code": exc.code, "message": exc.message}}, status_code=422)
    return JSONResponse(service.what_if(web.db, web.workspace_id, config))


@router.post("/customize/configs/{config_id}/activate")
async def activate(config_id: uuid.UUID, request: Request, web: WebDep) -> Response:
    web.principal.require_write()
    row, job = service.activate_config(web.db, web.workspace_id, config_id)
    flash(request, f"Configuration v{row.version} is active again. Every lead is being rescored with it.", "success")
    return RedirectResponse(f"/customize?job={job.id}", status_code=303)


@router.get("/customize/compare")
def compare(request: Request, web: WebDep, a: uuid.UUID, b: uuid.UUID) -> Response:
    result = service.compare(web.db, web.workspace_id, a, b)
    return render(request, "customize/compare.html", web=web, active="customize",
                  title="Compare configurations · leadrank", c=result, label=_label)
