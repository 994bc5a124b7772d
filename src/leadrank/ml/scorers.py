"""The two model families behind a lead score, each able to give exact additive contributions.

* ``LinearScorer``: median imputation + missing indicators, standardisation (clipped at +-5 sd),
  L2-regularised logistic regression. Contributions are the exact linear terms
  ``w_j * (z_j - mean_train(z_j))``, so ``margin = base + sum(contributions)``.
* ``TreeScorer``: LightGBM with shallow trees; contributions from TreeSHAP (``pred_contrib``).
* ``BlendScorer``: a fixed weighted sum of the two margins, ``w_lr * m_lr + w_gbm * m_gbm`` (the
  equal-weight average of both models' Platt-calibrated log-odds, up to a constant that the blend's
  own calibration absorbs); its contributions are the same weighted sum of both models' exact
  contributions, so they still add up to the margin.

Both store their state as JSON-able data (LightGBM in its own text format); nothing is pickled.
"""

from __future__ import annotations

import warnings
from typing import Any

import lightgbm as lgb
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from leadrank.ml.metrics import safe_auc

CHUNK = 100_000

#: Fixed LightGBM settings: shallow trees keep TreeSHAP cheap (see the report's explanation-cost notes).
LGBM_FIXED: dict[str, Any] = {
    "objective": "binary", "verbose": -1, "max_bin": 63, "bagging_freq": 1, "bagging_fraction": 0.8,
    "feature_fraction": 0.8, "min_sum_hessian_in_leaf": 1e-3, "force_col_wise": True, "deterministic": True,
    "num_threads": 1,  # training sets here are small: a second OpenMP thread cost 3.5x CPU on the 2-core box
}
#: Candidates of the small tuning step, tried in this order (how many depends on the budget, never on
#: the clock): the cheapest first (depth-2 stumps-of-two won on the generated leads), then strongly
#: regularised trees on half the features (won on Olist), then plain depth-3 trees.
LGBM_CANDIDATES: list[dict[str, Any]] = [
    {"max_depth": 2, "num_leaves": 4, "learning_rate": 0.15, "min_data_in_leaf": 40, "lambda_l2": 5.0},
    {"max_depth": 3, "num_leaves": 8, "learning_rate": 0.1, "min_data_in_leaf": 200, "lambda_l2": 20.0,
     "feature_fraction": 0.5},
    {"max_depth": 3, "num_leaves": 8, "learning_rate": 0.1, "min_data_in_leaf": 40, "lambda_l2": 5.0},
]
#: Inverse L2 strengths tried for logistic regression (warm-started path, strongest first).
LR_GRID = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
#: Logistic regression solver settings: lbfgs on float32 standardised features; tol 1e-4 moves
#: coefficients by far less than their cross-validation noise and halves the iterations.
LR_TOL = 1e-4
LR_MAX_ITER = 300


class LinearScorer:
    kind = "logistic_regression"

    def __init__(self, C: float = 0.1, random_state: int = 0) -> None:
        self.C = C
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> LinearScorer:
        Z = self.prepare(X)
        return self.fit_prepared(Z, y)

    def prepare(self, X: np.ndarray) -> np.ndarray:
        """Learn imputation and scaling on ``X``; return its standardised float32 design."""
        X = np.asarray(X)
        isn = np.isnan(X)
        nan_count = isn.sum(axis=0)
        med = np.zeros(X.shape[1])
        full = nan_count == 0
        if full.any():
            med[full] = np.median(X[:, full], axis=0)
        for j in np.flatnonzero((nan_count > 0) & (nan_count < len(X))):
            med[j] = np.median(X[~isn[:, j], j])
        self.median_ = med
        self.nan_cols_ = np.flatnonzero((nan_count > 0) & (nan_count < len(X)))
        raw = self._raw(X, isn)
        self.mean_ = raw.mean(axis=0)
        sd = raw.std(axis=0)
        self.scale_ = np.where(sd > 1e-12, sd, 1.0)
        Z = self._standardise(raw)
        self.zbar_ = Z.mean(axis=0)
        return Z.astype(np.float32)

    def fit_prepared(self, Z: np.ndarray, y: np.ndarray, warm: tuple[np.ndarray, float] | None = None
                     ) -> LinearScorer:
        """Fit the regression on a design from :meth:`prepare` (optionally warm-started)."""
        model = LogisticRegression(C=self.C, solver="lbfgs", max_iter=LR_MAX_ITER, tol=LR_TOL,
                                   warm_start=warm is not None)
        if warm is not None:
            model.coef_ = warm[0].reshape(1, -1).astype(np.float64).copy()
            model.intercept_ = np.array([warm[1]])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(Z, y)
        self.coef_ = model.coef_.ravel().astype(np.float64)
        self.intercept_ = float(model.intercept_[0])
        return self

    def _raw(self, X: np.ndarray, isn: np.ndarray) -> np.ndarray:
        filled = np.where(isn, self.median_, X)
        return np.hstack([filled, isn[:, self.nan_cols_].astype(np.float64)])

    def _standardise(self, raw: np.ndarray) -> np.ndarray:
        return np.clip((raw - self.mean_) / self.scale_, -5.0, 5.0)

    def _design(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        isn = np.isnan(X)
        filled = np.where(isn, self.median_, X)
        raw = np.hstack([filled, isn[:, self.nan_cols_].astype(np.float64)])
        return self._standardise(raw)

    @property
    def base_margin(self) -> float:
        return float(self.intercept_ + self.coef_ @ self.zbar_)

    def margin(self, X: np.ndarray) -> np.ndarray:
        out = np.empty(len(X))
        step = 8192  # cache-sized blocks: the design is 4-8x the input, memory-bound when large
        for s in range(0, len(X), step):
            out[s:s + step] = self._design(X[s:s + step]) @ self.coef_ + self.intercept_
        return out

    def raw_contributions(self, X: np.ndarray) -> tuple[np.ndarray, float]:
        """(n x F contributions in raw log-odds, base); indicator terms folded into their feature."""
        n, F = X.shape
        phi = np.empty((n, F))
        step = 8192  # cache-sized blocks, as in margin(): 5x faster than one pass over a 100k-row design
        for s in range(0, n, step):
            c = self._design(X[s:s + step])
            c -= self.zbar_
            c *= self.coef_
            phi[s:s + step] = c[:, :F]
            if len(self.nan_cols_):
                phi[s:s + step, self.nan_cols_] += c[:, F:]
        return phi, self.base_margin

    def get_state(self) -> dict[str, Any]:
        return {"kind": self.kind, "C": self.C, "median": self.median_.tolist(), "nan_cols": self.nan_cols_.tolist(),
                "mean": self.mean_.tolist(), "scale": self.scale_.tolist(), "zbar": self.zbar_.tolist(),
                "coef": self.coef_.tolist(), "intercept": self.intercept_}

    @classmethod
    def from_state(cls, st: dict[str, Any]) -> LinearScorer:
        s = cls(C=st["C"])
        s.median_ = np.asarray(st["median"], dtype=np.float64)
        s.nan_cols_ = np.asarray(st["nan_cols"], dtype=np.int64)
        s.mean_ = np.asarray(st["mean"], dtype=np.float64)
        s.scale_ = np.asarray(st["scale"], dtype=np.float64)
        s.zbar_ = np.asarray(st["zbar"], dtype=np.float64)
        s.coef_ = np.asarray(st["coef"], dtype=np.float64)
        s.intercept_ = float(st["intercept"])
        return s

    def describe(self) -> dict[str, Any]:
        return {"C": self.C, "n_coefficients": int(len(self.coef_))}


class TreeScorer:
    kind = "lightgbm"

    def __init__(self, params: dict[str, Any] | None = None, num_boost_round: int = 200,
                 random_state: int = 0) -> None:
        self.params = params
        self.num_boost_round = num_boost_round
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> TreeScorer:
        params = {**LGBM_FIXED, **(self.params or LGBM_CANDIDATES[0]), "seed": self.random_state}
        ds = lgb.Dataset(X, label=y, params={"max_bin": params["max_bin"], "verbose": -1,
                                             "feature_pre_filter": False})
        self.booster_ = lgb.train(params, ds, num_boost_round=int(self.num_boost_round))
        return self

    def margin(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster_.predict(X, raw_score=True), dtype=np.float64)

    def raw_contributions(self, X: np.ndarray) -> tuple[np.ndarray, float]:
        c = np.asarray(self.booster_.predict(X, pred_contrib=True), dtype=np.float64)
        base = float(c[0, -1]) if len(c) else 0.0
        return c[:, :-1], base

    @property
    def base_margin(self) -> float:
        return self.raw_contributions(np.full((1, self.booster_.num_feature()), np.nan, dtype=np.float32))[1]

    def get_state(self) -> dict[str, Any]:
        return {"kind": self.kind, "params": self.params, "num_boost_round": self.num_boost_round,
                "lightgbm_model": self.booster_.model_to_string()}

    @classmethod
    def from_state(cls, st: dict[str, Any]) -> TreeScorer:
        s = cls(params=st["params"], num_boost_round=st["num_boost_round"])
        s.booster_ = lgb.Booster(model_str=st["lightgbm_model"])
        return s

    def describe(self) -> dict[str, Any]:
        p = self.params or {}
        return {"num_trees": int(self.booster_.num_trees()), "max_depth": p.get("max_depth"),
                "num_leaves": p.get("num_leaves"), "learning_rate": p.get("learning_rate"),
                "min_data_in_leaf": p.get("min_data_in_leaf"), "lambda_l2": p.get("lambda_l2")}


class BlendScorer:
    """``margin = w_lr * linear.margin + w_gbm * tree.margin``; contributions likewise (exactly additive)."""

    kind = "blend"

    def __init__(self, linear: LinearScorer, tree: TreeScorer, w_linear: float, w_tree: float) -> None:
        self.linear = linear
        self.tree = tree
        self.w_linear = float(w_linear)
        self.w_tree = float(w_tree)

    def margin(self, X: np.ndarray) -> np.ndarray:
        out = self.tree.margin(X)
        out *= self.w_tree
        out += self.w_linear * self.linear.margin(X)
        return out

    def raw_contributions(self, X: np.ndarray) -> tuple[np.ndarray, float]:
        phi_t, base_t = self.tree.raw_contributions(X)
        phi_l, base_l = self.linear.raw_contributions(X)
        phi_t *= self.w_tree
        phi_t += self.w_linear * phi_l
        return phi_t, self.w_linear * base_l + self.w_tree * base_t

    @property
    def base_margin(self) -> float:
        return self.w_linear * self.linear.base_margin + self.w_tree * self.tree.base_margin

    def get_state(self) -> dict[str, Any]:
        return {"kind": self.kind, "weights": {"logistic_regression": self.w_linear, "lightgbm": self.w_tree},
                "logistic_regression": self.linear.get_state(), "lightgbm": self.tree.get_state()}

    @classmethod
    def from_state(cls, st: dict[str, Any]) -> BlendScorer:
        return cls(LinearScorer.from_state(st["logistic_regression"]), TreeScorer.from_state(st["lightgbm"]),
                   st["weights"]["logistic_regression"], st["weights"]["lightgbm"])

    def describe(self) -> dict[str, Any]:
        return {"weights": {"logistic_regression": self.w_linear, "lightgbm": self.w_tree},
                "logistic_regression": self.linear.describe(), "lightgbm": self.tree.describe()}


Scorer = LinearScorer | TreeScorer | BlendScorer


def scorer_from_state(st: dict[str, Any]) -> Scorer:
    if st["kind"] == "blend":
        return BlendScorer.from_state(st)
    if st["kind"] == "lightgbm":
        return TreeScorer.from_state(st)
    if st["kind"] == "logistic_regression":
        return LinearScorer.from_state(st)
    raise ValueError(f"unknown scorer kind {st['kind']!r}")


# --------------------------------------------------------------------------- cross-validation

def cv_linear(X: np.ndarray, y: np.ndarray, folds: np.ndarray, C: float, random_state: int = 0) -> np.ndarray:
    """Out-of-fold raw margins of the linear scorer on the given folds."""
    return cv_linear_path(X, y, folds, (C,), random_state)[0][C]


def fold_aucs(y: np.ndarray, margin: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """ROC AUC within each fold (NaN where a fold lacks a class)."""
    out = []
    for f in np.unique(folds):
        va = folds == f
        out.append(safe_auc(y[va], margin[va]))
    return np.asarray(out, dtype=np.float64)


def cv_linear_path(X: np.ndarray, y: np.ndarray, folds: np.ndarray, Cs: tuple[float, ...], random_state: int = 0,
                   stop_when_worse: bool = True) -> tuple[dict[float, np.ndarray], dict[float, np.ndarray]]:
    """Out-of-fold raw margins for every C tried (and per-fold AUCs), strongest penalty first.

    Per fold, the imputation and scaling are learned once on the training part (and the validation
    design built once), and each fit is warm-started from the previous, stronger penalty: the same
    optimum as separate fits, in a fraction of the iterations. With ``stop_when_worse`` the path
    stops at the first C whose mean fold AUC falls below the best so far: the AUC is unimodal in C
    up to the folds' noise, and the one-standard-error rule looks only at stronger penalties than
    the best, so the weakest penalties (the slowest fits) are skipped without changing the choice.
    """
    Cs = tuple(sorted(Cs))
    fold_ids = np.unique(folds)
    prepared = []
    for f in fold_ids:
        va = folds == f
        base = LinearScorer(C=Cs[0], random_state=random_state)
        Z = base.prepare(X[~va])
        prepared.append((va, base, Z, y[~va], base._design(X[va]), None))
    oof: dict[float, np.ndarray] = {}
    aucs: dict[float, np.ndarray] = {}
    best = -np.inf
    for C in Cs:
        m_all = np.empty(len(y))
        for i, (va, base, Z, ytr, Zva, warm) in enumerate(prepared):
            m = LinearScorer(C=C, random_state=random_state)
            m.median_, m.nan_cols_, m.mean_, m.scale_, m.zbar_ = (base.median_, base.nan_cols_, base.mean_,
                                                                  base.scale_, base.zbar_)
            m.fit_prepared(Z, ytr, warm)
            prepared[i] = (va, base, Z, ytr, Zva, (m.coef_, m.intercept_))
            m_all[va] = Zva @ m.coef_ + m.intercept_
        oof[C] = m_all
        aucs[C] = fold_aucs(y, m_all, folds)
        mean = float(np.nanmean(aucs[C])) if not np.isnan(aucs[C]).all() else -np.inf
        if stop_when_worse and mean < best:
            break
        best = max(best, mean)
    return oof, aucs


def cv_lightgbm(X: np.ndarray, y: np.ndarray, folds: np.ndarray, params: dict[str, Any], max_rounds: int,
                random_state: int = 0, dataset: lgb.Dataset | None = None) -> tuple[np.ndarray, int]:
    """Out-of-fold raw margins at a common number of rounds (median of the folds' early stops)."""
    full = {**LGBM_FIXED, **params, "seed": random_state}
    ds = dataset if dataset is not None else lgb.Dataset(
        X, label=y, params={"max_bin": full["max_bin"], "verbose": -1, "feature_pre_filter": False},
        free_raw_data=False)
    boosters, best = [], []
    fold_ids = np.unique(folds)
    for f in fold_ids:
        tr = np.flatnonzero(folds != f)
        va = np.flatnonzero(folds == f)
        b = lgb.train(full, ds.subset(tr), num_boost_round=max_rounds, valid_sets=[ds.subset(va)],
                      callbacks=[lgb.early_stopping(20, verbose=False)])
        boosters.append(b)
        best.append(b.best_iteration or max_rounds)
    n_iter = int(max(10, np.median(best)))
    oof = np.empty(len(y))
    for f, b in zip(fold_ids, boosters, strict=True):
        va = folds == f
        oof[va] = b.predict(X[va], raw_score=True, num_iteration=min(n_iter, b.current_iteration()))
    return oof, n_iter


def fit_platt(margin: np.ndarray, y: np.ndarray, iters: int = 50) -> tuple[float, float]:
    """Platt scaling p = sigmoid(a*m + b), fitted by Newton's method on out-of-fold margins."""
    m = np.asarray(margin, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    a, b = 1.0, 0.0
    for _ in range(iters):
        z = np.clip(a * m + b, -35, 35)
        p = 1.0 / (1.0 + np.exp(-z))
        w = p * (1 - p) + 1e-12
        g = np.array([np.sum((p - y) * m), np.sum(p - y)])
        h = np.array([[np.sum(w * m * m) + 1e-9, np.sum(w * m)], [np.sum(w * m), np.sum(w) + 1e-9]])
        step = np.linalg.solve(h, g)
        a, b = a - step[0], b - step[1]
        if np.max(np.abs(step)) < 1e-10:
            break
    return float(a), float(b)
