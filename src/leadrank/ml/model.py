"""Training, model selection, calibration, scoring and explanation of lead conversion models.

``train(leads, activities)`` runs (deterministically: the same data and parameters give the same
model however loaded the machine is; ``time_budget_s`` sets how many LightGBM candidates are tried,
a count of fits, never a clock):

1. the leakage guard on the labelled leads (converted = 1, lost = 0; open leads are not rows);
2. an honest evaluation fit: the newest 20 % by ``created_at`` are held out (stratified k-fold of
   the whole pipeline when leads have no dates); on the older 80 % it featurises, compares
   logistic regression, LightGBM and their blend (the average of both models' calibrated
   log-odds) by cross-validated ROC AUC **on the same folds** (mean of the per-fold AUCs, on at
   most ``CV_MAX_ROWS`` sampled leads; the regularisation by the one-standard-error rule over a
   warm-started path; simplest first: the blend must beat logistic regression by the larger of
   ``BLEND_MARGIN`` and twice the standard error of the paired fold differences, LightGBM alone
   must beat both by the larger of ``LGBM_MARGIN`` and that noise, see :func:`choose_model`),
   fits Platt scaling on the winner's out-of-fold margins, and measures everything on the holdout;
3. a refit of the chosen configuration on all labelled leads (the model that scores).

Platt scaling is affine in log-odds, so per-feature log-odds contributions stay exactly additive
after calibration; a blend's contributions are the same weighted sum of both models' exact ones
(linear terms and TreeSHAP); scores are ``100 * p`` and explanations add up to them exactly.
"""

from __future__ import annotations

import json
import time
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.exceptions import NotFittedError
from threadpoolctl import threadpool_limits

from leadrank.errors import InvalidInput
from leadrank.ml import _parsing as P
from leadrank.ml.explain import (
    ExplainContext,
    ExplanationBatch,
    next_actions,
    points_from_log_odds,
    sigmoid,
    top_reasons,
)
from leadrank.ml.features import ActivityStats, LeadFeaturizer, activity_stats, group_category, training_cutoffs
from leadrank.ml.leakage import SingleColumnScorer, detect_leakage
from leadrank.ml.metrics import (
    band_table,
    best_f1_threshold,
    blocked_time_folds,
    calibration_table,
    clean_for_json,
    probability_metrics,
    safe_auc,
    stratified_folds,
    time_holdout_split,
)
from leadrank.ml.scorers import (
    CHUNK,
    BlendScorer,
    LGBM_CANDIDATES,
    LGBM_FIXED,
    LR_GRID,
    LinearScorer,
    Scorer,
    TreeScorer,
    cv_lightgbm,
    cv_linear_path,
    fit_platt,
    fold_aucs,
    scorer_from_state,
)

ARTEFACT_FORMAT = "leadrank.model"
ARTEFACT_VERSION = 1
#: What a model can be: either family, or their blend (which fits both).
ALGORITHMS = ("logistic_regression", "lightgbm", "blend")
#: LightGBM must beat logistic regression by this much CV ROC AUC to be chosen: ties go to the
#: additive model (exact, cheap explanations; steadier under drift).
LGBM_MARGIN = 0.01
#: Further LightGBM candidates are tried only while the best so far is within this much of the
#: AUC it would need to be chosen (candidates differ by less than this on every data set tried).
LGBM_HOPELESS = 0.01
#: The blend must beat logistic regression by at least this much CV ROC AUC (and by the folds' noise):
#: it costs a LightGBM prediction and TreeSHAP per scored lead.
BLEND_MARGIN = 0.002
GRADES = ("A", "B", "C", "D")
#: Default bands: A = top 10 %, B = next 20 %, C = next 30 %, D = the rest.
GRADE_QUANTILES = {"A": 0.90, "B": 0.70, "C": 0.40}
MIN_ROWS = 30
MIN_PER_CLASS = 8
CV_MAX_ROWS = 20_000
#: ``time_budget_s`` buys one LightGBM candidate per this many seconds (a count, never a clock): the
#: default 10 s tries two (a third, plain depth-3 trees, would not have changed the chosen model on any
#: of the bench data sets: its blend was within 0.001 CV AUC of the chosen one or it lost to both).
SECONDS_PER_CANDIDATE = 4.0
#: ... and further candidates are tried only while the LightGBM cross-validation work so far (training
#: rows x features x boosting rounds, summed over folds) is below ``time_budget_s`` times this: about
#: half a CPU-second per 10 s of budget here. 20k generated leads (184 features, ~130 rounds) stop after
#: the first candidate; Olist, bank marketing and the CRM data (<= 2.5e8) try the second.
LGBM_WORK_PER_SECOND = 5e7


def labels_from_outcome(leads: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(mask of labelled rows, y for those rows): converted = 1, lost = 0, anything else unlabelled."""
    if "outcome" not in leads.columns:
        raise InvalidInput("leads need an 'outcome' column (converted / lost / open) to train")
    out = P.clean_strings(leads["outcome"])
    mask = out.isin(["converted", "lost"]).to_numpy()
    y = (out[mask] == "converted").to_numpy().astype(np.int64)
    return mask, y


def grade_for(scores: Any, bands: dict[str, float] | list[tuple[str, float]]) -> np.ndarray:
    """Grade per score from bands ``{grade: minimum score}``; scores below every minimum get the
    grade with the lowest minimum. Works for learned thresholds and user-configured fixed ranges."""
    items = list(bands.items()) if isinstance(bands, dict) else list(bands)
    if not items:
        raise InvalidInput("bands must not be empty")
    items.sort(key=lambda kv: -float(kv[1]))
    s = np.asarray(scores, dtype=np.float64)
    out = np.full(s.shape, items[-1][0], dtype=object)
    for g, lo in reversed(items[:-1]):
        out[s >= float(lo)] = g
    return out


def _default_bands(thresholds: dict[str, float]) -> dict[str, float]:
    return {"A": thresholds["A"], "B": thresholds["B"], "C": thresholds["C"], "D": 0.0}


class _Pipeline:
    """One fitted featurizer + calibrated scorer(s) on a set of labelled leads (internal)."""

    def __init__(self) -> None:
        self.featurizer: LeadFeaturizer
        self.scorers: dict[str, Scorer] = {}
        self.platt: dict[str, tuple[float, float]] = {}
        self.oof_p: dict[str, np.ndarray] = {}
        self.cv_auc: dict[str, float] = {}
        self.tuning: list[dict[str, Any]] = []
        self.config: dict[str, Any] = {}
        self.chosen: str = ""
        self.choice_reason: str = ""

    def proba(self, algo: str, X: np.ndarray) -> np.ndarray:
        a, b = self.platt[algo]
        return sigmoid(a * self.scorers[algo].margin(X) + b)


def lgbm_candidates(time_budget_s: float) -> list[dict[str, Any]]:
    """The LightGBM configurations tried: how many follows from the budget (a count of fits, not
    seconds), so the same data and parameters always give the same model, however loaded the machine."""
    return LGBM_CANDIDATES[: max(1, min(len(LGBM_CANDIDATES), int(float(time_budget_s) // SECONDS_PER_CANDIDATE)))]


def one_se_choice(Cs: list[float], aucs: dict[float, np.ndarray]) -> float:
    """The strongest regularisation whose mean fold AUC is within one standard error of the best
    (the one-standard-error rule): differences smaller than the folds' noise do not buy weaker
    regularisation, which generalises worse to newer leads (measured on Olist and bank marketing)."""
    means = {C: float(np.nanmean(a)) for C, a in aucs.items()}
    best = max(Cs, key=lambda C: (means[C], -C))
    a = aucs[best][~np.isnan(aucs[best])]
    se = float(np.std(a, ddof=1) / np.sqrt(len(a))) if len(a) > 1 else 0.0
    return min(C for C in Cs if means[C] >= means[best] - se)


def _needed_margin(better: np.ndarray, worse: np.ndarray, floor: float) -> float:
    """The larger of ``floor`` and twice the standard error of the paired per-fold AUC differences."""
    diff = np.asarray(better) - np.asarray(worse)
    diff = diff[~np.isnan(diff)]
    se = float(np.std(diff, ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else 0.0
    return max(floor, 2.0 * se)


#: Simplest first: a later kind replaces the choice only when it beats every simpler one clearly.
_PREFERENCE = ("logistic_regression", "blend", "lightgbm")
_LABEL = {"logistic_regression": "logistic regression", "blend": "the blend", "lightgbm": "LightGBM"}


def choose_model(cv: dict[str, float], folds: dict[str, np.ndarray]) -> tuple[str, str, dict[str, float]]:
    """Logistic regression, the blend or LightGBM, from cross-validated ROC AUC on identical folds.

    Simplest first: the blend is chosen only when it beats logistic regression by more than the
    larger of ``BLEND_MARGIN`` and twice the standard error of the paired per-fold differences;
    LightGBM alone only when it beats logistic regression *and* the blend by more than the larger
    of ``LGBM_MARGIN`` and that noise. The blend hedges between a linear model that misses
    interactions and trees that also learn period-specific patterns (Olist: the time-block CV
    preferred LightGBM while the newer leads preferred logistic regression; the blend stays close
    to the better of the two on both).
    """
    floor = {"blend": BLEND_MARGIN, "lightgbm": LGBM_MARGIN}
    kinds = [a for a in _PREFERENCE if a in cv]
    chosen, need, lines = kinds[0], {}, []
    for i, a in enumerate(kinds[1:], start=1):
        ok = True
        for simpler in kinds[:i]:
            n = _needed_margin(folds[a], folds[simpler], floor[a])
            need[f"{a}_vs_{simpler}"] = n
            won = cv[a] > cv[simpler] + n
            ok = ok and won
            lines.append(f"{_LABEL[a]} {cv[a]:.4f} {'beats' if won else 'does not beat'} {_LABEL[simpler]} "
                         f"{cv[simpler]:.4f} by more than {n:.4f}")
        if ok:
            chosen = a
    reason = (f"{_LABEL[chosen]} chosen by cross-validated ROC AUC, simplest first ("
              + "; ".join(lines) + f"; a margin is the larger of {BLEND_MARGIN} for the blend or {LGBM_MARGIN} for "
              "LightGBM and twice the standard error of the per-fold differences)")
    return chosen, reason[0].upper() + reason[1:], need


def _fit_pipeline(leads: pd.DataFrame, activities: pd.DataFrame | None, y: np.ndarray, cut: np.ndarray, *,
                  excluded: set[str], half_life_days: float, random_state: int, algorithms: tuple[str, ...],
                  config: dict[str, Any] | None, budget: float, k: int,
                  created_ns: np.ndarray | None = None, stats: ActivityStats | None = None) -> _Pipeline:
    pl = _Pipeline()
    pl.featurizer = LeadFeaturizer(half_life_days=half_life_days, exclude_columns=tuple(sorted(excluded)),
                                   random_state=random_state)
    folds = blocked_time_folds(created_ns, y, k)
    pl.fold_kind = "time_blocks" if folds is not None else "stratified"  # type: ignore[attr-defined]
    if folds is None:
        folds = stratified_folds(y, k, random_state)
    X_all, _ = pl.featurizer.fit_transform_array(leads, activities, y, cutoff=cut, folds=folds, stats=stats)
    y_all = y
    # Selection and calibration run on at most CV_MAX_ROWS leads (stratified sample); the chosen
    # configuration is then fitted on every row. Keeps 100k-lead training well inside a minute.
    sub = np.arange(len(y))
    if len(y) > CV_MAX_ROWS:
        sub = np.sort(np.random.default_rng(random_state).choice(len(y), CV_MAX_ROWS, replace=False))
    X, y, folds = X_all[sub], y[sub], folds[sub]
    oof_margin: dict[str, np.ndarray] = {}
    cfg: dict[str, Any] = dict(config or {})
    families = ("logistic_regression", "lightgbm") if "blend" in algorithms else algorithms
    if "logistic_regression" in families:
        grid = [cfg["lr_C"]] if "lr_C" in cfg else list(LR_GRID)
        t = time.perf_counter()
        oofs, aucs = cv_linear_path(X, y, folds, tuple(grid), random_state)
        grid = sorted(aucs)  # the path stops once the AUC turns down
        secs = (time.perf_counter() - t) / len(grid)
        for C in grid:
            pl.tuning.append({"algorithm": "logistic_regression", "C": C, "cv_roc_auc": float(np.nanmean(aucs[C])),
                              "cv_roc_auc_pooled": safe_auc(y, oofs[C]),
                              "cv_fold_roc_auc": [float(v) for v in aucs[C]], "seconds": secs})
        C = one_se_choice(sorted(grid), aucs)
        cfg["lr_C"] = C
        pl.cv_auc["logistic_regression"] = float(np.nanmean(aucs[C]))
        # the comparison with LightGBM uses the best C (both families at their best on the folds)
        lr_best_C = max(sorted(grid), key=lambda c: float(np.nanmean(aucs[c])))
        lr_best_auc = float(np.nanmean(aucs[lr_best_C]))
        oof_margin["logistic_regression"] = oofs[C]
    if "lightgbm" in families:
        cands = [cfg["lgbm_params"]] if "lgbm_params" in cfg else lgbm_candidates(budget)
        max_rounds = int(cfg.get("lgbm_rounds", 600))
        ds = lgb.Dataset(X, label=y, params={"max_bin": LGBM_FIXED["max_bin"], "verbose": -1,
                                             "feature_pre_filter": False}, free_raw_data=False)
        best = None
        work = 0.0
        for params in cands:
            if best is not None and "logistic_regression" in pl.cv_auc and \
                    best[0] < lr_best_auc + LGBM_MARGIN - LGBM_HOPELESS:
                # LightGBM is nowhere near the margin it needs to be chosen: further candidates
                # cannot change the model (a rule on AUC, not on time, so it is deterministic)
                break
            if best is not None and work >= budget * LGBM_WORK_PER_SECOND:
                # large data: the candidates' blends differed by < 0.001 CV AUC there, and each
                # costs seconds (a rule on counted work, never on the clock)
                break
            t = time.perf_counter()
            if "lgbm_rounds" in cfg:  # fixed configuration: no early stopping, same number of rounds
                m = np.empty(len(y))
                for f in np.unique(folds):
                    va = folds == f
                    m[va] = TreeScorer(params, max_rounds, random_state).fit(X[~va], y[~va]).margin(X[va])
                n_iter = max_rounds
            else:
                m, n_iter = cv_lightgbm(X, y, folds, params, max_rounds, random_state, ds)
            k_folds = len(np.unique(folds))
            work += (k_folds - 1) * len(y) * X.shape[1] * (n_iter + 20)  # rows x features x rounds, all folds
            fa = fold_aucs(y, m, folds)
            auc = float(np.nanmean(fa))
            pl.tuning.append({"algorithm": "lightgbm", **params, "rounds": n_iter, "cv_roc_auc": auc,
                              "cv_roc_auc_pooled": safe_auc(y, m), "cv_fold_roc_auc": [float(v) for v in fa],
                              "seconds": time.perf_counter() - t})
            if best is None or auc > best[0]:
                best = (auc, params, n_iter, m, fa)
        assert best is not None
        pl.cv_auc["lightgbm"], cfg["lgbm_params"], cfg["lgbm_rounds"], oof_margin["lightgbm"], lgbm_folds = best
    fold_auc = {"lightgbm": lgbm_folds} if "lightgbm" in oof_margin else {}
    if "logistic_regression" in oof_margin:
        fold_auc["logistic_regression"] = aucs[lr_best_C]
    for algo, m in oof_margin.items():
        a, b = fit_platt(m, y)
        pl.platt[algo] = (a, b)
        pl.oof_p[algo] = sigmoid(a * m + b)
        if algo == "logistic_regression":
            pl.scorers[algo] = LinearScorer(C=cfg["lr_C"], random_state=random_state).fit(X_all, y_all)
        else:
            pl.scorers[algo] = TreeScorer(cfg["lgbm_params"], cfg["lgbm_rounds"], random_state).fit(X_all, y_all)
    w_lr, w_gb = (0.5 * pl.platt[a][0] if a in pl.platt else 0.0 for a in ("logistic_regression", "lightgbm"))
    if "blend" in algorithms and w_lr > 0 and w_gb > 0:
        # the blend: the equal-weight average of both models' calibrated log-odds, i.e. the margins
        # weighted by half their Platt slopes (the intercepts only shift it: its own Platt absorbs
        # them). Equal weights, not weights fitted on the folds: fitted weights chase the folds'
        # noise and period effects (Olist: CV wanted 90 % LightGBM, newer leads preferred less).
        # Offered only when both models rank in the right direction out of fold (positive slopes).
        m = w_lr * oof_margin["logistic_regression"] + w_gb * oof_margin["lightgbm"]
        fold_auc["blend"] = fold_aucs(y, m, folds)
        pl.cv_auc["blend"] = float(np.nanmean(fold_auc["blend"]))
        a, b = fit_platt(m, y)
        pl.platt["blend"] = (a, b)
        pl.oof_p["blend"] = sigmoid(a * m + b)
        pl.scorers["blend"] = BlendScorer(pl.scorers["logistic_regression"], pl.scorers["lightgbm"],  # type: ignore[arg-type]
                                          w_lr, w_gb)
        pl.tuning.append({"algorithm": "blend", "weights": {"logistic_regression": w_lr, "lightgbm": w_gb},
                          "cv_roc_auc": pl.cv_auc["blend"], "cv_roc_auc_pooled": safe_auc(y, m),
                          "cv_fold_roc_auc": [float(v) for v in fold_auc["blend"]], "seconds": 0.0})
    pl.config = cfg
    allowed = [a for a in _PREFERENCE if a in algorithms and a in pl.scorers]
    if not allowed:  # only the blend was requested, and a model ranks the wrong way round out of fold
        allowed = [a for a in _PREFERENCE if a in pl.scorers]
    if len(allowed) == 1:
        pl.chosen = allowed[0]
        pl.choice_reason = f"only {pl.chosen} was requested"
    else:
        cv = {**pl.cv_auc, "logistic_regression": lr_best_auc} if "logistic_regression" in pl.cv_auc else pl.cv_auc
        pl.chosen, pl.choice_reason, pl.selection_margin = choose_model(  # type: ignore[attr-defined]
            {a: cv[a] for a in allowed}, fold_auc)
        if "blend" in algorithms and "blend" not in pl.scorers:
            pl.choice_reason += ("; no blend: a model's out-of-fold margins rank leads the wrong way round "
                                 "(negative calibration slope)")
    pl.X_train = X_all  # type: ignore[attr-defined]
    pl.folds = folds  # type: ignore[attr-defined]
    pl.cv_rows = sub  # type: ignore[attr-defined]
    return pl


def _refit_scorer(old: Scorer, config: dict[str, Any], X: np.ndarray, y: np.ndarray, random_state: int) -> Scorer:
    """The same configuration (C, LightGBM parameters and rounds, blend weights) fitted on ``X``."""
    if isinstance(old, BlendScorer):
        return BlendScorer(_refit_scorer(old.linear, config, X, y, random_state),  # type: ignore[arg-type]
                           _refit_scorer(old.tree, config, X, y, random_state),  # type: ignore[arg-type]
                           old.w_linear, old.w_tree)
    if isinstance(old, LinearScorer):
        return LinearScorer(C=config["lr_C"], random_state=random_state).fit(X, y)
    # same number of rounds as the configuration that was calibrated
    return TreeScorer(config["lgbm_params"], old.num_boost_round, random_state).fit(X, y)


def _refit_all(leads: pd.DataFrame, activities: pd.DataFrame | None, y: np.ndarray, cut: np.ndarray,
               pl: _Pipeline, *, excluded: set[str], half_life_days: float, random_state: int,
               created_ns: np.ndarray | None, k: int, stats: ActivityStats | None = None) -> _Pipeline:
    """The chosen configuration refitted on every labelled lead. Platt parameters and grade
    thresholds are reused from the evaluation fit's out-of-fold margins (same configuration, 80 % of
    the rows): a second cross-validation would double the training time for a negligible change,
    and the holdout report measures exactly this calibration."""
    out = _Pipeline()
    out.featurizer = LeadFeaturizer(half_life_days=half_life_days, exclude_columns=tuple(sorted(excluded)),
                                    random_state=random_state)
    folds = blocked_time_folds(created_ns, y, k)
    if folds is None:
        folds = stratified_folds(y, k, random_state)
    X, _ = out.featurizer.fit_transform_array(leads, activities, y, cutoff=cut, folds=folds, stats=stats)
    algo = pl.chosen
    out.scorers[algo] = _refit_scorer(pl.scorers[algo], pl.config, X, y, random_state)
    out.platt = {algo: pl.platt[algo]}
    out.oof_p = {algo: pl.oof_p[algo]}
    out.cv_auc = dict(pl.cv_auc)
    out.chosen = algo
    out.config = pl.config
    out.X_train = X  # type: ignore[attr-defined]
    return out


class TrainedModel:
    """A lead conversion model: featurizer + scorer + Platt calibration + grade bands + report.

    scikit-learn style: ``__init__`` stores parameters, ``fit`` learns and returns ``self``; using an
    unfitted model raises ``NotFittedError``. Usually built with :func:`train` or :meth:`from_artefact`.

    ``algorithms`` lists what may be chosen among ``ALGORITHMS`` (logistic regression, LightGBM and
    their blend; ``("blend",)`` forces the blend). ``time_budget_s`` is a count, never a clock: one
    LightGBM candidate per ``SECONDS_PER_CANDIDATE``, fewer on large data (``LGBM_WORK_PER_SECOND``).
    The scorer is ``scorer_`` (``margin``, ``raw_contributions``, ``base_margin``) and calibrated
    log-odds are ``calibration_["slope"] * margin + calibration_["intercept"]`` for every kind.
    """

    def __init__(self, *, time_budget_s: float = 10.0, random_state: int = 0,
                 include_columns: tuple[str, ...] | list[str] = (), exclude_columns: tuple[str, ...] | list[str] = (),
                 half_life_days: float = 21.0, holdout_fraction: float = 0.2, refit: bool = True,
                 algorithms: tuple[str, ...] = ALGORITHMS, cv_folds: int | None = None,
                 evaluate: bool = True) -> None:
        self.time_budget_s = time_budget_s
        self.random_state = random_state
        self.include_columns = include_columns
        self.exclude_columns = exclude_columns
        self.half_life_days = half_life_days
        self.holdout_fraction = holdout_fraction
        self.refit = refit
        self.algorithms = algorithms
        self.cv_folds = cv_folds
        self.evaluate = evaluate

    # ------------------------------------------------------------------ fitting
    def fit(self, leads: pd.DataFrame, activities: pd.DataFrame | None = None, as_of: Any = None) -> TrainedModel:
        # One BLAS thread: the linear fits are small, and spinning BLAS threads on a busy 2-core
        # machine made them 3-5x slower. LightGBM keeps its own OpenMP threads.
        with threadpool_limits(limits=1, user_api="blas"):
            return self._fit(leads, activities, as_of)

    def _fit(self, leads: pd.DataFrame, activities: pd.DataFrame | None, as_of: Any) -> TrainedModel:
        t0 = time.perf_counter()
        algos = tuple(a for a in ALGORITHMS if a in self.algorithms)
        if not algos:
            raise InvalidInput(f"algorithms must be among {ALGORITHMS}")
        mask, y = labels_from_outcome(leads)
        if len(y) < MIN_ROWS or y.sum() < MIN_PER_CLASS or (1 - y).sum() < MIN_PER_CLASS:
            raise InvalidInput(
                f"not enough outcomes to train: need at least {MIN_ROWS} converted/lost leads with {MIN_PER_CLASS} of "
                f"each, have {len(y)} ({int(y.sum())} converted)")
        L = leads.loc[mask].reset_index(drop=True)
        cut = training_cutoffs(L, as_of)
        n = len(y)
        k = self.cv_folds or (5 if n <= 10_000 else 3)
        budget = float(self.time_budget_s)
        outcome_ns = P.to_epoch_ns(L["outcome_date"]) if "outcome_date" in L.columns else None
        created_ns = P.to_epoch_ns(L["created_at"]) if "created_at" in L.columns else None
        if outcome_ns is not None and (outcome_ns == P.NAT_NS).all():
            outcome_ns = None
        leak = detect_leakage(L, y, outcome_ns=outcome_ns, created_ns=created_ns,
                              include_columns=tuple(self.include_columns), random_state=self.random_state)
        excluded = set(self.exclude_columns) | set(leak["excluded_columns"])
        common = {"excluded": excluded, "half_life_days": self.half_life_days, "random_state": self.random_state}
        # point-in-time activity aggregates of every labelled lead, computed once and sliced for
        # each fit below (each lead's cut-off is the same in all of them)
        st_all = None
        if activities is not None and len(activities) and "lead_id" in L.columns:
            st_all = activity_stats(L["lead_id"], cut, activities, self.half_life_days)

        def st(idx: np.ndarray | None) -> ActivityStats | None:
            return None if st_all is None else (st_all if idx is None else st_all.take(idx))
        split = time_holdout_split(created_ns, y, self.holdout_fraction) if self.evaluate else None
        report: dict[str, Any] = {}
        t_eval = time.perf_counter()
        if not self.evaluate:
            pl = _fit_pipeline(L, activities, y, cut, algorithms=algos, config=None, budget=budget, k=k,
                               created_ns=created_ns, stats=st(None), **common)
            p_eval = dict(pl.oof_p)
            y_eval_cv = y[pl.cv_rows]
            evaluation = {"method": "cross_validation_only",
                          "note": ("evaluate=False: metrics are out-of-fold predictions of the model-selection "
                                   "cross-validation (slightly optimistic: the configuration was chosen on them)"),
                          "n_train": int(n), "n_holdout": int(len(pl.cv_rows))}
            y_eval = y_eval_cv
            base_train = float(y.mean())
            baseline_train = baseline_eval = None
            y_base_train = y
        elif split is not None:
            tr, ho = split
            pl = _fit_pipeline(L.iloc[tr].reset_index(drop=True), activities, y[tr], cut[tr], algorithms=algos,
                               config=None, budget=budget, k=k, created_ns=created_ns[tr], stats=st(tr), **common)
            X_ho, _ = pl.featurizer._transform(L.iloc[ho].reset_index(drop=True), activities, cut[ho], stats=st(ho))
            ho_p = {a: pl.proba(a, X_ho) for a in pl.scorers}
            evaluation = {"method": "time_holdout", "holdout_fraction": self.holdout_fraction,
                          "holdout_created_from": _iso(created_ns[ho].min()),
                          "holdout_created_to": _iso(created_ns[ho].max()),
                          "train_created_to": _iso(created_ns[tr].max()), "n_train": int(len(tr)),
                          "n_holdout": int(len(ho))}
            y_eval, p_eval = y[ho], ho_p
            base_train = float(y[tr].mean())
            baseline_train, baseline_eval = L.iloc[tr], L.iloc[ho]
            y_base_train = y[tr]
        else:
            pl = _fit_pipeline(L, activities, y, cut, algorithms=algos, config=None, budget=budget, k=k,
                               stats=st(None), **common)
            outer = stratified_folds(y, 5, self.random_state + 1)
            p_eval = {a: np.empty(n) for a in pl.scorers}
            for f in np.unique(outer):
                va = outer == f
                sub = _fit_pipeline(L.loc[~va].reset_index(drop=True), activities, y[~va], cut[~va],
                                    algorithms=tuple(pl.scorers), config=pl.config, budget=budget, k=3,
                                    stats=st(np.flatnonzero(~va)), **common)
                Xv, _ = sub.featurizer._transform(L.loc[va].reset_index(drop=True), activities, cut[va],
                                                  stats=st(np.flatnonzero(va)))
                for a in sub.scorers:
                    p_eval[a][va] = sub.proba(a, Xv)
            evaluation = {"method": "stratified_5_fold", "reason": "leads have no usable created_at dates",
                          "n_train": int(n * 4 // 5), "n_holdout": int(n)}
            y_eval = y
            base_train = float(y.mean())
            baseline_train = baseline_eval = None
            y_base_train = y
        eval_seconds = time.perf_counter() - t_eval
        y_fit = y[split[0]] if split else y
        y_cv = y_fit[pl.cv_rows]
        threshold = best_f1_threshold(y_cv, pl.oof_p[pl.chosen])
        thresholds_eval = _grade_thresholds(pl.oof_p[pl.chosen] * 100.0)
        alternatives = {}
        for a, p in p_eval.items():
            m = probability_metrics(y_eval, p, best_f1_threshold(y_cv, pl.oof_p[a]))
            m["cv_roc_auc"] = pl.cv_auc[a]
            m["details"] = pl.scorers[a].describe()
            alternatives[a] = m
        chosen_p = p_eval[pl.chosen]
        report.update(probability_metrics(y_eval, chosen_p, threshold))
        report["threshold_rule"] = "maximises F1 on the out-of-fold predictions of the training part"
        report["calibration"] = calibration_table(y_eval, chosen_p)
        report["score_bands"] = band_table(y_eval, chosen_p * 100, grade_for(chosen_p * 100,
                                                                              _default_bands(thresholds_eval)))
        report["baselines"] = _baselines(y_eval, base_train, baseline_train, baseline_eval, y_base_train, leak)
        report["alternatives"] = alternatives
        report["evaluation"] = evaluation
        report["selection"] = {"metric": "cross-validated ROC AUC on identical folds",
                               "why_roc_auc": ("ROC AUC ranks the whole list (reps work it top-down and grades cover "
                                               "every lead), does not depend on the base rate, and is far steadier "
                                               "than PR AUC when a fold holds only a few hundred conversions; PR AUC "
                                               "and capture@10/20% are reported beside it"),
                               "cv_folds": int(pl.folds.max() + 1), "cv_fold_kind": pl.fold_kind,
                               "cv_roc_auc": pl.cv_auc,
                               "chosen": pl.chosen, "reason": pl.choice_reason, "tuning": pl.tuning,
                               "lgbm_margin": LGBM_MARGIN, "blend_margin": BLEND_MARGIN,
                               "margins_needed": getattr(pl, "selection_margin", None)}
        report["leakage"] = leak
        report["class_balance"] = {"rule": "no resampling or class weights: Platt scaling on out-of-fold margins "
                                           "keeps probabilities honest at the true base rate",
                                   "base_rate_train": base_train}
        report["evaluation_seconds"] = eval_seconds
        # -------------------------------------------------------------- final model on all labelled leads
        t_final = time.perf_counter()
        if self.refit and split is not None:
            final = _refit_all(L, activities, y, cut, pl, created_ns=created_ns, k=k, stats=st(None), **common)
        else:
            final = pl
        self.featurizer_ = final.featurizer
        self.algorithm_ = pl.chosen
        self.scorer_ = final.scorers[pl.chosen]
        self.calibration_ = {"method": "platt", "slope": final.platt[pl.chosen][0],
                             "intercept": final.platt[pl.chosen][1]}
        self.decision_threshold_ = float(threshold)
        oof_scores = final.oof_p[pl.chosen] * 100.0
        self.grade_thresholds_ = _grade_thresholds(oof_scores)
        self.feature_names_ = list(self.featurizer_.feature_names_)
        self.feature_groups_ = dict(self.featurizer_.feature_groups_)
        self.groups_ = _ordered_groups(self.feature_names_, self.feature_groups_)
        self.base_rate_ = float(y.mean())
        self._fitted = True
        rng = np.random.default_rng(self.random_state)
        sample = np.sort(rng.choice(n, min(n, 3000), replace=False))
        phi, _ = self._group_log_odds(final.X_train[sample])  # type: ignore[attr-defined]
        imp = np.abs(phi).mean(axis=0)
        self.importance_ = {g: float(v) for g, v in zip(self.groups_, imp, strict=True)}
        self.feature_ranges_ = {}
        report["n_train"] = int(evaluation["n_train"])
        report["n_holdout"] = int(evaluation["n_holdout"])
        report["n_final"] = int(n)
        report["n_unlabelled_ignored"] = int((~mask).sum())
        report["algorithm"] = pl.chosen
        report["final_model"] = self.scorer_.describe()
        report["n_features"] = len(self.feature_names_)
        report["column_types"] = self.featurizer_.column_types_
        report["grade_thresholds"] = self.grade_thresholds_
        report["decision_threshold"] = self.decision_threshold_
        report["feature_importance"] = self.feature_importance()
        report["final_fit_seconds"] = time.perf_counter() - t_final
        report["training_seconds"] = time.perf_counter() - t0
        report["training_time_s"] = report["training_seconds"]
        self.report_ = clean_for_json(report)
        return self

    # ------------------------------------------------------------------ properties
    def _check(self) -> None:
        if not getattr(self, "_fitted", False):
            raise NotFittedError("TrainedModel is not fitted: use train(...) or TrainedModel.from_artefact(...)")

    @property
    def report(self) -> dict[str, Any]:
        self._check()
        return self.report_

    @property
    def algorithm(self) -> str:
        self._check()
        return self.algorithm_

    @property
    def grade_thresholds(self) -> dict[str, float]:
        self._check()
        return dict(self.grade_thresholds_)

    # ------------------------------------------------------------------ scoring
    def _features(self, leads: pd.DataFrame, activities: pd.DataFrame | None, as_of: Any):
        self._check()
        return self.featurizer_.transform_array(leads, activities, as_of=as_of)

    def _calibrated_margin(self, X: np.ndarray) -> np.ndarray:
        return self.calibration_["slope"] * self.scorer_.margin(X) + self.calibration_["intercept"]

    def predict_proba(self, leads: pd.DataFrame, activities: pd.DataFrame | None = None,
                      as_of: Any = None) -> np.ndarray:
        """Calibrated conversion probability per lead (1-D array)."""
        X, _ = self._features(leads, activities, as_of)
        return sigmoid(self._calibrated_margin(X))

    def predict_score(self, leads: pd.DataFrame, activities: pd.DataFrame | None = None,
                      as_of: Any = None) -> np.ndarray:
        return 100.0 * self.predict_proba(leads, activities, as_of)

    def grade_for(self, scores: Any, bands: dict[str, float] | None = None) -> np.ndarray:
        """Grades for scores: the learned percentile bands, or user-configured ``{grade: min score}``."""
        self._check()
        return grade_for(scores, bands if bands is not None else _default_bands(self.grade_thresholds_))

    # ------------------------------------------------------------------ explanations
    def _group_matrix(self) -> np.ndarray:
        idx = {g: i for i, g in enumerate(self.groups_)}
        M = np.zeros((len(self.feature_names_), len(self.groups_)))
        for j, f in enumerate(self.feature_names_):
            M[j, idx[self.feature_groups_[f]]] = 1.0
        return M

    def _group_log_odds(self, X: np.ndarray, keep_features: bool = False
                        ) -> tuple[np.ndarray, float, np.ndarray | None]:
        """Calibrated log-odds contributions per group (n x G), the base logit, optional per-feature."""
        a, b = self.calibration_["slope"], self.calibration_["intercept"]
        M = self._group_matrix()
        out = np.empty((len(X), len(self.groups_)), dtype=np.float64)
        feats = np.empty((len(X), len(self.feature_names_)), dtype=np.float32) if keep_features else None
        base_raw = self.scorer_.base_margin
        for s in range(0, len(X), CHUNK):
            phi, base_raw = self.scorer_.raw_contributions(X[s:s + CHUNK])
            out[s:s + CHUNK] = (phi * a) @ M
            if feats is not None:
                feats[s:s + CHUNK] = phi * a
        return (out, a * base_raw + b, feats) if keep_features else (out, a * base_raw + b)  # type: ignore

    def explain_batch(self, leads: pd.DataFrame, activities: pd.DataFrame | None = None, as_of: Any = None,
                      top: int = 5, *, reasons: bool = True, bands: dict[str, float] | None = None,
                      keep_features: bool = False) -> ExplanationBatch:
        """Columnar explanations for many leads: scores, group points, top reasons, next actions."""
        X, stats = self._features(leads, activities, as_of)
        if keep_features:
            phi, base_logit, feats = self._group_log_odds(X, keep_features=True)
        else:
            phi, base_logit = self._group_log_odds(X)
            feats = None
        points, p, base_points = points_from_log_odds(phi, base_logit)
        score = 100.0 * p
        grades = self.grade_for(score, bands)
        ctx = ExplainContext(leads=leads.reset_index(drop=True), stats=stats,
                             column_types=self.featurizer_.column_types_,
                             completeness_fields=_completeness_fields(self.featurizer_))
        if reasons:
            up, down = top_reasons(points, self.groups_, ctx, top)
        else:
            up = down = np.full((len(score), 0), None, dtype=object)
        ids = leads["lead_id"].to_numpy(dtype=object) if "lead_id" in leads.columns else np.arange(len(score))
        return ExplanationBatch(
            lead_ids=ids, probability=p, score=score, grade=grades, base_points=base_points, base_logit=base_logit,
            groups=list(self.groups_), points=points.astype(np.float64), log_odds=phi,
            reasons_up=up, reasons_down=down, next_action=next_actions(stats, grades), ctx=ctx,
            feature_log_odds=feats, feature_names=self.feature_names_, feature_groups=self.feature_groups_,
        )

    def explain(self, leads: pd.DataFrame, activities: pd.DataFrame | None = None, as_of: Any = None,
                top: int = 5) -> list[dict[str, Any]]:
        """One explanation dict per lead: score, probability, base_points, contributions (grouped by user
        column, in score points and log-odds), top ``top`` reasons up and down, next action."""
        return self.explain_batch(leads, activities, as_of, top, keep_features=True).to_dicts()

    def feature_importance(self, by: str = "group") -> list[dict[str, Any]]:
        """Mean |contribution| (calibrated log-odds) per user column on a training sample, largest first."""
        self._check()
        total = sum(self.importance_.values()) or 1.0
        rows = [{"name": g, "group": g, "category": group_category(g), "importance": v, "share": v / total}
                for g, v in self.importance_.items()]
        rows.sort(key=lambda r: -r["importance"])
        return rows

    # ------------------------------------------------------------------ persistence (JSON, never pickle)
    def to_artefact(self) -> str:
        self._check()
        doc = {
            "format": ARTEFACT_FORMAT, "format_version": ARTEFACT_VERSION, "algorithm": self.algorithm_,
            "params": {"time_budget_s": self.time_budget_s, "random_state": self.random_state,
                       "include_columns": list(self.include_columns), "exclude_columns": list(self.exclude_columns),
                       "half_life_days": self.half_life_days, "holdout_fraction": self.holdout_fraction,
                       "refit": self.refit, "algorithms": list(self.algorithms), "cv_folds": self.cv_folds,
                       "evaluate": self.evaluate},
            "featurizer": self.featurizer_.get_state(), "scorer": self.scorer_.get_state(),
            "calibration": self.calibration_, "grade_thresholds": self.grade_thresholds_,
            "decision_threshold": self.decision_threshold_, "feature_names": self.feature_names_,
            "feature_groups": self.feature_groups_, "groups": self.groups_, "importance": self.importance_,
            "base_rate": self.base_rate_, "report": self.report_,
        }
        return json.dumps(doc, allow_nan=False)

    @classmethod
    def from_artefact(cls, s: str) -> TrainedModel:
        try:
            doc = json.loads(s)
        except (TypeError, ValueError) as exc:
            raise InvalidInput("not a leadrank model artefact (invalid JSON)") from exc
        if not isinstance(doc, dict) or doc.get("format") != ARTEFACT_FORMAT:
            raise InvalidInput("not a leadrank model artefact")
        if doc.get("format_version") != ARTEFACT_VERSION:
            raise InvalidInput(f"unsupported artefact version {doc.get('format_version')!r}")
        p = doc["params"]
        m = cls(time_budget_s=p["time_budget_s"], random_state=p["random_state"],
                include_columns=tuple(p["include_columns"]), exclude_columns=tuple(p["exclude_columns"]),
                half_life_days=p["half_life_days"], holdout_fraction=p["holdout_fraction"], refit=p["refit"],
                algorithms=tuple(p["algorithms"]), cv_folds=p["cv_folds"], evaluate=p.get("evaluate", True))
        m.featurizer_ = LeadFeaturizer.from_state(doc["featurizer"])
        m.scorer_ = scorer_from_state(doc["scorer"])
        m.algorithm_ = doc["algorithm"]
        m.calibration_ = doc["calibration"]
        m.grade_thresholds_ = doc["grade_thresholds"]
        m.decision_threshold_ = doc["decision_threshold"]
        m.feature_names_ = doc["feature_names"]
        m.feature_groups_ = doc["feature_groups"]
        m.groups_ = doc["groups"]
        m.importance_ = doc["importance"]
        m.base_rate_ = doc["base_rate"]
        m.report_ = doc["report"]
        m._fitted = True
        return m


def train(leads: pd.DataFrame, activities: pd.DataFrame | None = None, *, as_of: Any = None,
          random_state: int = 0, time_budget_s: float = 10.0, include_columns: tuple[str, ...] | list[str] = (),
          exclude_columns: tuple[str, ...] | list[str] = (), **params: Any) -> TrainedModel:
    """Train, select, calibrate and honestly evaluate a lead conversion model (see module doc)."""
    return TrainedModel(time_budget_s=time_budget_s, random_state=random_state, include_columns=include_columns,
                        exclude_columns=exclude_columns, **params).fit(leads, activities, as_of=as_of)


# --------------------------------------------------------------------------- helpers

def _iso(ns: int) -> str | None:
    return None if ns == P.NAT_NS else pd.Timestamp(int(ns), tz="UTC").isoformat()


def _grade_thresholds(scores: np.ndarray) -> dict[str, float]:
    return {g: float(np.quantile(scores, q)) for g, q in GRADE_QUANTILES.items()}


def _ordered_groups(names: list[str], groups: dict[str, str]) -> list[str]:
    seen: dict[str, None] = {}
    for f in names:
        seen.setdefault(groups[f], None)
    return list(seen)


def _completeness_fields(f: LeadFeaturizer) -> list[str]:
    for spec in f.specs_:
        if spec["kind"] == "completeness":
            return list(spec["fields"])
    return []


def _baselines(y_eval: np.ndarray, base_train: float, L_train: pd.DataFrame | None, L_eval: pd.DataFrame | None,
               y_train: np.ndarray, leak: dict[str, Any]) -> dict[str, Any]:
    """Base-rate and best-single-column baselines on the same evaluation rows."""
    out: dict[str, Any] = {"base_rate": probability_metrics(y_eval, np.full(len(y_eval), base_train))}
    out["base_rate"]["roc_auc"] = 0.5
    excluded = set(leak["excluded_columns"])
    cands = sorted(((c, v) for c, v in leak["columns"].items() if c not in excluded),
                   key=lambda kv: -kv[1]["auc"])
    if cands and L_train is not None and L_eval is not None:
        col, info = cands[0]
        sc = SingleColumnScorer(col, info["type"]).fit(L_train, y_train)
        s = sc.score(L_eval)
        m = probability_metrics(y_eval, np.clip(_rank01(s), 1e-6, 1 - 1e-6))
        out["best_single_feature"] = {"column": col, "train_single_column_auc": info["auc"],
                                      "roc_auc": m["roc_auc"], "pr_auc": m["pr_auc"],
                                      "capture_at_10": m["capture_at_10"], "capture_at_20": m["capture_at_20"]}
    elif cands:
        col, info = cands[0]
        out["best_single_feature"] = {"column": col, "roc_auc": info["auc"],
                                      "note": "cross-fitted single-column AUC on all labelled leads (no dates)"}
    return out


def _rank01(s: np.ndarray) -> np.ndarray:
    r = pd.Series(s).rank(method="average").to_numpy()
    return r / (len(r) + 1)
