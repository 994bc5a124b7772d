"""Leakage guard: find user columns that predict the outcome too well to be true.

Rules (each finding says why in plain words):

1. **Single-column ROC AUC >= 0.95.** Numeric/boolean/date columns are scored by their value
   (missing as its own lowest value); text-like columns by a 5-fold cross-fitted target encoding
   (so an identifier cannot look predictive by memorising its own label). Why 0.95: the best
   honest single columns in real lead data sit far lower (bank-marketing's best, the number of
   employees index, is ~0.75 with a random split; Olist's origin ~0.6; a whole-model lead score
   above 0.9 is already rare), whereas label echoes (stage, close value, "won date", a copy of the
   label with a few % of noise) land at 0.97-1.0. 0.95 leaves room on both sides.
2. **Filled (almost) only for one class.** At least 98 % of the rows where the column has a value
   belong to one class (which is not itself 90 %+ of the data): typical of fields a CRM fills
   when a deal closes (Olist's closed-deal columns exist only for won leads).
3. **One value marks one class.** A single value covers >= 90 % of one class and >= 99 % of the
   rows holding it are that class (Maven's ``close_value`` is 0 for every lost deal).
4. **Dates after the outcome.** A date column falls after the outcome date for >= 10 % of the
   labelled leads (or, without outcome dates, more than a day after the lead was created for most
   leads): it was recorded during or after the sale.

Flagged columns are left out of training unless the user lists them in ``include_columns``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from leadrank.ml import _parsing as P
from leadrank.ml.features import IGNORED_COLUMNS, NUMERIC_COLUMNS
from leadrank.ml.metrics import safe_auc

AUC_THRESHOLD = 0.95
ONE_CLASS_PURITY = 0.98
VALUE_PURITY = 0.99
VALUE_COVERAGE = 0.90
DATE_AFTER_OUTCOME_SHARE = 0.10
MAX_ROWS = 50_000
_NOT_CHECKED = IGNORED_COLUMNS | {"created_at"}


def _column_kind(col: str, s: pd.Series) -> str:
    if col in NUMERIC_COLUMNS:
        return "numeric"
    if col == "last_activity_date":
        return "date"
    return P.infer_column_type(s)


def column_values(s: pd.Series, kind: str) -> np.ndarray | None:
    """Numeric view of a column for ranking (None for text-like columns)."""
    if kind == "numeric":
        return P.to_numeric(s)
    if kind == "boolean":
        return P.to_boolean(s)
    if kind == "date":
        d = P.to_epoch_ns(s).astype(np.float64)
        d[d == float(P.NAT_NS)] = np.nan
        return d
    return None


def _fill_low(x: np.ndarray) -> np.ndarray:
    ok = ~np.isnan(x)
    lo = np.nanmin(x) - 1.0 if ok.any() else 0.0
    return np.where(ok, x, lo)


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    if len(np.unique(y)) < 2 or np.all(s == s[0]):
        return 0.5
    a = safe_auc(y, s)
    return max(a, 1.0 - a)


def crossfit_target_rate(keys: pd.Series, y: np.ndarray, folds: int = 5, m: float = 10.0,
                         random_state: int = 0) -> np.ndarray:
    codes, _ = pd.factorize(keys.fillna("__missing__"))
    prior = float(y.mean())
    k = int(codes.max()) + 1
    fold = np.random.default_rng(random_state).integers(0, folds, len(y))
    ts = np.bincount(codes, weights=y, minlength=k)
    tc = np.bincount(codes, minlength=k).astype(float)
    out = np.empty(len(y))
    for f in range(folds):
        i = fold == f
        s = ts - np.bincount(codes[i], weights=y[i], minlength=k)
        c = tc - np.bincount(codes[i], minlength=k)
        out[i] = ((s + m * prior) / (c + m))[codes[i]]
    return out


def single_column_auc(s: pd.Series, y: np.ndarray, kind: str, random_state: int = 0) -> float:
    x = column_values(s, kind)
    if x is not None:
        return _auc(y, _fill_low(x))
    return _auc(y, crossfit_target_rate(P.clean_strings(s), y, random_state=random_state))


def detect_leakage(
    leads: pd.DataFrame,
    y: np.ndarray,
    *,
    outcome_ns: np.ndarray | None = None,
    created_ns: np.ndarray | None = None,
    include_columns: tuple[str, ...] | list[str] = (),
    auc_threshold: float = AUC_THRESHOLD,
    random_state: int = 0,
) -> dict[str, Any]:
    """Check every user column of the labelled leads; return per-column AUCs and findings."""
    y = np.asarray(y).astype(np.float64)
    n = len(y)
    idx = np.arange(n)
    if n > MAX_ROWS:
        idx = np.sort(np.random.default_rng(random_state).choice(n, MAX_ROWS, replace=False))
    ys = y[idx]
    base = float(ys.mean()) if len(ys) else 0.0
    columns: dict[str, dict[str, Any]] = {}
    findings: list[dict[str, Any]] = []
    include = set(include_columns)

    def flag(col: str, kind: str, reason: str, **extra: Any) -> None:
        findings.append({"column": col, "rule": kind, "reason": reason, "excluded": col not in include,
                         **extra})

    for col in leads.columns:
        if col in _NOT_CHECKED or col.startswith("_"):
            continue
        s = leads[col].iloc[idx]
        kind = _column_kind(col, s)
        if kind == "empty":
            continue
        auc = single_column_auc(s, ys, kind, random_state)
        columns[col] = {"type": kind, "auc": auc}
        name = col
        if auc >= auc_threshold:
            flag(col, "single_column_auc",
                 f"'{name}' alone predicts the outcome with ROC AUC {auc:.3f} (>= {auc_threshold}): too good to be "
                 "true for a column known before the outcome, so it is probably recorded as a result of it.",
                 auc=auc)
            continue
        present = P.present_mask(s)
        n_present = int(present.sum())
        if n_present >= 10 and n_present < len(s):
            rate = float(ys[present].mean())
            for cls, purity, word in ((1, rate, "converted"), (0, 1 - rate, "lost")):
                share_cls = base if cls == 1 else 1 - base
                if purity >= ONE_CLASS_PURITY and share_cls < 0.9:
                    flag(col, "filled_for_one_class",
                         f"'{name}' is filled in for {n_present} leads and {purity:.0%} of them are {word}: it looks "
                         f"like a field that is only filled once a lead has {word if cls else 'been lost'}.",
                         auc=auc, purity=purity)
                    break
            if findings and findings[-1]["column"] == col:
                continue
        if kind in ("numeric", "boolean", "categorical"):
            vals = P.clean_strings(s.astype(object)) if kind == "categorical" else pd.Series(column_values(s, kind))
            frame = pd.DataFrame({"v": vals.to_numpy(), "y": ys}).dropna()
            if len(frame):
                g = frame.groupby("v")["y"].agg(["sum", "count"])
                g = g[g["count"] >= max(20, 0.05 * len(ys))]
                pos, neg = ys.sum(), len(ys) - ys.sum()
                hit = None
                for v, row in g.iterrows():
                    for cls, cnt_cls, total_cls, word in ((1, row["sum"], pos, "converted"),
                                                          (0, row["count"] - row["sum"], neg, "lost")):
                        if total_cls and cnt_cls / row["count"] >= VALUE_PURITY and cnt_cls / total_cls >= VALUE_COVERAGE:
                            hit = (v, word, cnt_cls / total_cls)
                            break
                    if hit:
                        break
                if hit:
                    v, word, cover = hit
                    flag(col, "value_marks_one_class",
                         f"'{name}' equals {v!r} for {cover:.0%} of {word} leads and almost never otherwise: "
                         f"it is probably set when a lead is {word}.", auc=auc)
                    continue
        if kind == "date":
            d = P.to_epoch_ns(s)
            ok = d != P.NAT_NS
            if outcome_ns is not None:
                o = outcome_ns[idx]
                both = ok & (o != P.NAT_NS)
                if both.sum() >= 10:
                    share = float((d[both] > o[both] + P.NS_PER_DAY).mean())
                    if share >= DATE_AFTER_OUTCOME_SHARE:
                        flag(col, "date_after_outcome",
                             f"'{name}' falls after the outcome date for {share:.0%} of leads: it was recorded after "
                             "the deal was decided, so it would not be known when scoring a new lead.", share=share)
                        continue
            elif created_ns is not None:
                c = created_ns[idx]
                both = ok & (c != P.NAT_NS)
                if both.sum() >= 10:
                    share = float((d[both] > c[both] + P.NS_PER_DAY).mean())
                    if share >= 0.5:
                        flag(col, "date_after_created",
                             f"'{name}' is later than the lead's creation date for {share:.0%} of leads and there is "
                             "no outcome date to check it against: it was probably filled in during the sales process.",
                             share=share)
                        continue
    return {"auc_threshold": auc_threshold, "columns": columns, "flagged": findings,
            "excluded_columns": sorted({f["column"] for f in findings if f["excluded"]})}


class SingleColumnScorer:
    """The best-single-column baseline: the column's value (numeric) or its target rate."""

    def __init__(self, column: str, kind: str) -> None:
        self.column = column
        self.kind = kind

    def fit(self, leads: pd.DataFrame, y: np.ndarray) -> SingleColumnScorer:
        s = leads[self.column]
        x = column_values(s, self.kind)
        y = np.asarray(y, dtype=np.float64)
        if x is not None:
            ok = ~np.isnan(x)
            self.fill_ = float(np.nanmin(x) - 1.0) if ok.any() else 0.0
            xf = np.where(ok, x, self.fill_)
            from sklearn.metrics import roc_auc_score

            a = roc_auc_score(y, xf) if len(np.unique(y)) == 2 else 0.5
            self.sign_ = 1.0 if a >= 0.5 else -1.0
            self.map_ = None
        else:
            keys = P.clean_strings(s).fillna("__missing__")
            g = pd.DataFrame({"k": keys.to_numpy(), "y": y}).groupby("k")["y"].agg(["sum", "count"])
            self.prior_ = float(y.mean())
            self.map_ = ((g["sum"] + 10 * self.prior_) / (g["count"] + 10)).to_dict()
        return self

    def score(self, leads: pd.DataFrame) -> np.ndarray:
        s = leads[self.column]
        if self.map_ is None:
            x = column_values(s, self.kind)
            return self.sign_ * np.where(np.isnan(x), self.fill_, x)
        keys = P.clean_strings(s).fillna("__missing__")
        return keys.map(self.map_).to_numpy(dtype=np.float64, na_value=self.prior_)
