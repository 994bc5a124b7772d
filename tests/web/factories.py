"""Leads and model versions written straight to the database, so page tests do not depend
on training a model (the scoring engine has its own tests)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from leadrank.db import session_scope
from leadrank.models import Activity, Lead, ModelVersion, ScoreHistory, Workspace


def explanation(score: float, base: float, parts: list[tuple[str, str, float]], next_action: str | None = None) -> dict:
    """An explanation in the engine's shape whose points add up to ``score``."""
    contributions = [{"group": g, "feature": g, "label": label, "value": None, "points": pts}
                     for g, label, pts in parts]
    assert abs(base + sum(pts for *_, pts in parts) - score) < 1e-9
    up = [f"{c['label']}: +{c['points']:.0f}" for c in sorted(contributions, key=lambda c: -c["points"])
          if c["points"] > 0]
    down = [f"{c['label']}: \u2212{-c['points']:.0f}" for c in sorted(contributions, key=lambda c: c["points"])
            if c["points"] < 0]
    return {"score": score, "probability": score / 100, "base_points": base, "contributions": contributions,
            "reasons_up": up, "reasons_down": down, "next_action": next_action}


def add_lead(workspace_id: uuid.UUID, email: str, *, score: float | None = None, grade: str | None = None,
             explanation_: dict | None = None, grade_override: str | None = None, **fields: object) -> uuid.UUID:
    now = datetime.now(UTC)
    with session_scope() as session:
        lead = Lead(workspace_id=workspace_id, dedupe_key=f"email:{email}", content_hash=uuid.uuid4().hex,
                    email=email, custom=fields.pop("custom", {}), consent={}, outcome=fields.pop("outcome", "open"),
                    score=score, sort_score=score if score is not None else -1.0,
                    conversion_probability=None if score is None else score / 100, grade=grade,
                    score_kind="model" if score is not None else None, scored_at=now if score is not None else None,
                    grade_override=grade_override,
                    created_at=fields.pop("created_at", now), updated_at=now, **fields)
        lead.explanation = explanation_  # after scored_at: it belongs to that scoring
        session.add(lead)
        session.flush()
        if score is not None:
            session.add(ScoreHistory(workspace_id=workspace_id, lead_id=lead.id, probability=score / 100,
                                     score=score - 5, grade=grade, score_kind="model",
                                     scored_at=now - timedelta(days=3)))
            session.add(ScoreHistory(workspace_id=workspace_id, lead_id=lead.id, probability=score / 100,
                                     score=score, grade=grade, score_kind="model", scored_at=now))
        return lead.id


def add_activity(workspace_id: uuid.UUID, lead_id: uuid.UUID, kind: str, days_ago: int, description: str) -> None:
    with session_scope() as session:
        session.add(Activity(workspace_id=workspace_id, lead_id=lead_id, activity_type=kind,
                             activity_date=datetime.now(UTC) - timedelta(days=days_ago), description=description,
                             source="test", dedupe_key=uuid.uuid4().hex))


REPORT = {
    "roc_auc": 0.842, "pr_auc": 0.61, "brier": 0.121, "log_loss": 0.39, "base_rate": 0.18, "ece": 0.021,
    "capture_at_10": 0.38, "capture_at_20": 0.61, "lift_at_10": 3.8, "lift_at_20": 3.05, "n_train": 2400,
    "n_holdout": 600, "algorithm": "lightgbm",
    "evaluation": {"method": "time_holdout", "n_train": 2400, "n_holdout": 600,
                   "train_created_to": "2026-01-31T00:00:00+00:00",
                   "holdout_created_from": "2026-02-01T00:00:00+00:00",
                   "holdout_created_to": "2026-03-31T00:00:00+00:00"},
    "calibration": [{"bin": i + 1, "count": 60, "mean_predicted": p, "observed_rate": o}
                    for i, (p, o) in enumerate([(0.02, 0.017), (0.04, 0.05), (0.06, 0.067), (0.08, 0.083),
                                                (0.11, 0.1), (0.14, 0.15), (0.18, 0.2), (0.24, 0.22),
                                                (0.33, 0.35), (0.6, 0.58)])],
    "score_bands": [{"grade": "A", "count": 60, "share": 0.1, "conversion_rate": 0.58, "mean_score": 60},
                    {"grade": "B", "count": 120, "share": 0.2, "conversion_rate": 0.3, "mean_score": 28},
                    {"grade": "C", "count": 180, "share": 0.3, "conversion_rate": 0.12, "mean_score": 13},
                    {"grade": "D", "count": 240, "share": 0.4, "conversion_rate": 0.04, "mean_score": 4}],
    "alternatives": {"lightgbm": {"roc_auc": 0.842, "pr_auc": 0.61, "brier": 0.121, "capture_at_20": 0.61},
                     "logistic_regression": {"roc_auc": 0.821, "pr_auc": 0.57, "brier": 0.125,
                                             "capture_at_20": 0.57}},
    "baselines": {"base_rate": {"roc_auc": 0.5, "brier": 0.148, "capture_at_20": 0.2},
                  "best_single_feature": {"column": "job_title", "roc_auc": 0.71, "capture_at_20": 0.41}},
    "leakage": {"flagged": [{"column": "deal_stage", "rule": "too_predictive", "excluded": True,
                             "reason": "predicts the outcome with AUC 0.99 on its own"}],
                "excluded_columns": ["deal_stage"]},
    "selection": {"chosen": "lightgbm", "reason": "LightGBM ranked better on the same five folds"},
    "grade_thresholds": {"A": 40.0, "B": 20.0, "C": 8.0},
}
FEATURES = [
    {"name": "job_title", "group": "job_title", "category": "fit", "importance": 0.9, "share": 0.3},
    {"name": "activities.demo_request", "group": "activities.demo_request", "category": "engagement",
     "importance": 0.6, "share": 0.2},
    {"name": "industry", "group": "industry", "category": "fit", "importance": 0.45, "share": 0.15},
    {"name": "engagement", "group": "engagement", "category": "engagement", "importance": 0.45, "share": 0.15},
    {"name": "custom.budget_band", "group": "custom.budget_band", "category": "custom", "importance": 0.6,
     "share": 0.2},
]


def add_model_version(workspace_id: uuid.UUID, version: int, *, active: bool, report: dict | None = None) -> uuid.UUID:
    with session_scope() as session:
        mv = ModelVersion(workspace_id=workspace_id, version=version, status="active" if active else "archived",
                          algorithm="lightgbm", params={}, report=report if report is not None else REPORT,
                          features=FEATURES, data_summary={}, artefact="")
        session.add(mv)
        session.flush()
        if active:
            ws = session.get(Workspace, workspace_id)
            ws.active_model_version_id = mv.id
            history = list((ws.settings or {}).get("activation_history", []))
            ws.settings = {**(ws.settings or {}), "activation_history": [*history, str(mv.id)]}
        return mv.id
