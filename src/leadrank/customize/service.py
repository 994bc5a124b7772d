"""Customizable scoring: configurations (save, history, compare, roll back), the what-if,
rescoring from stored contributions, and human overrides. Never commits: the request or the
job owns the transaction.

The what-if works on two caches:

* the active model version's **holdout** (stored at training time in ``scoring_holdouts``,
  recomputed from the model artefact if it is missing) for ROC AUC, capture@20%, Brier, ECE;
* the workspace's **per-lead contributions** (the raw model block of every stored explanation,
  the fields rules look at, the activities before each lead's scoring time) in a NumPy file
  under the data directory, keyed by model version, rebuilt from the database when the
  contributions changed (``scoring_state.stamp``) or leads were added or deleted.

Saving a configuration and the rescoring job read the very same inputs through the very same
engine, so the figures the what-if shows are the figures measured after saving.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from leadrank.config import get_settings
from leadrank.customize import engine as E
from leadrank.customize.hooks import active_config, from_npz, store_holdout
from leadrank.customize.repository import OVERRIDE_OUTCOMES, CustomizeRepository
from leadrank.errors import InvalidInput, NotFound
from leadrank.jobs.service import create_job
from leadrank.models import Job, LeadOverride, ModelVersion, ScoringConfigVersion
from leadrank.models.base import utcnow
from leadrank.scoring import service as scoring

TOP_SHARE = 0.2
OVERRIDE_GRADES = ("A", "B", "C", "D", E.EXCLUDED_GRADE)
SCORE_DIGITS = 4  # scores are stored rounded like scoring.service.score_chunk does
RESCORE_CHUNK = 20_000
COLD_START_POINTS = (
    ("icp_criteria", "fit"), ("seniority", "fit"), ("source", "fit"), ("contactability", "fit"),
    ("icp_description_similarity", "similarity"), ("example_similarity", "similarity"),
    ("engagement", "engagement"), ("quiet", "engagement"),
)


# --------------------------------------------------------------------------- caches

@dataclass
class Batch:
    """Leads with their contributions, rule fields and activities (what the engine needs)."""

    ids: np.ndarray  # str
    contrib: E.Contributions
    attrs: E.LeadAttributes
    acts: E.ActivityLog

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Holdout(Batch):
    y: np.ndarray = None  # type: ignore[assignment]
    method: str = ""


_memory: OrderedDict[tuple, tuple[tuple, Batch]] = OrderedDict()
_memory_lock = threading.Lock()


def _remember(key: tuple, stamp: tuple, value: Batch) -> None:
    with _memory_lock:
        _memory[key] = (stamp, value)
        _memory.move_to_end(key)
        while len(_memory) > 6:
            _memory.popitem(last=False)


def _recall(key: tuple, stamp: tuple) -> Batch | None:
    with _memory_lock:
        hit = _memory.get(key)
        if hit is not None and hit[0] == stamp:
            _memory.move_to_end(key)
            return hit[1]
    return None


def _cache_path(workspace_id: uuid.UUID, version_id: uuid.UUID | None) -> Path:
    return get_settings().data_dir / "customize" / str(workspace_id) / f"{version_id or 'cold_start'}.npz"


def _batch_arrays(b: Batch) -> dict[str, np.ndarray]:
    return {"ids": b.ids.astype(str), "names": np.array(b.contrib.names, dtype=str),
            "categories": np.array(b.contrib.categories, dtype=str), "phi": b.contrib.log_odds,
            "base": b.contrib.base_logit, "act_lead": b.acts.lead_index, "act_type": b.acts.type_code,
            "act_age": b.acts.age_days, **b.attrs.arrays("attr_")}


def _batch_from_arrays(a: dict[str, np.ndarray]) -> Batch:
    n = len(a["ids"])
    return Batch(ids=a["ids"], contrib=E.Contributions(a["names"].tolist(), a["categories"].tolist(), a["phi"],
                                                        a["base"]),
                 attrs=E.LeadAttributes.from_arrays(a, "attr_"),
                 acts=E.ActivityLog(a["act_lead"], a["act_type"], a["act_age"], n))


def build_batch(rows: pd.DataFrame, activities: pd.DataFrame | None, explanations: list[dict] | None = None
                ) -> Batch:
    """Rows: id, raw (the explanation's model block) or explanation, scored_at and rule fields."""
    ids = np.array([str(i) for i in rows["id"]], dtype=str) if len(rows) else np.array([], dtype=str)
    if explanations is None:
        explanations = [{"model": r} if isinstance(r, dict) else {} for r in rows["raw"]] if len(rows) else []
    contrib = E.contributions_from_explanations(explanations)
    ref = np.array([pd.Timestamp(t).value if t is not None else 0 for t in rows["scored_at"]], dtype=np.int64) \
        if len(rows) else np.zeros(0, np.int64)
    acts = E.ActivityLog.from_frame(activities, ids.tolist(), ref)
    attrs = E.LeadAttributes.from_frame(rows)
    return Batch(ids=ids, contrib=contrib, attrs=attrs, acts=acts)


def workspace_batch(session: Session, workspace_id: uuid.UUID, version_id: uuid.UUID | None) -> Batch:
    """Every lead scored by this model version, from memory, the data directory, or the database."""
    repo = CustomizeRepository(session)
    stamp = (repo.stamp(workspace_id), repo.lead_count(workspace_id))
    key = ("ws", workspace_id, version_id)
    hit = _recall(key, stamp)
    if hit is not None:
        return hit
    path = _cache_path(workspace_id, version_id)
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            if tuple(arrays["stamp"].tolist()) == (stamp[0], str(stamp[1])):
                batch = _batch_from_arrays(arrays)
                _remember(key, stamp, batch)
                return batch
        except (OSError, ValueError, KeyError):
            pass
    rows = repo.scored_rows(workspace_id, version_id)
    missing = [i for i, r in enumerate(rows["raw"]) if not isinstance(r, dict)] if len(rows) else []
    explanations = None
    if missing:  # scored before raw blocks were stored: read the whole explanation
        full = repo.explanations(workspace_id, [rows["id"].iat[i] for i in missing])
        explanations = [{"model": r} if isinstance(r, dict) else full.get(lid, {})
                        for lid, r in zip(rows["id"], rows["raw"], strict=True)]
    acts = repo.activities(workspace_id)
    batch = build_batch(rows, acts, explanations)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{uuid.uuid4().hex[:8]}.tmp.npz")
    np.savez(tmp, stamp=np.array([stamp[0], str(stamp[1])], dtype=str), **_batch_arrays(batch))
    tmp.replace(path)
    _remember(key, stamp, batch)
    return batch


def holdout_batch(session: Session, workspace_id: uuid.UUID, version: ModelVersion) -> Holdout | None:
    key = ("ho", version.id)
    hit = _recall(key, ())
    if hit is not None:
        return hit  # type: ignore[return-value]
    repo = CustomizeRepository(session)
    stored = repo.holdout(version.id)
    if stored is None:
        if not version.artefact:
            return None
        stored_n = rebuild_holdout(session, workspace_id, version)
        if stored_n is None:
            return None
        stored = repo.holdout(version.id)
    a = from_npz(stored.data)
    n = len(a["y"])
    phi = a["phi"]
    groups = a["groups"].tolist()
    contrib = E.Contributions.from_model(groups, phi, float(a["base_logit"][0]))
    ho = Holdout(ids=a["lead_ids"], contrib=contrib, attrs=E.LeadAttributes.from_arrays(a, "attr_"),
                 acts=E.ActivityLog(a["act_lead"], a["act_type"], a["act_age"], n), y=a["y"].astype(np.int64),
                 method=stored.method)
    _remember(key, (), ho)
    return ho


def rebuild_holdout(session: Session, workspace_id: uuid.UUID, version: ModelVersion) -> int | None:
    """Recompute a version's holdout from its stored artefact on the leads it was trained on
    (labelled leads created before it was trained)."""
    from leadrank.customize.hooks import with_override_labels
    from leadrank.scoring.repository import ScoringRepository

    srepo = ScoringRepository(session)
    leads = srepo.load_leads(workspace_id, labelled_only=True)
    trained_at = (version.data_summary or {}).get("trained_at")
    if trained_at and "created_at" in leads.columns and len(leads):
        leads = leads[pd.to_datetime(leads["created_at"], utc=True) <= pd.Timestamp(trained_at)]
    leads, _ = with_override_labels(session, workspace_id, leads,
                                    lambda ids: srepo.load_leads(workspace_id, lead_ids=ids))
    if leads.empty:
        return None
    activities = srepo.load_activities(workspace_id, lead_ids=[uuid.UUID(i) for i in leads["lead_id"]])
    try:
        return store_holdout(session, workspace_id, version.id, scoring.load_model(version), leads, activities,
                             as_of=trained_at)
    except Exception:  # noqa: BLE001 - too few rows etc.: the what-if then says it has no holdout
        return None


def model_bands(session: Session, workspace_id: uuid.UUID, version: ModelVersion | None) -> dict[str, float] | None:
    """The bands "model" mode grades with: the workspace's fixed bands, else the model's own."""
    configured = scoring.grade_bands(session, workspace_id)
    if configured:
        return dict(configured)
    if version is None:
        return None
    t = scoring.load_model(version).grade_thresholds
    return {"A": t["A"], "B": t["B"], "C": t["C"], "D": 0.0}


# --------------------------------------------------------------------------- figures

def _evaluate(config: E.ScoringConfig, batch: Batch, bands: dict[str, float] | None,
              resolved: dict[str, float] | None = None) -> E.Result:
    return E.apply(config, batch.contrib, batch.attrs, batch.acts, model_bands=bands, resolved_bands=resolved)


def _rounded(score: np.ndarray) -> np.ndarray:
    return np.round(score, SCORE_DIGITS)


def measure(session: Session, workspace_id: uuid.UUID, config: E.ScoringConfig,
            current: E.ScoringConfig | None = None, current_resolved: dict | None = None) -> dict[str, Any]:
    """What a configuration does, beside ``current`` (default: the active configuration)."""
    t0 = time.perf_counter()
    row, active = active_config(session, workspace_id)
    if current is None:
        current, current_resolved = active, (row.resolved_bands if row else None)
    version = scoring.active_version(session, workspace_id)
    bands = model_bands(session, workspace_id, version)
    out: dict[str, Any] = {"model_version": version.version if version else None,
                           "model_version_id": str(version.id) if version else None,
                           "score_kind": "model" if version else "cold_start",
                           "active_config_version": row.version if row else None}
    ho = holdout_batch(session, workspace_id, version) if version is not None else None
    if ho is not None and len(ho):
        before = E.holdout_metrics(ho.y, _evaluate(current, ho, bands, None).probability)
        after = E.holdout_metrics(ho.y, _evaluate(config, ho, bands, None).probability)
        out["holdout"] = {"method": ho.method, "n": int(len(ho)), "positives": int(ho.y.sum()),
                          "current": before, "proposed": after, "change": E.metric_deltas(before, after)}
    else:
        out["holdout"] = None
    ws = workspace_batch(session, workspace_id, version.id if version else None)
    n = len(ws)
    res_now = _evaluate(current, ws, bands, current_resolved)
    res_new = _evaluate(config, ws, bands, None)
    key = np.arange(n)
    top_now = set(E.top_set(_rounded(res_now.score), key, TOP_SHARE).tolist())
    top_new = set(E.top_set(_rounded(res_new.score), key, TOP_SHARE).tolist())
    rule_hits = {}
    for r in config.rules:
        if r.enabled:
            rule_hits[r.id] = int(E.rule_matches(r, ws.attrs, ws.acts).sum())
    grades_now = pd.Series(res_now.grade).value_counts().to_dict() if n else {}
    grades_new = pd.Series(res_new.grade).value_counts().to_dict() if n else {}
    out["workspace"] = {
        "n_leads": n, "top_share": TOP_SHARE, "top_n": int(math.ceil(n * TOP_SHARE)) if n else 0,
        "entering_top": len(top_new - top_now), "leaving_top": len(top_now - top_new),
        "excluded": int((res_new.excluded_by != None).sum()),  # noqa: E711
        "rule_matches": rule_hits,
        "grades_current": {str(k): int(v) for k, v in grades_now.items()},
        "grades_proposed": {str(k): int(v) for k, v in grades_new.items()},
        "mean_score_current": float(res_now.score.mean()) if n else None,
        "mean_score_proposed": float(res_new.score.mean()) if n else None,
        "bands_proposed": res_new.bands,
    }
    out["seconds"] = time.perf_counter() - t0
    return out


def what_if(session: Session, workspace_id: uuid.UUID, config: E.ScoringConfig) -> dict[str, Any]:
    return measure(session, workspace_id, config)


def measured(session: Session, workspace_id: uuid.UUID) -> dict[str, Any] | None:
    """The active configuration measured now on the active model's holdout."""
    row, config = active_config(session, workspace_id)
    version = scoring.active_version(session, workspace_id)
    if version is None:
        return None
    ho = holdout_batch(session, workspace_id, version)
    if ho is None or not len(ho):
        return None
    res = _evaluate(config, ho, model_bands(session, workspace_id, version))
    return {"method": ho.method, "n": int(len(ho)), **E.holdout_metrics(ho.y, res.probability)}


# --------------------------------------------------------------------------- configurations

def config_view(row: ScoringConfigVersion | None, config: E.ScoringConfig | None = None) -> dict[str, Any]:
    cfg = config or (E.ScoringConfig.model_validate(row.config) if row else E.ScoringConfig())
    if row is None:
        return {"config_id": None, "version": None, "status": "default", "config": cfg.model_dump(mode="json"),
                "figures": None, "note": None, "created_at": None, "activated_at": None,
                "rules": [{"id": r.id, "name": r.name, "description": r.describe()} for r in cfg.rules]}
    return {"config_id": str(row.id), "version": row.version, "status": row.status,
            "config": cfg.model_dump(mode="json"), "figures": row.figures, "note": row.note,
            "resolved_bands": row.resolved_bands,
            "model_version_id": str(row.model_version_id) if row.model_version_id else None,
            "created_at": row.created_at.isoformat() if row.created_at else None,
            "activated_at": row.activated_at.isoformat() if row.activated_at else None,
            "rules": [{"id": r.id, "name": r.name, "description": r.describe()} for r in cfg.rules]}


def get_config(session: Session, workspace_id: uuid.UUID) -> dict[str, Any]:
    row, config = active_config(session, workspace_id)
    view = config_view(row, config)
    view["data_points"] = data_points(session, workspace_id)
    view["measured"] = measured(session, workspace_id)
    return view


def data_points(session: Session, workspace_id: uuid.UUID) -> list[dict[str, Any]]:
    """The data points a weight can be set on, with their sub-score and importance."""
    version = scoring.active_version(session, workspace_id)
    if version is None:
        return [{"name": n, "group": n, "category": c, "importance": None, "share": None}
                for n, c in COLD_START_POINTS]
    rows = []
    for f in version.features or []:
        g = str(f.get("group") or f.get("name"))
        rows.append({"name": g, "group": g, "category": E.subscore_of(g, f.get("category")),
                     "importance": f.get("importance"), "share": f.get("share")})
    return rows


def list_configs(session: Session, workspace_id: uuid.UUID) -> list[ScoringConfigVersion]:
    return CustomizeRepository(session).configs(workspace_id)


def get_config_version(session: Session, workspace_id: uuid.UUID, config_id: uuid.UUID) -> ScoringConfigVersion:
    row = CustomizeRepository(session).config(workspace_id, config_id)
    if row is None:
        raise NotFound(f"scoring configuration {config_id} not found")
    return row


def save_config(session: Session, workspace_id: uuid.UUID, config: E.ScoringConfig, *,
                user_id: uuid.UUID | None = None, note: str | None = None) -> tuple[ScoringConfigVersion, Job]:
    """Store a new configuration version, make it the active one and rescore the workspace."""
    config = config.normalised()
    figures = measure(session, workspace_id, config)
    repo = CustomizeRepository(session)
    version = scoring.active_version(session, workspace_id)
    row = ScoringConfigVersion(workspace_id=workspace_id, version=repo.next_config_version(workspace_id),
                               status="archived", config=config.model_dump(mode="json"),
                               figures=_json_figures(figures), model_version_id=version.id if version else None,
                               note=(note or "").strip()[:500] or None, created_by=user_id)
    session.add(row)
    session.flush()
    return row, _activate(session, workspace_id, row)


def activate_config(session: Session, workspace_id: uuid.UUID, config_id: uuid.UUID) -> tuple[ScoringConfigVersion, Job]:
    """Roll back (or forward) to a saved configuration and rescore."""
    row = get_config_version(session, workspace_id, config_id)
    return row, _activate(session, workspace_id, row)


def reset_config(session: Session, workspace_id: uuid.UUID, *, user_id: uuid.UUID | None = None
                 ) -> tuple[ScoringConfigVersion, Job]:
    return save_config(session, workspace_id, E.ScoringConfig(), user_id=user_id, note="Back to the model as trained")


def _activate(session: Session, workspace_id: uuid.UUID, row: ScoringConfigVersion) -> Job:
    repo = CustomizeRepository(session)
    repo.archive_configs(workspace_id)
    row.status = "active"
    row.activated_at = utcnow()
    row.resolved_bands = None
    session.flush()
    return create_job(session, workspace_id, "customize.rescore", {"config_id": str(row.id)})


def compare(session: Session, workspace_id: uuid.UUID, a: uuid.UUID, b: uuid.UUID) -> dict[str, Any]:
    ra, rb = get_config_version(session, workspace_id, a), get_config_version(session, workspace_id, b)
    ca, cb = E.ScoringConfig.model_validate(ra.config), E.ScoringConfig.model_validate(rb.config)
    figures = measure(session, workspace_id, cb, current=ca)
    keys = sorted(set(ca.weights) | set(cb.weights))
    cats = sorted(set(ca.category_weights) | set(cb.category_weights))
    return {
        "a": config_view(ra, ca), "b": config_view(rb, cb),
        "weights": [{"name": k, "a": ca.weights.get(k, 1.0), "b": cb.weights.get(k, 1.0)} for k in keys
                    if ca.weights.get(k, 1.0) != cb.weights.get(k, 1.0)],
        "category_weights": [{"name": k, "a": ca.category_weights.get(k, 1.0), "b": cb.category_weights.get(k, 1.0)}
                             for k in cats if ca.category_weights.get(k, 1.0) != cb.category_weights.get(k, 1.0)],
        "rules_only_in_a": [r.name for r in ca.rules if r.id not in {x.id for x in cb.rules}],
        "rules_only_in_b": [r.name for r in cb.rules if r.id not in {x.id for x in ca.rules}],
        "rules_changed": [r.name for r in cb.rules for x in ca.rules if r.id == x.id and r != x],
        "bands": {"a": ca.bands.model_dump(), "b": cb.bands.model_dump()},
        "decay": {"a": ca.decay.model_dump(), "b": cb.decay.model_dump()},
        "figures_b_vs_a": figures,
    }


def _json_figures(figures: dict[str, Any]) -> dict[str, Any]:
    from leadrank.ml.metrics import clean_for_json

    return clean_for_json(figures)


# --------------------------------------------------------------------------- rescoring job

def plan_rescore(session: Session, workspace_id: uuid.UUID, config_id: uuid.UUID) -> dict[str, Any]:
    """Fix the relative bands over the whole workspace; return id ranges to rescore."""
    row = get_config_version(session, workspace_id, config_id)
    config = E.ScoringConfig.model_validate(row.config)
    version = scoring.active_version(session, workspace_id)
    if config.bands.mode == "relative":
        ws = workspace_batch(session, workspace_id, version.id if version else None)
        res = _evaluate(config, ws, model_bands(session, workspace_id, version))
        row.resolved_bands = res.bands
    ids = CustomizeRepository(session).scored_lead_ids(workspace_id)
    return {"ids": ids, "resolved_bands": row.resolved_bands}


def rescore_chunk(session: Session, workspace_id: uuid.UUID, config_id: uuid.UUID, lead_ids: list[uuid.UUID],
                  resolved_bands: dict | None) -> int:
    """Apply a configuration to stored contributions (no model run) and write the results."""
    row = get_config_version(session, workspace_id, config_id)
    config = E.ScoringConfig.model_validate(row.config)
    repo = CustomizeRepository(session)
    rows = repo.rescore_rows(workspace_id, lead_ids)
    if len(rows):
        # Leads whose reasons are still being written have no contributions to apply the
        # configuration to yet; the reasons pass applies it when it writes them.
        rows = rows[[e is not None for e in rows["explanation"]]].reset_index(drop=True)
    if rows.empty:
        return 0
    explanations = list(rows["explanation"])
    acts = repo.activities(workspace_id, list(rows["id"])) if config.needs_activities() else None
    batch = build_batch(rows, acts, [e or {} for e in explanations])
    version = scoring.active_version(session, workspace_id)
    res = _evaluate(config, batch, model_bands(session, workspace_id, version), resolved_bands)
    out = []
    identity = config.is_identity()
    lead_ids, versions, kinds = rows["id"].tolist(), rows["model_version_id"].tolist(), rows["score_kind"].tolist()
    scored_at = list(rows["scored_at"])
    for i in range(len(rows)):
        vid = versions[i]
        exp = E.explanation_for(res, i, explanations[i], config_version=None if identity else row.version,
                                config_id=None if identity else str(row.id),
                                model_version_id=str(vid) if vid else None)
        grade = exp["grade"] or (explanations[i] or {}).get("grade")
        exp["grade"] = grade
        if identity:
            for k in ("config_version", "config_id", "subscores", "combination", "excluded_by"):
                exp.pop(k, None)
        out.append({"id": lead_ids[i], "score": round(float(res.score[i]), SCORE_DIGITS),
                    "conversion_probability": float(res.probability[i]), "grade": grade, "explanation": exp,
                    "model_version_id": vid, "score_kind": kinds[i], "scored_at": scored_at[i]})
    repo.write_rescored(workspace_id, out, when=utcnow())
    return len(out)


def request_rescore(session: Session, workspace_id: uuid.UUID) -> Job:
    row = CustomizeRepository(session).active_config(workspace_id)
    if row is None:
        raise InvalidInput("there is no saved scoring configuration to apply")
    return create_job(session, workspace_id, "customize.rescore", {"config_id": str(row.id)})


# --------------------------------------------------------------------------- overrides

def set_override(session: Session, workspace_id: uuid.UUID, lead_id: uuid.UUID, *, grade: str, reason: str,
                 label: str | None = None, user_id: uuid.UUID | None = None) -> LeadOverride:
    """A rep's grade with a reason. The model's score and grade are never touched; a label
    that is an outcome ("junk") becomes a training label for the next model."""
    grade = (grade or "").strip().upper()
    if grade not in OVERRIDE_GRADES:
        raise InvalidInput(f"grade must be one of {', '.join(OVERRIDE_GRADES)}")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("say why you override the grade (the reason is shown to your team)")
    if label is not None and label not in OVERRIDE_OUTCOMES:
        raise InvalidInput(f"label must be one of {', '.join(OVERRIDE_OUTCOMES)} (or left out)")
    repo = CustomizeRepository(session)
    lead = repo.lead(workspace_id, lead_id)
    if lead is None:
        raise NotFound(f"lead {lead_id} not found")
    previous = repo.open_override(workspace_id, lead_id)
    now = utcnow()
    if previous is not None:
        previous.cleared_at = now
    override = LeadOverride(workspace_id=workspace_id, lead_id=lead_id, grade=grade, reason=reason[:1000],
                            label=label, created_by=user_id, created_at=now)
    repo.add_override(override)
    lead.grade_override = grade
    lead.override_reason = reason[:1000]
    return override


def clear_override(session: Session, workspace_id: uuid.UUID, lead_id: uuid.UUID) -> None:
    repo = CustomizeRepository(session)
    lead = repo.lead(workspace_id, lead_id)
    if lead is None:
        raise NotFound(f"lead {lead_id} not found")
    previous = repo.open_override(workspace_id, lead_id)
    if previous is not None:
        previous.cleared_at = utcnow()
    lead.grade_override = None
    lead.override_reason = None


def override_history(session: Session, workspace_id: uuid.UUID, lead_id: uuid.UUID) -> list[dict[str, Any]]:
    return [{"grade": o.grade, "reason": o.reason, "label": o.label, "created_at": o.created_at.isoformat(),
             "cleared_at": o.cleared_at.isoformat() if o.cleared_at else None,
             "created_by": str(o.created_by) if o.created_by else None}
            for o in CustomizeRepository(session).override_history(workspace_id, lead_id)]


def when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
