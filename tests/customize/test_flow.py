"""Customizable scoring through the API on SQLite and PostgreSQL: what-if, save (a rescoring
job), what the list shows afterwards, rollback, and overrides across retraining."""

from __future__ import annotations

import math
import uuid

import pytest

from tests.conftest import wait_for_jobs
from tests.scoring.test_scoring_flow import _retrain, load_demo

pytestmark = pytest.mark.slow


def _all_leads(client, tenant) -> list[dict]:  # noqa: ANN001
    out, cursor = [], None
    while True:
        url = "/api/v1/leads/prioritized?explain=true&limit=500" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=tenant.headers).json()
        out += page["leads"]
        cursor = page["next_cursor"]
        if not cursor:
            return out


def _top_ids(leads: list[dict]) -> set[str]:
    scored = [x for x in leads if x["score"] is not None]
    return {x["lead_data"]["lead_id"] for x in scored[: math.ceil(len(scored) * 0.2)]}


def _save(client, tenant, config: dict) -> dict:  # noqa: ANN001
    r = client.put("/api/v1/scoring/config", headers=tenant.headers, json={"config": config, "note": "test"})
    assert r.status_code == 202, r.text
    wait_for_jobs()
    job = client.get(f"/api/v1/jobs/{r.json()['job_id']}", headers=tenant.headers).json()
    assert job["status"] == "done", job
    return r.json()


FINTECH = {"id": "fintech", "name": "Target software", "kind": "boost", "log_odds": 0.9,
           "conditions": [{"type": "industry_in", "values": ["Software"]}]}
STUDENTS = {"id": "students", "name": "No students", "kind": "exclude", "conditions": [{"type": "is_student"}]}


def test_what_if_equals_what_is_measured_after_saving_and_rollback(client, tenant):
    load_demo(client, tenant)
    _retrain(client, tenant)
    before_leads = _all_leads(client, tenant)
    before = _top_ids(before_leads)
    default = client.get("/api/v1/scoring/config", headers=tenant.headers).json()
    assert default["status"] == "default" and default["data_points"]
    assert {p["category"] for p in default["data_points"]} >= {"fit", "engagement"}
    top_point = max(default["data_points"], key=lambda p: p["importance"] or 0)["name"]

    config = {"weights": {top_point: 0.0, "industry": 2.0}, "category_weights": {"engagement": 1.5},
              "rules": [FINTECH, STUDENTS],
              "decay": {"points": {"demo_request": 0.4}, "half_life_days": {"demo_request": 10}},
              "bands": {"mode": "relative", "relative": {"A": 10, "B": 20, "C": 30}}}
    r = client.post("/api/v1/scoring/config/what-if", headers=tenant.headers, json=config)
    assert r.status_code == 200, r.text
    fig = r.json()
    assert fig["holdout"]["n"] > 50 and fig["holdout"]["current"]["roc_auc"] > 0.6
    assert fig["holdout"]["proposed"]["roc_auc"] != fig["holdout"]["current"]["roc_auc"]
    assert fig["workspace"]["entering_top"] > 0 and fig["workspace"]["entering_top"] == fig["workspace"]["leaving_top"]

    saved = _save(client, tenant, config)
    assert saved["version"] == 1 and saved["status"] == "active"
    after_leads = _all_leads(client, tenant)
    after = _top_ids(after_leads)
    # What the what-if said the list would do is what the list did.
    assert len(after - before) == fig["workspace"]["entering_top"]
    assert len(before - after) == fig["workspace"]["leaving_top"]
    students = [x for x in after_leads if (x["lead_data"]["job_title"] or "").lower().find("student") >= 0]
    assert fig["workspace"]["excluded"] == sum(1 for x in after_leads if x["grade"] == "X") >= len(students) > 0
    # And the holdout figures measured with the saved configuration are the what-if's.
    measured = client.get("/api/v1/scoring/config", headers=tenant.headers).json()["measured"]
    for k in ("roc_auc", "capture_at_20", "brier", "ece"):
        assert measured[k] == pytest.approx(fig["holdout"]["proposed"][k], abs=1e-12), k

    # Every explanation: the switched-off data point is gone, rules are named where they matched,
    # excluded leads are at the bottom, and the points still add up.
    non_excluded_min = min(x["score"] for x in after_leads if x["grade"] != "X")
    for x in after_leads:
        exp = x["explanation"]
        keys = [c.get("key") for c in exp["contributions"]]
        assert top_point not in keys
        assert exp["base_points"] + sum(c["points"] for c in exp["contributions"]) == pytest.approx(x["score"], abs=1e-3)
        rule_lines = [c["text"] for c in exp["contributions"] if c["label"] == "Rule 'Target software'"]
        assert (len(rule_lines) == 1) == (x["lead_data"]["industry"] == "Software")
        if "student" in (x["lead_data"]["job_title"] or "").lower():
            assert x["grade"] == "X" and exp["excluded_by"] == "No students"
            assert x["score"] < non_excluded_min
        assert set(exp["subscores"]) == {"fit", "engagement", "similarity", "rules"}
    assert [x["score"] for x in after_leads] == sorted((x["score"] for x in after_leads), reverse=True)
    grades = [x["grade"] for x in after_leads if x["grade"] != "X"]
    assert abs(grades.count("A") - 0.1 * len(grades)) <= 2

    # A second configuration, then roll back to the first: scores come back exactly.
    first_scores = {x["lead_data"]["lead_id"]: x["score"] for x in after_leads}
    _save(client, tenant, {"weights": {"industry": 0.0}})
    history = client.get("/api/v1/scoring/configs", headers=tenant.headers).json()["configs"]
    assert [h["version"] for h in history] == [2, 1] and history[0]["status"] == "active"
    cmp = client.get(f"/api/v1/scoring/configs/compare?a={history[1]['config_id']}&b={history[0]['config_id']}",
                     headers=tenant.headers).json()
    assert cmp["rules_only_in_a"] == ["Target software", "No students"]
    r = client.post(f"/api/v1/scoring/configs/{history[1]['config_id']}/activate", headers=tenant.headers)
    assert r.status_code == 202
    wait_for_jobs()
    again = {x["lead_data"]["lead_id"]: x["score"] for x in _all_leads(client, tenant)}
    assert again == pytest.approx(first_scores, abs=1e-9)


def test_weight_zero_and_doubling_through_the_scoring_path(client, tenant):
    load_demo(client, tenant, n=800, seed=5)
    _retrain(client, tenant)
    base = {x["lead_data"]["lead_id"]: x for x in _all_leads(client, tenant)}
    _save(client, tenant, {"weights": {"job_title": 2.0, "industry": 0.0}})
    after = _all_leads(client, tenant)
    for x in after:
        exp = x["explanation"]
        raw = dict(zip(exp["model"]["names"], exp["model"]["log_odds"], strict=True))
        jt = next(c for c in exp["contributions"] if c["key"] == "job_title")
        assert jt["log_odds"] == pytest.approx(2 * raw["job_title"]) and jt["model_log_odds"] == raw["job_title"]
        assert all(c["key"] != "industry" for c in exp["contributions"])
        old = base[x["lead_data"]["lead_id"]]["explanation"]
        old_lo = {c["group"]: c["log_odds"] for c in old["contributions"]}
        assert old_lo["job_title"] == pytest.approx(raw["job_title"])  # the model's value never changes
        logit = exp["model"]["base_logit"] + sum(v for k, v in raw.items() if k != "industry") + raw["job_title"]
        assert x["score"] == pytest.approx(100 / (1 + math.exp(-logit)), abs=1e-4)
    # New leads scored by the model path (an upload) get the configuration too.
    r = client.post("/api/v1/leads/upload", headers=tenant.headers, json={"leads": [
        {"email": "new@software.example", "industry": "Software", "job_title": "VP Sales", "company_size": 120,
         "description": "We build payments software for banks"}]})
    assert r.status_code == 202
    wait_for_jobs()
    new = next(x for x in _all_leads(client, tenant) if x["lead_data"]["email"] == "new@software.example")
    assert new["explanation"]["config_version"] == 1
    assert all(c["key"] != "industry" for c in new["explanation"]["contributions"])


def test_override_is_kept_apart_survives_rescoring_and_retraining_and_labels_training(client, tenant):
    load_demo(client, tenant)
    _retrain(client, tenant)
    leads = _all_leads(client, tenant)
    target = next(x for x in leads if x["lead_data"]["outcome"] == "open")
    lid = target["lead_data"]["lead_id"]
    r = client.post(f"/api/v1/leads/{lid}/override", headers=tenant.headers,
                    json={"grade": "D", "reason": "Spam sign-up, not a real company", "label": "junk"})
    assert r.status_code == 200, r.text
    assert client.post(f"/api/v1/leads/{lid}/override", headers=tenant.headers,
                       json={"grade": "Q", "reason": "x"}).status_code == 422
    shown = client.get(f"/api/v1/leads/{lid}", headers=tenant.headers).json()
    assert shown["grade"] == "D" and shown["lead_data"]["grade_override"] == "D"
    assert shown["lead_data"]["grade"] == target["lead_data"]["grade"]  # the model's grade is kept
    assert shown["score"] == target["score"]
    listed = client.get("/api/v1/leads/prioritized?grade=D&limit=500", headers=tenant.headers).json()["leads"]
    assert lid in {x["lead_data"]["lead_id"] for x in listed}

    _save(client, tenant, {"weights": {"industry": 1.5}})  # rescoring
    result = _retrain(client, tenant)  # retraining (and the rescoring after it)
    wait_for_jobs()
    version = client.get(f"/api/v1/model/versions/{result['model_version_id']}", headers=tenant.headers).json()
    assert version["data_summary"]["override_labels"] == 1  # "junk" became a lost lead for training
    shown = client.get(f"/api/v1/leads/{lid}", headers=tenant.headers).json()
    assert shown["lead_data"]["grade_override"] == "D"
    assert shown["lead_data"]["override_reason"] == "Spam sign-up, not a real company"
    assert shown["lead_data"]["outcome"] == "open"  # the label feeds training; the lead's data is untouched
    assert shown["score"] is not None

    r = client.delete(f"/api/v1/leads/{lid}/override", headers=tenant.headers)
    assert r.status_code == 200 and len(r.json()["history"]) == 1
    shown = client.get(f"/api/v1/leads/{lid}", headers=tenant.headers).json()
    assert shown["lead_data"]["grade_override"] is None and shown["grade"] == shown["lead_data"]["grade"]
    assert client.post(f"/api/v1/leads/{uuid.uuid4()}/override", headers=tenant.headers,
                       json={"grade": "A", "reason": "x"}).status_code == 404
