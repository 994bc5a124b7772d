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
        self._shap: _ShapTables | None = None
        return self

    def margin(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster_.predict(X, raw_score=True), dtype=np.float64)

    def raw_contributions(self, X: np.ndarray) -> tuple[np.ndarray, float]:
        """(n x F TreeSHAP contributions in raw log-odds, base): LightGBM's path-dependent TreeSHAP,
        from per-tree tables (:class:`_ShapTables`, same values to ~1e-15, ~8x faster than
        ``pred_contrib``); trees too large for tables fall back to ``pred_contrib``."""
        tables = self._shap
        if tables is None:
            tables = self._shap = _ShapTables.build(self.booster_)
        if tables.ok:
            return tables.contributions(np.asarray(X))
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
        s._shap = None
        return s

    def describe(self) -> dict[str, Any]:
        p = self.params or {}
        return {"num_trees": int(self.booster_.num_trees()), "max_depth": p.get("max_depth"),
                "num_leaves": p.get("num_leaves"), "learning_rate": p.get("learning_rate"),
                "min_data_in_leaf": p.get("min_data_in_leaf"), "lambda_l2": p.get("lambda_l2")}


#: Trees with at most this many splits get a TreeSHAP table (2**splits rows); every candidate has <= 7.
SHAP_TABLE_MAX_SPLITS = 10


class _ShapTables:
    """Exact path-dependent TreeSHAP (LightGBM's ``pred_contrib``) for small trees, vectorised.

    A tree's SHAP values for a row depend only on which way the row goes at each split (data counts
    weight the branches it does not take), so for a tree with J splits they are tabulated once for
    all 2**J direction patterns, by running LightGBM's own TreeSHAP recursion (``Tree::TreeSHAP``:
    extend / unwind / unwound-sum over the unique path) on the patterns as a batch. Scoring a row
    then costs J comparisons and a table lookup per tree. Missing values follow LightGBM's rules
    (``missing_type`` NaN: default direction; None: NaN as 0; Zero: 0 and NaN to the default side).
    """

    def __init__(self, n_features: int, trees: list[tuple[np.ndarray, np.ndarray, list[tuple[int, float, bool, str]]]],
                 base: float, ok: bool) -> None:
        self.n_features = n_features
        self.trees = trees  # (features, table (n_feat_in_tree x 2**J), splits [(feature, threshold, default_left, missing)])
        self.base = base
        self.ok = ok

    @classmethod
    def build(cls, booster: lgb.Booster) -> _ShapTables:
        dump = booster.dump_model()
        F = booster.num_feature()
        trees, base = [], 0.0
        for t in dump["tree_info"]:
            root = t["tree_structure"]
            if int(t["num_leaves"]) - 1 > SHAP_TABLE_MAX_SPLITS or any(
                    "decision_type" in nd and nd["decision_type"] != "<=" for nd in _walk(root)):
                return cls(F, [], 0.0, False)
            feats, table, expected, splits = _tree_table(root)
            base += expected
            if splits:
                trees.append((feats, table, splits))
        return cls(F, trees, base, True)

    def contributions(self, X: np.ndarray) -> tuple[np.ndarray, float]:
        n = len(X)
        XT = np.ascontiguousarray(X.T)
        out = np.zeros((self.n_features, n))
        cols: dict[tuple[int, bool], tuple[np.ndarray, np.ndarray]] = {}
        idx = np.empty(n, dtype=np.int32)
        for feats, table, splits in self.trees:
            idx[:] = 0
            for j, (f, thr, default_left, missing) in enumerate(splits):
                key = (f, missing == "NaN")
                if key not in cols:
                    x = XT[f]
                    isn = np.isnan(x)
                    cols[key] = (x if key[1] else np.where(isn, 0.0, x), isn)
                x, isn = cols[key]
                left = x <= thr
                if missing == "NaN":
                    if default_left:
                        left |= isn
                elif missing == "Zero":
                    left = np.where(np.abs(x) < np.float64(1e-35), default_left, left)
                idx |= left.astype(np.int32) << j
            for k, f in enumerate(feats):
                out[f] += table[k][idx]
        return out.T, self.base


def _walk(nd: dict[str, Any]):
    yield nd
    if "left_child" in nd:
        yield from _walk(nd["left_child"])
        yield from _walk(nd["right_child"])


def _tree_table(root: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, float, list[tuple[int, float, bool, str]]]:
    """(features, contributions per feature x direction pattern, expected value, splits) of one tree."""
    splits: list[tuple[int, float, bool, str]] = []
    ids: dict[int, int] = {}
    for nd in _walk(root):
        if "leaf_value" not in nd:
            ids[id(nd)] = len(splits)
            # a float64 scalar: compared with float32 features it promotes them, as LightGBM compares doubles
            splits.append((int(nd["split_feature"]), np.float64(nd["threshold"]), bool(nd["default_left"]),
                           str(nd["missing_type"])))
    if not splits:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 1)), float(root["leaf_value"]), []
    P = 1 << len(splits)
    pattern = np.arange(P)
    feats = sorted({f for f, *_ in splits})
    col = {f: i for i, f in enumerate(feats)}
    phi = np.zeros((len(feats), P))

    def count(nd: dict[str, Any]) -> float:
        return float(nd["leaf_count"] if "leaf_value" in nd else nd["internal_count"])

    def expected(nd: dict[str, Any]) -> float:
        if "leaf_value" in nd:
            return float(nd["leaf_value"]) * count(nd)
        return expected(nd["left_child"]) + expected(nd["right_child"])

    # path elements: [feature, zero_fraction (float), one_fraction (per pattern), pweight (per pattern)]
    def extend(path: list[list[Any]], d: int, zf: float, of: np.ndarray, fi: int) -> None:
        path.append([fi, zf, of, np.full(P, 1.0 if d == 0 else 0.0)])
        for i in range(d - 1, -1, -1):
            path[i + 1][3] = path[i + 1][3] + of * path[i][3] * (i + 1) / (d + 1)
            path[i][3] = zf * path[i][3] * (d - i) / (d + 1)

    def unwind(path: list[list[Any]], d: int, k: int) -> None:
        of, zf = path[k][2], path[k][1]
        nz = of != 0
        safe = np.where(nz, of, 1.0)
        nxt = path[d][3]
        for i in range(d - 1, -1, -1):
            tmp = path[i][3]
            new = np.where(nz, nxt * (d + 1) / ((i + 1) * safe), tmp * (d + 1) / (zf * (d - i)))
            nxt = np.where(nz, tmp - new * zf * (d - i) / (d + 1), nxt)
            path[i][3] = new
        for i in range(k, d):
            path[i][0], path[i][1], path[i][2] = path[i + 1][0], path[i + 1][1], path[i + 1][2]
        path.pop()

    def unwound_sum(path: list[list[Any]], d: int, k: int) -> np.ndarray:
        of, zf = path[k][2], path[k][1]
        nz = of != 0
        safe = np.where(nz, of, 1.0)
        nxt = path[d][3]
        total = np.zeros(P)
        for i in range(d - 1, -1, -1):
            tmp = nxt * (d + 1) / ((i + 1) * safe)
            total = total + np.where(nz, tmp, (path[i][3] / zf) / ((d - i) / (d + 1)))
            nxt = np.where(nz, path[i][3] - tmp * zf * ((d - i) / (d + 1)), nxt)
        return total

    def recurse(nd: dict[str, Any], parent: list[list[Any]], d: int, zf: float, of: np.ndarray, fi: int) -> None:
        path = [list(e) for e in parent]
        extend(path, d, zf, of, fi)
        if "leaf_value" in nd:
            v = float(nd["leaf_value"])
            for i in range(1, d + 1):
                el = path[i]
                phi[col[el[0]]] += unwound_sum(path, d, i) * (el[2] - el[1]) * v
            return
        f = int(nd["split_feature"])
        w = count(nd)
        iz, io = 1.0, np.ones(P)
        k = next((i for i in range(d + 1) if path[i][0] == f), None)
        if k is not None:  # split on this feature before: undo it, redo it here
            iz, io = path[k][1], path[k][2]
            unwind(path, d, k)
            d -= 1
        go_left = ((pattern >> ids[id(nd)]) & 1).astype(np.float64)
        recurse(nd["left_child"], path, d + 1, count(nd["left_child"]) / w * iz, io * go_left, f)
        recurse(nd["right_child"], path, d + 1, count(nd["right_child"]) / w * iz, io * (1.0 - go_left), f)

    recurse(root, [], 0, 1.0, np.ones(P), -1)
    return np.asarray(feats, dtype=np.int64), phi, expected(root) / count(root), splits


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
