from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from leadrank.errors import InvalidInput
from leadrank.ml.evaluate import evaluate
from leadrank.ml.explain import MINUS, points_from_log_odds
from leadrank.ml.model import TrainedModel, grade_for, train

from .conftest import demo


def test_model_beats_baselines_on_demo_data(demo_model):
    r = demo_model.report
    assert r["evaluation"]["method"] == "time_holdout"
    base = r["baselines"]
    assert r["roc_auc"] >= 0.78
    assert r["roc_auc"] >= base["best_single_feature"]["roc_auc"] + 0.08
    assert r["pr_auc"] >= 2.5 * r["base_rate"]
    assert r["capture_at_20"] >= 0.5  # the top 20 % hold at least half of the conversions
    assert r["brier"] < base["base_rate"]["brier"]
    assert r["log_loss"] < base["base_rate"]["log_loss"]
    assert set(r["alternatives"]) == {"logistic_regression", "lightgbm", "blend"}
    for alt in r["alternatives"].values():
        assert {"roc_auc", "pr_auc", "brier", "log_loss", "capture_at_20", "cv_roc_auc"} <= set(alt)
    assert r["algorithm"] == demo_model.algorithm


def test_learns_the_true_drivers_not_the_noise(demo_model):
    imp = {row["name"]: row["importance"] for row in demo_model.feature_importance()}
    for driver in ("job_title", "engagement", "custom.budget_confirmed", "company_size"):
        assert driver in imp
    top = sorted(imp, key=imp.get, reverse=True)[:8]
    assert "job_title" in top and "custom.budget_confirmed" in top and "engagement" in top
    # noise columns get some weight from sampling noise (a dozen one-hot levels on ~5k rows), but
    # every one of them ranks below each of the strongest true drivers
    for noise in ("custom.favourite_color", "custom.lead_owner_initials"):
        for driver in ("job_title", "engagement", "custom.budget_confirmed", "lead_source"):
            assert imp.get(noise, 0.0) < imp[driver], (noise, driver)
        assert imp.get(noise, 0.0) < 0.35 * imp["job_title"]


def test_holdout_is_newer_than_training_and_never_training_rows(demo_model, demo_data):
    r = demo_model.report
    ev = r["evaluation"]
    assert ev["holdout_created_from"] >= ev["train_created_to"]
    leads = demo_data[0]
    assert ev["n_train"] + ev["n_holdout"] == int(leads["outcome"].isin(["converted", "lost"]).sum())


def test_calibration_on_fresh_data(demo_model):
    # An independent sample from the same process (another seed) is a clean holdout. With ~10k
    # labelled leads and 10 equal-count bins of ~1,000 leads at p ~ 0.12, the sampling noise alone
    # of an observed bin rate is ~0.01 (sd), so an ECE below 0.03 and a mean predicted within
    # 0.015 of the observed rate (>4 sd of the overall rate) separate a calibrated model from one
    # that is off.
    leads, acts, _ = demo(10000, seed=12)
    ev = evaluate(demo_model, leads, acts)
    assert ev["ece"] < 0.03, ev["calibration"]
    assert abs(ev["mean_predicted"] - ev["base_rate"]) < 0.015
    assert ev["roc_auc"] > 0.78


def test_explanations_add_up_to_the_score_for_every_lead(demo_model, demo_data):
    leads, acts, _ = demo_data
    as_of = leads.attrs["as_of"]
    batch = demo_model.explain_batch(leads, acts, as_of=as_of)
    total = batch.base_points + batch.points.sum(axis=1)
    assert np.max(np.abs(total - batch.score)) < 1e-6
    p = demo_model.predict_proba(leads, acts, as_of=as_of)
    assert np.max(np.abs(100 * p - batch.score)) < 1e-6
    # signs are preserved: points and log-odds contributions agree in sign
    nz = np.abs(batch.log_odds) > 1e-12
    assert (np.sign(batch.points[nz]) == np.sign(batch.log_odds[nz])).all()
    dicts = demo_model.explain(leads.head(50), acts, as_of=as_of)
    for d in dicts:
        assert abs(d["base_points"] + sum(c["points"] for c in d["contributions"]) - d["score"]) < 1e-6
        assert 0 <= d["score"] <= 100 and d["score"] == pytest.approx(100 * d["probability"])
        assert len(d["reasons_up"]) <= 5 and len(d["reasons_down"]) <= 5
        for s in d["reasons_up"]:
            assert ": +" in s
        for s in d["reasons_down"]:
            assert f": {MINUS}" in s
        assert {"group", "feature", "label", "value", "points", "log_odds"} <= set(d["contributions"][0])
    assert json.dumps(dicts)  # JSON-ready


def test_points_arithmetic_edge_cases():
    phi = np.array([[0.0, 0.0], [1e-12, -1e-12], [2.0, -0.5], [-30.0, 0.1]])
    pts, p, base = points_from_log_odds(phi, -2.0)
    assert np.allclose(base + pts.sum(axis=1), 100 * p, atol=1e-9)
    assert np.isfinite(pts).all()
    assert pts[2, 0] > 0 > pts[2, 1]


def test_sentences_are_plain_words(demo_model, demo_data):
    leads, acts, _ = demo_data
    d = demo_model.explain(leads.head(300), acts, as_of=leads.attrs["as_of"])
    text = " | ".join(s for e in d for s in e["reasons_up"] + e["reasons_down"])
    assert "Title is" in text and "level)" in text
    assert any(w in text for w in ("Free-mail address (", "Company email"))
    assert "Company size" in text
    assert "custom." not in text and "__" not in text


def test_next_action_for_a_fresh_demo_request(demo_model, demo_data):
    leads, acts, _ = demo_data
    lead = leads.head(1).copy()
    now = pd.Timestamp("2025-03-01", tz="UTC")
    a = pd.DataFrame({"lead_id": [lead["lead_id"].iloc[0]] * 2, "activity_type": ["demo_request", "website_visit"],
                      "activity_date": [now - pd.Timedelta(days=2), now - pd.Timedelta(days=3)]})
    e = demo_model.explain(lead, a, as_of=now)[0]
    assert e["next_action"] == "Asked for a demo 2 days ago, no meeting yet: call today"
    assert any(s.startswith("Requested a demo 2 days ago: +") for s in e["reasons_up"])
    quiet = pd.DataFrame({"lead_id": [lead["lead_id"].iloc[0]], "activity_type": ["email_open"],
                          "activity_date": [now - pd.Timedelta(days=120)]})
    e = demo_model.explain(lead, quiet, as_of=now)[0]
    assert e["next_action"] == "No engagement for 90+ days: re-engage or drop"


def test_artefact_round_trip_is_identical_and_pickle_free(demo_model, demo_data):
    leads, acts, _ = demo_data
    s = demo_model.to_artefact()
    doc = json.loads(s)  # plain JSON
    assert doc["format"] == "leadrank.model"
    assert "pickle" not in s.lower() and "joblib" not in s.lower()
    if doc["algorithm"] == "lightgbm":
        assert doc["scorer"]["lightgbm_model"].startswith("tree\n")
    elif doc["algorithm"] == "blend":
        assert doc["scorer"]["lightgbm"]["lightgbm_model"].startswith("tree\n")
        assert len(doc["scorer"]["logistic_regression"]["coef"]) >= len(doc["feature_names"])
    else:
        assert len(doc["scorer"]["coef"]) >= len(doc["feature_names"])
    m2 = TrainedModel.from_artefact(s)
    as_of = leads.attrs["as_of"]
    a = demo_model.predict_proba(leads, acts, as_of=as_of)
    b = m2.predict_proba(leads, acts, as_of=as_of)
    assert np.array_equal(a, b)
    assert m2.explain(leads.head(5), acts, as_of=as_of) == demo_model.explain(leads.head(5), acts, as_of=as_of)
    assert m2.report == demo_model.report
    with pytest.raises(InvalidInput):
        TrainedModel.from_artefact('{"format": "something else"}')


def test_both_algorithms_round_trip(make_tiny):
    leads = make_tiny(500)
    for algo in ("logistic_regression", "lightgbm"):
        m = train(leads, time_budget_s=5, algorithms=(algo,))
        assert m.algorithm == algo
        m2 = TrainedModel.from_artefact(m.to_artefact())
        assert np.array_equal(m.predict_proba(leads, as_of="2025-01-01"), m2.predict_proba(leads, as_of="2025-01-01"))
        b = m.explain_batch(leads, as_of="2025-01-01")
        assert np.max(np.abs(b.base_points + b.points.sum(axis=1) - b.score)) < 1e-6


def test_blend_is_exact_and_round_trips(make_tiny):
    # the blend scores with both models: its calibrated log-odds are the weighted sum of theirs, its
    # per-lead contributions add up to the score, the customisation hooks read the same terms, and
    # the artefact (LightGBM text + JSON) reproduces it exactly
    from leadrank.customize.hooks import group_log_odds
    from leadrank.ml.scorers import BlendScorer

    leads = make_tiny(600)
    m = train(leads, time_budget_s=5, algorithms=("blend",))
    assert m.algorithm == "blend" and isinstance(m.scorer_, BlendScorer)
    assert m.scorer_.w_linear > 0 and m.scorer_.w_tree > 0
    X, _ = m.featurizer_.transform_array(leads, None, as_of="2025-01-01")
    s = m.scorer_
    assert np.allclose(s.margin(X), s.w_linear * s.linear.margin(X) + s.w_tree * s.tree.margin(X))
    phi, base = s.raw_contributions(X)
    assert np.allclose(base + phi.sum(axis=1), s.margin(X), atol=1e-9)
    b = m.explain_batch(leads, as_of="2025-01-01")
    assert np.max(np.abs(b.base_points + b.points.sum(axis=1) - b.score)) < 1e-6
    g, base_logit = group_log_odds(m, X)
    assert np.allclose(g, b.log_odds) and base_logit == pytest.approx(b.base_logit)
    m2 = TrainedModel.from_artefact(m.to_artefact())
    assert isinstance(m2.scorer_, BlendScorer)
    assert np.array_equal(m.predict_proba(leads, as_of="2025-01-01"), m2.predict_proba(leads, as_of="2025-01-01"))
    assert m2.explain(leads.head(5), as_of="2025-01-01") == m.explain(leads.head(5), as_of="2025-01-01")


def test_model_choice_is_simplest_first_and_beyond_the_folds_noise():
    from leadrank.ml.model import choose_model

    lr = np.array([0.80, 0.82, 0.81])
    # the blend is steadily better on every fold: chosen over logistic regression
    chosen, reason, need = choose_model({"logistic_regression": 0.81, "lightgbm": 0.812, "blend": 0.816},
                                        {"logistic_regression": lr, "lightgbm": lr + [0.0, 0.004, 0.002],
                                         "blend": lr + 0.006})
    assert chosen == "blend" and "beats logistic regression" in reason
    # better on average but only through one lucky fold: within the noise, ties go to the simpler model
    chosen, _, need = choose_model({"logistic_regression": 0.81, "lightgbm": 0.80, "blend": 0.815},
                                   {"logistic_regression": lr, "lightgbm": lr - 0.01, "blend": lr + [0.03, -0.01, -0.005]})
    assert chosen == "logistic_regression" and need["blend_vs_logistic_regression"] > 0.005
    # LightGBM alone must beat the blend too, not only logistic regression
    chosen, _, _ = choose_model({"logistic_regression": 0.81, "lightgbm": 0.83, "blend": 0.825},
                                {"logistic_regression": lr, "lightgbm": lr + 0.02, "blend": lr + 0.015})
    assert chosen == "blend"
    chosen, _, _ = choose_model({"logistic_regression": 0.81, "lightgbm": 0.85, "blend": 0.83},
                                {"logistic_regression": lr, "lightgbm": lr + 0.04, "blend": lr + 0.02})
    assert chosen == "lightgbm"


@pytest.mark.parametrize("params", [
    {"max_depth": 2, "num_leaves": 4},
    {"max_depth": 3, "num_leaves": 8, "feature_fraction": 0.5},
    {"max_depth": 3, "num_leaves": 8, "zero_as_missing": True},  # zeros and NaN take the default branch
    {"max_depth": -1, "num_leaves": 8, "use_missing": False},  # NaN compared as 0
    {"max_depth": -1, "num_leaves": 31},  # too many splits for tables: LightGBM's pred_contrib
])
def test_tree_contributions_are_lightgbms_treeshap(params):
    # the tabulated TreeSHAP gives LightGBM's own pred_contrib values, missing values included
    from leadrank.ml.scorers import TreeScorer

    rng = np.random.default_rng(1)
    X = rng.normal(size=(3000, 6)).astype(np.float32)
    X[:, 5] = np.round(X[:, 5])  # many exact zeros
    y = (X[:, 0] + X[:, 1] * X[:, 2] + 0.5 * (X[:, 5] == 0) + rng.normal(size=3000) > 0).astype(int)
    X[rng.random(X.shape) < 0.1] = np.nan
    t = TreeScorer(params, 40).fit(X, y)
    ref = t.booster_.predict(X, pred_contrib=True)
    phi, base = t.raw_contributions(X)
    assert np.max(np.abs(phi - ref[:, :-1])) < 1e-12 and base == pytest.approx(ref[0, -1], abs=1e-12)
    assert np.max(np.abs(phi.sum(axis=1) + base - t.margin(X))) < 1e-9
    assert t._shap is not None and t._shap.ok == (params["num_leaves"] <= 8)


def test_unfitted_model_refuses():
    m = TrainedModel()
    with pytest.raises(NotFittedError):
        m.predict_proba(pd.DataFrame({"lead_id": ["a"]}))
    with pytest.raises(NotFittedError):
        m.to_artefact()
    with pytest.raises(NotFittedError):
        _ = m.report


def test_too_few_outcomes_is_a_clear_error(make_tiny):
    leads = make_tiny(20)
    with pytest.raises(InvalidInput, match="not enough outcomes"):
        train(leads)


def test_grades(demo_model):
    th = demo_model.grade_thresholds
    assert th["A"] > th["B"] > th["C"] > 0
    scores = np.linspace(0, 100, 1001)
    g = demo_model.grade_for(scores)
    assert g[0] == "D" and g[-1] == "A"
    custom = demo_model.grade_for([95, 70, 40, 5], bands={"A": 80, "B": 60, "C": 30, "D": 0})
    assert list(custom) == ["A", "B", "C", "D"]
    assert list(grade_for([10, 90], {"hot": 50, "cold": 0})) == ["cold", "hot"]
    bands = {b["grade"]: b for b in demo_model.report["score_bands"]}
    assert bands["A"]["conversion_rate"] > bands["B"]["conversion_rate"] > bands["D"]["conversion_rate"]


def test_open_leads_are_not_training_rows(make_tiny):
    leads = make_tiny(500)
    leads.loc[:99, "outcome"] = "open"
    m = train(leads, time_budget_s=5)
    assert m.report["n_unlabelled_ignored"] == 100
    assert m.report["n_final"] == 400


@pytest.mark.parametrize("seed", [3, 6, 8])
def test_pure_noise_never_ranks_in_the_top_five_on_small_data(seed):
    # 1,500 demo leads (~1,200 with outcomes): a flaky top-5 rank of favourite_color was seen
    # here before the regularisation choice followed the one-standard-error rule (seeds 6 and 8
    # put the noise columns closest to the top: ranks 9-10 of ~25 groups now).
    leads, acts, _ = demo(1500, seed=seed)
    m = train(leads, acts, random_state=0)
    top5 = [r["name"] for r in m.feature_importance()[:5]]
    assert "custom.favourite_color" not in top5 and "custom.lead_owner_initials" not in top5, top5


def _without_timings(obj):
    if isinstance(obj, dict):
        return {k: _without_timings(v) for k, v in obj.items() if "seconds" not in k and k != "training_time_s"}
    if isinstance(obj, list):
        return [_without_timings(v) for v in obj]
    return obj


def test_training_is_deterministic(make_tiny):
    # the tuning step counts fits, not seconds: the same data gives the same model under any load
    leads = make_tiny(800)
    a, b = (json.loads(train(leads, time_budget_s=10).to_artefact()) for _ in range(2))
    assert _without_timings(a) == _without_timings(b)


def test_scores_are_stable_within_a_day_and_follow_new_activity(demo_model, demo_data):
    # ages are measured to the end of the scoring day: a rescore minutes later (a rollback, a re-run
    # job) reproduces the scores exactly, while a new activity changes them at once
    leads, acts, _ = demo_data
    lead = leads.head(200)
    noon = pd.Timestamp("2025-03-01 12:00", tz="UTC")
    a = demo_model.predict_score(lead, acts, as_of=noon)
    b = demo_model.predict_score(lead, acts, as_of=noon + pd.Timedelta(minutes=7))
    assert np.array_equal(a, b)
    extra = pd.DataFrame({"lead_id": [lead["lead_id"].iloc[0]], "activity_type": ["demo_request"],
                          "activity_date": [noon + pd.Timedelta(minutes=1)]})
    c = demo_model.predict_score(lead, pd.concat([acts, extra], ignore_index=True),
                                 as_of=noon + pd.Timedelta(minutes=7))
    assert c[0] != a[0] and np.array_equal(c[1:], a[1:])
