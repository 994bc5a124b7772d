from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from leadrank.similarity.coldstart import (
    MIN_OUTCOMES_FOR_MODEL,
    cold_start_scores,
    default_icp,
    explain,
    should_use_model,
    workspace_prior,
)
from leadrank.similarity.embeddings import local_provider, profile_text
from leadrank.similarity.icp import ICP, icp_components

NOW = datetime(2024, 6, 1, tzinfo=UTC)


def _workspace(n: int = 60) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(3)
    titles = ["VP Sales", "Head of Sales", "Sales Manager", "Nurse", "Marketing Intern", "CFO", "Teacher"]
    industries = ["Software", "Software", "Healthcare", "Education", "Retail"]
    leads, acts = [], []
    for i in range(n):
        lead_id = uuid.UUID(int=i + 1)
        leads.append({
            "id": lead_id, "job_title": titles[i % len(titles)], "company_name": f"Co {i}",
            "industry": industries[i % len(industries)], "company_size": int(rng.choice([8, 60, 150, 400, 5000])),
            "country": "Germany" if i % 3 else "USA",
            "email": f"p{i}@co{i}.com" if i % 4 else f"p{i}@gmail.com",
        })
        for _ in range(int(rng.integers(0, 4))):
            acts.append({"lead_id": lead_id, "activity_type": str(rng.choice(["website_visit", "email_open", "download"])),
                         "activity_date": NOW - timedelta(days=int(rng.integers(1, 120)))})
    # Lead 1 fits the ICP below exactly and requested a demo two days ago.
    leads[0].update(company_size=150, country="Germany", email="vp@cloudly.de")
    acts.append({"lead_id": uuid.UUID(int=1), "activity_type": "demo_request", "activity_date": NOW - timedelta(days=2)})
    return pd.DataFrame(leads), pd.DataFrame(acts)


def _score(leads: pd.DataFrame, acts: pd.DataFrame, icp: ICP) -> list[dict]:
    provider = local_provider()
    emb = provider.embed([profile_text(r) for r in leads.to_dict("records")])
    desc = provider.embed([icp.description])[0] if icp.description else None
    parts = icp_components(leads, icp, embeddings=emb, description_embedding=desc)
    return cold_start_scores(leads, icp=icp, icp_parts=parts, activities=acts, now=NOW)


def test_explanations_add_up_and_use_the_model_format() -> None:
    leads, acts = _workspace()
    icp = ICP(description="VP of Sales at a B2B software company in Germany", industries=["Software"],
              size_min=50, size_max=500, locations=["Germany"])
    results = _score(leads, acts, icp)
    assert len(results) == len(leads)
    for r in results:
        assert set(r) >= {"score", "probability", "base_points", "contributions", "reasons_up",
                          "reasons_down", "next_action", "score_kind"}
        assert r["score_kind"] == "cold_start"
        assert abs(r["score"] - 100 * r["probability"]) <= 0.051
        assert round(r["base_points"] + sum(c["points"] for c in r["contributions"]), 1) == r["score"]
        for c in r["contributions"]:
            assert set(c) == {"group", "feature", "label", "value", "points", "log_odds"}
            assert c["group"] in {"fit", "similarity", "engagement"}
            assert np.sign(c["points"]) == np.sign(c["log_odds"]) or c["points"] == 0
    # The average lead sits at the prior (10 %); the spread is probability-like.
    probs = np.array([r["probability"] for r in results])
    assert 0.05 < np.median(probs) < 0.15 and probs.max() < 0.95


def test_best_fit_engaged_lead_ranks_first_with_reasons_and_next_action() -> None:
    leads, acts = _workspace()
    icp = ICP(description="VP of Sales at a B2B software company in Germany", industries=["Software"],
              size_min=50, size_max=500, locations=["Germany"])
    results = _score(leads, acts, icp)
    order = np.argsort([-r["score"] for r in results])
    top = results[0]
    assert order[0] == 0, [results[i]["score"] for i in order[:3]]
    assert top["next_action"] == "Call now: demo request 2 days ago"
    assert any("demo request 2 days ago" in reason for reason in top["reasons_up"])
    interns = [r for r, t in zip(results, leads["job_title"], strict=True) if t == "Marketing Intern"]
    assert all(any(x.startswith("Student / intern title") for x in r["reasons_down"]) for r in interns)
    assert np.mean([r["score"] for r in interns]) < np.median([r["score"] for r in results])


def test_group_weights_change_the_ranking() -> None:
    from leadrank.similarity.coldstart import ColdStartWeights

    leads, acts = _workspace()
    no_engagement = ColdStartWeights(group_weights={"fit": 1.0, "similarity": 1.0, "engagement": 0.0})
    plain = cold_start_scores(leads, activities=acts, now=NOW)
    muted = cold_start_scores(leads, activities=acts, now=NOW, weights=no_engagement)
    assert all(c["points"] == 0 for r in muted for c in r["contributions"] if c["group"] == "engagement")
    assert [r["score"] for r in plain] != [r["score"] for r in muted]


def test_explain_handles_zero_sum_contributions() -> None:
    r = explain(0.1, 0.1, [{"group": "fit", "feature": "a", "label": "A", "value": 1, "log_odds": 0.5},
                           {"group": "fit", "feature": "b", "label": "B", "value": 0, "log_odds": -0.5}])
    assert r["score"] == 10.0 and r["base_points"] + sum(c["points"] for c in r["contributions"]) == 10.0
    assert r["contributions"][0]["points"] == -r["contributions"][1]["points"] != 0


def test_default_icp_from_engagement_then_from_conversions() -> None:
    leads, acts = _workspace()
    icp = default_icp(leads, activities=acts, now=NOW)
    assert icp is not None and icp.example_profiles and "most engaged" in icp.name
    leads["outcome"] = ["converted" if t in ("VP Sales", "Head of Sales") and ind == "Software" else "open"
                        for t, ind in zip(leads["job_title"], leads["industry"], strict=True)]
    icp = default_icp(leads, activities=acts, now=NOW)
    assert icp is not None and "converted" in icp.name and icp.industries == ["Software"]
    assert default_icp(leads.iloc[:0]) is None
    assert default_icp(leads.drop(columns="outcome")) is None  # no outcomes, no activities


@pytest.mark.parametrize(("won", "lost", "expected"), [(40, 160, True), (39, 300, False), (100, 99, False)])
def test_threshold_for_moving_to_the_model(won: int, lost: int, expected: bool) -> None:
    assert MIN_OUTCOMES_FOR_MODEL == 200
    assert should_use_model(won, lost) is expected


def test_prior_shrinks_a_few_outcomes_towards_the_default() -> None:
    assert workspace_prior() == pytest.approx(0.10)
    assert 0.10 < workspace_prior(10, 10) < 0.5
