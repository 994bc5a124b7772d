"""What the scoring engine calls into customizable scoring (``scoring.service`` imports this
module; it imports nothing from ``scoring.service``, so the direction stays one way):

* :func:`configure_scores` — every time scores are written, apply the active configuration;
* :func:`store_holdout` — at training time, keep what the what-if measures on;
* :func:`with_override_labels` — overrides that are an outcome ("junk") label open leads for
  the next training run.
"""

from __future__ import annotations

import io
import uuid
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from leadrank.customize import engine as E
from leadrank.customize.repository import CustomizeRepository
from leadrank.models import ScoringConfigVersion, ScoringHoldout

CHUNK = 5000


def active_config(session: Session, workspace_id: uuid.UUID) -> tuple[ScoringConfigVersion | None, E.ScoringConfig]:
    row = CustomizeRepository(session).active_config(workspace_id)
    if row is None:
        return None, E.ScoringConfig()
    return row, E.ScoringConfig.model_validate(row.config)


def _ns(when: datetime | pd.Timestamp) -> int:
    t = pd.Timestamp(when)
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    return int(t.value)


def shapes_scores(session: Session, workspace_id: uuid.UUID) -> bool:
    """True when an active configuration changes scores (weights, rules, decay): then a score
    needs the model's contributions and is written together with its explanation."""
    row, config = active_config(session, workspace_id)
    return row is not None and not config.is_identity()


def scores_changed(session: Session, workspace_id: uuid.UUID) -> None:
    """Scores were written without going through :func:`configure_scores` (the fast first
    pass): what-if caches keyed on the workspace's contributions are stale."""
    CustomizeRepository(session).bump_stamp(workspace_id)


def configure_scores(session: Session, workspace_id: uuid.UUID, leads: pd.DataFrame, activities: pd.DataFrame | None,
                     explanations: list[dict], grades: list[Any], *, now: datetime,
                     model_bands: dict[str, float] | None, batch: Any = None,
                     model_version_id: uuid.UUID | None = None) -> tuple[list[dict], list[Any]]:
    """Explanations and grades under the workspace's active configuration.

    ``batch`` is the model's :class:`~leadrank.ml.explain.ExplanationBatch` (None for cold start).
    Without an active configuration the model's output is kept as it is, plus the raw block the
    what-if cache is rebuilt from. Marks the workspace's contributions as changed."""
    repo = CustomizeRepository(session)
    repo.bump_stamp(workspace_id)
    row, config = active_config(session, workspace_id)
    vid = str(model_version_id) if model_version_id else None
    if batch is not None:
        contrib = E.Contributions.from_model(batch.groups, batch.log_odds, batch.base_logit)
    else:
        contrib = E.contributions_from_explanations(explanations)
    if row is None or config.is_identity():
        if batch is not None:
            for i, exp in enumerate(explanations):
                exp["model"] = {"base_logit": float(contrib.base_logit[i]), "names": contrib.names,
                                "categories": contrib.categories,
                                "log_odds": [float(v) for v in contrib.log_odds[i]], "version": vid}
        return explanations, grades
    ids = leads["lead_id"].astype(str).tolist()
    attrs = E.LeadAttributes.from_frame(leads)
    acts = E.ActivityLog.from_frame(activities, ids, _ns(now))
    res = E.apply(config, contrib, attrs, acts, model_bands=model_bands, resolved_bands=row.resolved_bands)
    out_exp, out_grades = [], []
    for i, exp in enumerate(explanations):
        new = E.explanation_for(res, i, exp, config_version=row.version, config_id=str(row.id), model_version_id=vid)
        if new["grade"] is None:
            new["grade"] = grades[i]
        out_exp.append(new)
        out_grades.append(new["grade"])
    return out_exp, out_grades


# --------------------------------------------------------------------------- holdout

def epoch_ns(s: pd.Series) -> np.ndarray:
    d = pd.to_datetime(s, utc=True, errors="coerce")
    out = d.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    out[d.isna().to_numpy()] = np.iinfo(np.int64).min
    return out


def group_log_odds(model: Any, X: np.ndarray) -> tuple[np.ndarray, float]:
    """Calibrated per-group log-odds of a fitted ``TrainedModel`` (its exact explanation terms)."""
    a, b = model.calibration_["slope"], model.calibration_["intercept"]
    gi = {g: i for i, g in enumerate(model.groups_)}
    M = np.zeros((len(model.feature_names_), len(model.groups_)))
    for j, f in enumerate(model.feature_names_):
        M[j, gi[model.feature_groups_[f]]] = 1.0
    out = np.zeros((len(X), len(model.groups_)))
    base_raw = float(model.scorer_.base_margin) if len(X) == 0 else 0.0
    for s in range(0, len(X), CHUNK):
        phi, base_raw = model.scorer_.raw_contributions(X[s:s + CHUNK])
        out[s:s + CHUNK] = (phi * a) @ M
    return out, float(a * base_raw + b)


def compute_holdout(model: Any, leads: pd.DataFrame, activities: pd.DataFrame | None, as_of: Any = None
                    ) -> tuple[dict[str, np.ndarray], str]:
    """The holdout the what-if measures on, as arrays: the newest ``holdout_fraction`` of the
    labelled leads by created_at (the rows the model report's holdout is made of), scored with
    point-in-time features (activities before each lead's outcome)."""
    from leadrank.ml.features import training_cutoffs
    from leadrank.ml.metrics import time_holdout_split
    from leadrank.ml.model import labels_from_outcome

    mask, y = labels_from_outcome(leads)
    L = leads.loc[mask].reset_index(drop=True)
    created = epoch_ns(L["created_at"]) if "created_at" in L.columns else None
    split = time_holdout_split(created, y, float(getattr(model, "holdout_fraction", 0.2)))
    if split is not None:
        ho, method = split[1], "time_holdout"
    else:
        ho, method = np.arange(len(L)), "all_labelled"
    H = L.iloc[ho].reset_index(drop=True)
    cut = training_cutoffs(H, as_of)
    X, _ = model.featurizer_.transform_array(H, activities, cutoff=cut)
    phi, base = group_log_odds(model, X)
    ids = H["lead_id"].astype(str).tolist()
    acts = E.ActivityLog.from_frame(activities, ids, cut)
    attrs = E.LeadAttributes.from_frame(H)
    arrays = {
        "lead_ids": np.array(ids, dtype=str), "y": y[ho].astype(np.int8), "phi": phi,
        "base_logit": np.array([base]), "groups": np.array(model.groups_, dtype=str),
        "act_lead": acts.lead_index, "act_type": acts.type_code, "act_age": acts.age_days,
        **attrs.arrays("attr_"),
    }
    return arrays, method


def to_npz(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def from_npz(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def store_holdout(session: Session, workspace_id: uuid.UUID, version_id: uuid.UUID, model: Any,
                  leads: pd.DataFrame, activities: pd.DataFrame | None, as_of: Any = None) -> int:
    arrays, method = compute_holdout(model, leads, activities, as_of)
    with session.begin_nested():  # a failure here must not spoil the caller's transaction
        CustomizeRepository(session).save_holdout(ScoringHoldout(
            model_version_id=version_id, workspace_id=workspace_id, n_rows=int(len(arrays["y"])), method=method,
            data=to_npz(arrays)))
    return int(len(arrays["y"]))


# --------------------------------------------------------------------------- feedback

def with_override_labels(session: Session, workspace_id: uuid.UUID, leads: pd.DataFrame, load_leads: Any
                         ) -> tuple[pd.DataFrame, int]:
    """Labelled leads plus the open leads a rep's override labels ("junk" → lost), with the
    override's time as their outcome date (point-in-time features stop there)."""
    labelled = CustomizeRepository(session).labelled_overrides(workspace_id)
    if not labelled:
        return leads, 0
    extra = load_leads([lid for lid, _, _ in labelled])
    if extra.empty:
        return leads, 0
    by_id = {str(lid): (outcome, when) for lid, outcome, when in labelled}
    extra = extra.copy()
    extra["outcome"] = [by_id[i][0] for i in extra["lead_id"]]
    extra["outcome_date"] = [by_id[i][1] for i in extra["lead_id"]]
    return pd.concat([leads, extra], ignore_index=True), int(len(extra))
