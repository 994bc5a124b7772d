"""Evaluation entry points.

* :func:`evaluate` measures an already trained model on labelled leads it has not seen (for
  instance outcomes that arrived after training) and reports the same metrics as training.
* :func:`evaluate_file_frame` is what ``leadrank evaluate FILE --target COLUMN --json`` calls: it
  turns an arbitrary table into leads, trains with the honest holdout and returns the report.

The honest-evaluation rules themselves (time-based holdout on ``created_at`` when leads have
dates, stratified k-fold otherwise, never a metric on training rows) live in
:mod:`leadrank.ml.model` (which runs them as part of every training) and :mod:`leadrank.ml.metrics`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from leadrank.errors import InvalidInput
from leadrank.ml import _parsing as P
from leadrank.ml.explain import sigmoid
from leadrank.ml.features import IGNORED_COLUMNS, STANDARD_COLUMNS, training_cutoffs
from leadrank.ml.metrics import band_table, calibration_table, clean_for_json, probability_metrics
from leadrank.ml.model import TrainedModel, labels_from_outcome, train

POSITIVE_LABELS = frozenset({"1", "1.0", "yes", "y", "true", "t", "converted", "won", "win", "closed won",
                             "closed_won", "success", "positive"})
NEGATIVE_LABELS = frozenset({"0", "0.0", "no", "n", "false", "f", "lost", "lose", "closed lost", "closed_lost",
                             "failure", "negative"})


def evaluate(model: TrainedModel, leads: pd.DataFrame, activities: pd.DataFrame | None = None,
             as_of: Any = None) -> dict[str, Any]:
    """Metrics of ``model`` on labelled ``leads`` (converted / lost; open leads are ignored)."""
    mask, y = labels_from_outcome(leads)
    if len(y) == 0:
        raise InvalidInput("no converted or lost leads to evaluate on")
    L = leads.loc[mask].reset_index(drop=True)
    X, _ = model.featurizer_.transform_array(L, activities, cutoff=training_cutoffs(L, as_of))
    p = sigmoid(model._calibrated_margin(X))
    out = probability_metrics(y, p, model.decision_threshold_)
    out["calibration"] = calibration_table(y, p)
    out["score_bands"] = band_table(y, p * 100, model.grade_for(p * 100))
    out["algorithm"] = model.algorithm
    return clean_for_json(out)


def frame_to_leads(frame: pd.DataFrame, target: str | None = None, *, positive: Any = None,
                   time_column: str | None = None, drop_columns: tuple[str, ...] | list[str] = ()
                   ) -> pd.DataFrame:
    """Map an arbitrary table to the leads contract (lead_id, outcome, created_at, custom.* ...)."""
    if target is not None and target not in frame.columns:
        raise InvalidInput(f"target column {target!r} not found; columns are {list(frame.columns)}")
    out: dict[str, Any] = {}
    lower = {c: str(c).strip().lower().replace(" ", "_") for c in frame.columns}
    for c in frame.columns:
        if c == target or c in drop_columns or c == time_column:
            continue
        key = lower[c]
        if key in STANDARD_COLUMNS or key in ("outcome", "outcome_date", "lead_id", "external_id"):
            out[key] = frame[c].to_numpy()
        elif key in IGNORED_COLUMNS:
            continue
        else:
            out[f"custom.{c}"] = frame[c].to_numpy()
    leads = pd.DataFrame(out, index=range(len(frame)))
    if target is not None:
        raw = frame[target]
        vals = P.clean_strings(raw.astype(object))
        if positive is not None:
            pos = vals == str(positive).strip().lower()
            known = vals.notna()
        else:
            pos = vals.isin(POSITIVE_LABELS)
            known = pos | vals.isin(NEGATIVE_LABELS)
            if known.mean() < 0.95:
                raise InvalidInput(f"cannot tell positive from negative values of {target!r}; pass positive=...")
        leads["outcome"] = np.where(known.to_numpy(), np.where(pos.to_numpy(), "converted", "lost"), "open")
    if time_column is not None:
        leads["created_at"] = P.parse_dates(frame[time_column]).to_numpy()
    if "lead_id" not in leads.columns:
        leads.insert(0, "lead_id", [f"row-{i + 1}" for i in range(len(leads))])
    else:
        leads["lead_id"] = leads["lead_id"].astype(str)
    return leads


def evaluate_file_frame(leads: pd.DataFrame, activities: pd.DataFrame | None = None, *, target: str | None = None,
                        positive: Any = None, time_column: str | None = None,
                        drop_columns: tuple[str, ...] | list[str] = (), random_state: int = 0,
                        time_budget_s: float = 30.0, include_columns: tuple[str, ...] | list[str] = (),
                        exclude_columns: tuple[str, ...] | list[str] = ()) -> dict[str, Any]:
    """Train and honestly evaluate on a table without storing anything; return the JSON report.

    ``leads`` is either already in the leads contract (with ``outcome``) or any table plus
    ``target=COLUMN`` naming the label column (yes/no, 1/0, won/lost... or ``positive=VALUE``).
    Report keys for the chosen model are top level (``roc_auc``, ``pr_auc``, ``brier``, ``log_loss``,
    ``capture_at_20``...), the alternatives under ``"alternatives"``.
    """
    frame = leads if target is None and "outcome" in leads.columns else frame_to_leads(
        leads, target, positive=positive, time_column=time_column, drop_columns=drop_columns)
    model = train(frame, activities, random_state=random_state, time_budget_s=time_budget_s,
                  include_columns=include_columns, exclude_columns=exclude_columns)
    report = dict(model.report)
    report["target"] = target
    report["n_rows"] = int(len(frame))
    return report
