"""Honest evaluation primitives: splits, ranking/probability metrics, lift and capture,
calibration table, and score-band conversion rates. No model code in here."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
)
from scipy.stats import rankdata
from sklearn.model_selection import StratifiedKFold

from leadrank.ml import _parsing as P

#: A time-based holdout is used when at least this share of labelled leads has a created_at.
MIN_DATED_SHARE = 0.9


def time_holdout_split(created_ns: np.ndarray | None, y: np.ndarray, fraction: float = 0.2,
                       min_rows: int = 200) -> tuple[np.ndarray, np.ndarray] | None:
    """Newest ``fraction`` of leads by created_at as holdout; None if dates are unusable.

    The holdout must contain both classes (at least 5 of each) or the split is refused.
    """
    n = len(y)
    if created_ns is None or n < min_rows:
        return None
    dated = created_ns != P.NAT_NS
    if dated.mean() < MIN_DATED_SHARE:
        return None
    key = np.where(dated, created_ns, np.iinfo(np.int64).min)  # undated go to the training side
    order = np.argsort(key, kind="stable")
    n_ho = max(1, int(round(n * fraction)))
    ho = np.sort(order[n - n_ho:])
    tr = np.sort(order[: n - n_ho])
    if min(y[ho].sum(), (1 - y[ho]).sum(), y[tr].sum(), (1 - y[tr]).sum()) < 5:
        return None
    return tr, ho


def stratified_folds(y: np.ndarray, k: int, random_state: int = 0) -> np.ndarray:
    """Fold id per row (stratified, shuffled). ``k`` is reduced when a class is too small."""
    y = np.asarray(y).astype(int)
    k = int(max(2, min(k, y.sum(), (1 - y).sum())))
    folds = np.empty(len(y), dtype=np.int64)
    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=random_state)
    for i, (_, va) in enumerate(skf.split(np.zeros(len(y)), y)):
        folds[va] = i
    return folds


def blocked_time_folds(created_ns: np.ndarray, y: np.ndarray, k: int) -> np.ndarray | None:
    """Fold id per row as ``k`` contiguous blocks of creation time (None if a block lacks a class).

    Model selection on time blocks penalises models that learn period-specific patterns, which a
    shuffled split rewards and a future holdout punishes (bank-marketing, Olist).
    """
    n = len(y)
    if created_ns is None or n < 10 * k or (created_ns == P.NAT_NS).mean() > 1 - MIN_DATED_SHARE:
        return None
    order = np.argsort(created_ns, kind="stable")
    folds = np.empty(n, dtype=np.int64)
    folds[order] = np.arange(n) * k // n
    for f in range(k):
        part = y[folds == f]
        if part.sum() < 2 or (1 - part).sum() < 2:
            return None
    return folds


def safe_auc(y: np.ndarray, s: np.ndarray) -> float:
    """ROC AUC (NaN with a single class): the Mann-Whitney statistic on average ranks, identical to
    ``roc_auc_score`` for binary labels without its per-call validation overhead (~10 ms)."""
    y = np.asarray(y).astype(bool)
    pos = int(y.sum())
    neg = len(y) - pos
    if pos == 0 or neg == 0:
        return float("nan")
    r = rankdata(np.asarray(s, dtype=np.float64))
    return float((r[y].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def capture_at(y: np.ndarray, s: np.ndarray, frac: float) -> float:
    """Share of all conversions found in the top ``frac`` of leads by score (ties broken stably)."""
    n = len(y)
    k = max(1, int(np.ceil(n * frac)))
    order = np.argsort(-np.asarray(s, dtype=np.float64), kind="stable")
    pos = y.sum()
    return float(y[order[:k]].sum() / pos) if pos else float("nan")


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, Any]]:
    """Equal-count bins of predicted probability: mean predicted vs observed rate, count."""
    order = np.argsort(p, kind="stable")
    out = []
    for i, chunk in enumerate(np.array_split(order, bins)):
        if len(chunk) == 0:
            continue
        out.append({"bin": i + 1, "count": int(len(chunk)), "mean_predicted": float(p[chunk].mean()),
                    "observed_rate": float(y[chunk].mean()),
                    "min_predicted": float(p[chunk].min()), "max_predicted": float(p[chunk].max())})
    return out


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Count-weighted mean |mean predicted - observed| over equal-count bins."""
    tab = calibration_table(y, p, bins)
    n = sum(r["count"] for r in tab)
    return float(sum(r["count"] * abs(r["mean_predicted"] - r["observed_rate"]) for r in tab) / max(n, 1))


def best_f1_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """Probability threshold that maximises F1 (used on out-of-fold predictions only)."""
    order = np.argsort(-p, kind="stable")
    ys = y[order]
    tp = np.cumsum(ys)
    k = np.arange(1, len(ys) + 1)
    pos = ys.sum()
    if pos == 0:
        return 0.5
    f1 = 2 * tp / (k + pos)
    i = int(np.argmax(f1))
    return float(p[order][i])


def classification_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    pred = p >= threshold
    tp = float((pred & (y == 1)).sum())
    fp = float((pred & (y == 0)).sum())
    fn = float((~pred & (y == 1)).sum())
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    return {"threshold": float(threshold), "accuracy": float((pred == (y == 1)).mean()), "precision": prec,
            "recall": rec, "f1": 2 * prec * rec / (prec + rec) if prec + rec else 0.0}


def probability_metrics(y: np.ndarray, p: np.ndarray, threshold: float | None = None) -> dict[str, Any]:
    """ROC AUC, PR AUC, log loss, Brier, lift/capture at 10/20%, ECE, mean predicted vs observed."""
    y = np.asarray(y).astype(int)
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
    base = float(y.mean()) if len(y) else float("nan")
    two = len(np.unique(y)) == 2
    out: dict[str, Any] = {
        "n": int(len(y)), "positives": int(y.sum()), "base_rate": base,
        "roc_auc": safe_auc(y, p),
        "pr_auc": float(average_precision_score(y, p)) if two else float("nan"),
        "log_loss": float(log_loss(y, p, labels=[0, 1])) if len(y) else float("nan"),
        "brier": float(brier_score_loss(y, p)) if len(y) else float("nan"),
        "mean_predicted": float(p.mean()) if len(y) else float("nan"),
        "ece": expected_calibration_error(y, p) if len(y) >= 10 else float("nan"),
    }
    for frac, tag in ((0.1, "10"), (0.2, "20")):
        cap = capture_at(y, p, frac) if y.sum() else float("nan")
        out[f"capture_at_{tag}"] = cap
        out[f"lift_at_{tag}"] = cap / frac if cap == cap else float("nan")
    if threshold is not None:
        out.update(classification_metrics(y, p, threshold))
    return out


def band_table(y: np.ndarray, scores: np.ndarray, grades: np.ndarray) -> list[dict[str, Any]]:
    """Conversion rate per grade (score band)."""
    df = pd.DataFrame({"y": y, "s": scores, "g": grades})
    out = []
    for g, part in df.groupby("g", sort=True):
        out.append({"grade": str(g), "count": int(len(part)), "share": float(len(part) / max(len(df), 1)),
                    "conversion_rate": float(part["y"].mean()), "mean_score": float(part["s"].mean()),
                    "conversions": int(part["y"].sum())})
    return out


def clean_for_json(obj: Any) -> Any:
    """NaN/inf -> None and numpy scalars -> Python, recursively (reports are strict JSON)."""
    if isinstance(obj, dict):
        return {str(k): clean_for_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean_for_json(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return None if not np.isfinite(f) else f
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return clean_for_json(obj.tolist())
    return obj
