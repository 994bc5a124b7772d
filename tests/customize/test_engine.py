"""The customizable-scoring engine on its own (no database): weights in log-odds space,
rules named in explanations, exclusions to the bottom, decay by half-life, bands, sub-scores."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from leadrank.customize import engine as E

GROUPS = ["job_title", "industry", "company_size", "activities.demo_request", "engagement", "similarity_icp"]
N = 400


@pytest.fixture
def batch() -> tuple[E.Contributions, E.LeadAttributes, E.ActivityLog, pd.DataFrame]:
    rng = np.random.default_rng(4)
    phi = rng.normal(0, 0.6, size=(N, len(GROUPS)))
    contrib = E.Contributions.from_model(GROUPS, phi, -1.7)
    leads = pd.DataFrame({
        "lead_id": [f"L{i}" for i in range(N)],
        "industry": rng.choice(["Fintech", "Retail", "Healthcare", None], N),
        "company_size": rng.choice([5, 40, 200, 900, np.nan], N),
        "job_title": rng.choice(["VP Sales", "Student", "Marketing Intern", "CEO", "Analyst"], N),
        "lead_source": rng.choice(["Referral", "Paid Search", "Webinar"], N),
        "email": [f"x{i}@" + rng.choice(["gmail.com", "acme.com", "rival.io"]) for i in range(N)],
        "website": [None] * N,
    })
    now = pd.Timestamp("2026-06-01", tz="UTC")
    acts = pd.DataFrame({
        "lead_id": [f"L{i}" for i in range(0, N, 3)],
        "activity_type": "demo_request",
        "activity_date": [now - pd.Timedelta(days=int(d)) for d in rng.integers(1, 120, len(range(0, N, 3)))],
    })
    log = E.ActivityLog.from_frame(acts, leads["lead_id"].tolist(), now.value)
    return contrib, E.LeadAttributes.from_frame(leads), log, leads


def _explanations(res: E.Result) -> list[dict]:
    return [E.explanation_for(res, i, None, config_version=1, config_id="c", model_version_id="m") for i in range(len(res))]


def _adds_up(exp: dict) -> None:
    assert exp["base_points"] + sum(c["points"] for c in exp["contributions"]) == pytest.approx(exp["score"], abs=1e-9)


def test_identity_reproduces_the_model(batch):
    contrib, attrs, acts, _ = batch
    res = E.apply(E.ScoringConfig(), contrib, attrs, acts)
    expected = 100 * E.sigmoid(contrib.base_logit + contrib.log_odds.sum(axis=1))
    np.testing.assert_allclose(res.score, expected, rtol=1e-12)
    for exp in _explanations(res):
        _adds_up(exp)


def test_weight_zero_removes_a_data_point_from_every_score_and_explanation(batch):
    contrib, attrs, acts, _ = batch
    res = E.apply(E.ScoringConfig(weights={"industry": 0.0}), contrib, attrs, acts)
    j = GROUPS.index("industry")
    others = np.delete(contrib.log_odds, j, axis=1).sum(axis=1)
    np.testing.assert_allclose(res.score, 100 * E.sigmoid(contrib.base_logit + others), rtol=1e-12)
    assert (res.log_odds[:, j] == 0).all() and (res.points[:, j] == 0).all()
    for exp in _explanations(res):
        assert all(c["key"] != "industry" for c in exp["contributions"])
        assert exp["model"]["log_odds"][exp["model"]["names"].index("industry")] != 0  # the model's value is kept
        _adds_up(exp)


def test_doubling_a_weight_doubles_its_log_odds_contribution(batch):
    contrib, attrs, acts, _ = batch
    res = E.apply(E.ScoringConfig(weights={"job_title": 2.0}), contrib, attrs, acts)
    j = GROUPS.index("job_title")
    np.testing.assert_allclose(res.log_odds[:, j], 2 * contrib.log_odds[:, j], rtol=0, atol=0)
    np.testing.assert_array_equal(np.delete(res.log_odds, j, axis=1), np.delete(contrib.log_odds, j, axis=1))
    for exp in _explanations(res)[:50]:
        c = next(c for c in exp["contributions"] if c["key"] == "job_title")
        assert c["log_odds"] == pytest.approx(2 * c["model_log_odds"]) and c["weight"] == 2.0
        _adds_up(exp)


def test_category_weights_scale_a_whole_sub_score(batch):
    contrib, attrs, acts, _ = batch
    res = E.apply(E.ScoringConfig(category_weights={"engagement": 0.0, "similarity": 3.0}), contrib, attrs, acts)
    eng = [GROUPS.index("activities.demo_request"), GROUPS.index("engagement")]
    assert (res.log_odds[:, eng] == 0).all()
    sim = GROUPS.index("similarity_icp")
    np.testing.assert_allclose(res.log_odds[:, sim], 3 * contrib.log_odds[:, sim])
    assert res.categories[sim] == "similarity" and res.categories[GROUPS.index("job_title")] == "fit"
    exp = _explanations(res)[0]
    subs = exp["subscores"]
    total = sum(subs[c]["points"] for c in ("fit", "engagement", "similarity", "rules"))
    assert exp["base_points"] + total == pytest.approx(exp["score"])
    assert subs["engagement"]["log_odds"] == 0.0


def test_a_rule_is_named_in_the_explanation_of_exactly_the_leads_it_matched(batch):
    contrib, attrs, acts, leads = batch
    rule = E.Rule(id="fintech", name="Target fintech", kind="boost", log_odds=0.8,
                  conditions=[E.Condition(type="industry_in", values=["fintech"]),
                              E.Condition(type="size_between", min=20, max=500)])
    res = E.apply(E.ScoringConfig(rules=[rule]), contrib, attrs, acts)
    size = pd.to_numeric(leads["company_size"])
    matched = (leads["industry"] == "Fintech") & size.between(20, 500)
    assert 0 < matched.sum() < N
    base = E.apply(E.ScoringConfig(), contrib, attrs, acts)
    for i, exp in enumerate(_explanations(res)):
        texts = [c["text"] for c in exp["contributions"] if c["label"] == "Rule 'Target fintech'"]
        if matched.iat[i]:
            assert len(texts) == 1 and texts[0].startswith("Rule 'Target fintech': +")
            assert res.logit[i] == pytest.approx(base.logit[i] + 0.8)
        else:
            assert texts == [] and res.score[i] == pytest.approx(base.score[i])
        _adds_up(exp)


def test_activity_rule_and_title_and_source_conditions(batch):
    contrib, attrs, acts, leads = batch
    rule = E.Rule(id="demo", name="Recent demo", log_odds=1.0,
                  conditions=[E.Condition(type="activity_within", activity_type="demo", days=30)])
    m = E.rule_matches(rule, attrs, acts)
    assert m.sum() == (acts.age_days <= 30).sum()  # one activity per matching lead
    title = E.rule_matches(E.Rule(id="t", name="t", conditions=[E.Condition(type="title_contains", values=["vp"])]),
                           attrs, acts)
    assert title.sum() == (leads["job_title"] == "VP Sales").sum()
    src = E.rule_matches(E.Rule(id="s", name="s", conditions=[E.Condition(type="source_is", values=["referral"])]),
                         attrs, acts)
    assert src.sum() == (leads["lead_source"] == "Referral").sum()


def test_exclusions_drop_leads_to_the_bottom_and_name_the_rule(batch):
    contrib, attrs, acts, leads = batch
    rules = [E.Rule(id="students", name="No students", kind="exclude", conditions=[E.Condition(type="is_student")]),
             E.Rule(id="rivals", name="Competitors", kind="exclude",
                    conditions=[E.Condition(type="domain_in", values=["rival.io"])]),
             E.Rule(id="free", name="Free mail", kind="exclude", conditions=[E.Condition(type="is_free_mail")])]
    res = E.apply(E.ScoringConfig(rules=rules), contrib, attrs, acts, model_bands={"A": 40, "B": 20, "C": 10, "D": 0})
    student = leads["job_title"].isin(["Student", "Marketing Intern"]).to_numpy()
    rival = leads["email"].str.endswith("rival.io").to_numpy()
    gmail = leads["email"].str.endswith("gmail.com").to_numpy()
    excluded = student | rival | gmail
    assert (res.excluded_by != None).sum() == excluded.sum()  # noqa: E711
    assert res.score[excluded].max() < 1e-10 < res.score[~excluded].min()
    assert set(res.grade[excluded]) == {"X"} and "X" not in set(res.grade[~excluded])
    exps = _explanations(res)
    for i in np.flatnonzero(student):
        assert exps[i]["excluded_by"] == "No students"
        assert any(c["label"] == "Excluded by rule 'No students'" for c in exps[i]["contributions"])
        assert "No students" in exps[i]["next_action"]
        _adds_up(exps[i])
    for i in np.flatnonzero(rival & ~student):
        assert exps[i]["excluded_by"] == "Competitors"


def test_decay_halves_at_the_half_life():
    now = pd.Timestamp("2026-06-01", tz="UTC")
    acts = pd.DataFrame({"lead_id": ["fresh", "old", "older"], "activity_type": ["website_visit"] * 3,
                         "activity_date": [now - pd.Timedelta(days=d) for d in (1e-9, 14, 28)]})
    log = E.ActivityLog.from_frame(acts, ["fresh", "old", "older", "none"], now.value)
    contrib = E.Contributions.from_model(["industry"], np.zeros((4, 1)), -2.0)
    attrs = E.LeadAttributes.from_frame(pd.DataFrame({"lead_id": ["fresh", "old", "older", "none"]}))
    cfg = E.ScoringConfig(decay=E.Decay(points={"visit": 0.6}, half_life_days={"website_visit": 14}))
    res = E.apply(cfg, contrib, attrs, log)
    j = res.names.index("recent.website_visit")
    fresh, old, older, none = res.log_odds[:, j]
    assert fresh == pytest.approx(0.6, rel=1e-9)
    assert old == pytest.approx(0.6 / 2, rel=1e-12)  # a visit one half-life old: half a fresh one
    assert older == pytest.approx(0.6 / 4, rel=1e-12)
    assert none == 0.0
    assert res.categories[j] == "engagement"
    exp = E.explanation_for(res, 1, None, config_version=1, config_id="c", model_version_id=None)
    line = next(c for c in exp["contributions"] if c["key"] == "recent.website_visit")
    assert line["label"].startswith("Recent website visits (decayed): 0.50")
    # Exactly half, not approximately: the decayed count at age == half-life is 0.5.
    exact = E.ActivityLog(np.array([0, 1], np.int32), np.array([0, 0], np.int8), np.array([0.0, 30.0]), 2)
    assert exact.decayed_counts("website_visit", 30.0).tolist() == [1.0, 0.5]


def test_activities_after_the_scoring_time_do_not_count():
    now = pd.Timestamp("2026-06-01", tz="UTC")
    acts = pd.DataFrame({"lead_id": ["a", "a"], "activity_type": ["meeting", "meeting"],
                         "activity_date": [now - pd.Timedelta(days=2), now + pd.Timedelta(days=2)]})
    log = E.ActivityLog.from_frame(acts, ["a"], now.value)
    assert log.age_days.tolist() == [2.0]


def test_grade_bands_fixed_and_relative(batch):
    contrib, attrs, acts, _ = batch
    fixed = E.apply(E.ScoringConfig(bands=E.Bands(mode="fixed", fixed={"A": 40, "B": 20, "C": 10})), contrib, attrs, acts)
    s = fixed.score
    assert set(fixed.grade[s >= 40]) <= {"A"} and set(fixed.grade[(s >= 20) & (s < 40)]) <= {"B"}
    assert set(fixed.grade[s < 10]) <= {"D"}
    rel = E.apply(E.ScoringConfig(bands=E.Bands(mode="relative", relative={"A": 10, "B": 20, "C": 30})),
                  contrib, attrs, acts)
    counts = pd.Series(rel.grade).value_counts()
    assert counts["A"] == math.ceil(0.1 * N) or abs(counts["A"] - 0.1 * N) <= 1
    assert abs(counts["B"] - 0.2 * N) <= 1 and abs(counts["C"] - 0.3 * N) <= 1
    top = np.argsort(-rel.score)[: int(0.1 * N)]
    assert set(rel.grade[top]) == {"A"}


def test_stored_explanations_round_trip_to_the_same_scores(batch):
    contrib, attrs, acts, _ = batch
    cfg = E.ScoringConfig(weights={"industry": 0.3}, rules=[E.Rule(id="r", name="R", log_odds=-0.4, conditions=[
        E.Condition(type="industry_in", values=["retail"])])])
    res = E.apply(cfg, contrib, attrs, acts)
    stored = _explanations(res)
    again = E.contributions_from_explanations(stored)
    assert again.names == contrib.names
    np.testing.assert_array_equal(again.log_odds, contrib.log_odds)
    res2 = E.apply(cfg, again, attrs, acts)
    np.testing.assert_array_equal(res2.score, res.score)


def test_invalid_configurations_are_refused():
    with pytest.raises(ValidationError):
        E.ScoringConfig(weights={"industry": -1})
    with pytest.raises(ValidationError):
        E.ScoringConfig(category_weights={"mood": 1})
    with pytest.raises(ValidationError):
        E.Rule(id="x", name="x", conditions=[E.Condition(type="industry_in", values=[])])
    with pytest.raises(ValidationError):
        E.Bands(mode="fixed", fixed={"A": 10, "B": 20, "C": 5})
    assert E.ScoringConfig(weights={"industry": 1.0}).is_identity()
