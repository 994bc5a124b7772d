"""Train → activate → score → explain → retrain → rollback, through the API, on SQLite and
PostgreSQL."""

from __future__ import annotations

import io
from datetime import date

import pytest

from tests.conftest import wait_for_jobs

pytestmark = pytest.mark.slow


def _csv(frame) -> bytes:  # noqa: ANN001
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue().encode()


def load_demo(client, tenant, n: int = 1500, seed: int = 3) -> None:  # noqa: ANN001
    from leadrank.demo.generator import generate_activities, generate_leads

    leads = generate_leads(n, seed=seed, with_outcomes=0.8, start=date(2026, 1, 1), end=date(2026, 10, 31))
    acts = generate_activities(leads, seed=seed)
    visible = leads.drop(columns=[c for c in leads.columns if c.startswith("_")])
    for content, kind in ((_csv(visible), "leads"),
                          (_csv(acts.rename(columns={"external_id": "lead_external_id", "email": "lead_email"})),
                           "activities")):
        r = client.post("/api/v1/leads/upload", headers=tenant.headers,
                        files={"file": (f"{kind}.csv", content, "text/csv")}, data={"kind": kind})
        assert r.status_code == 202, r.text
        wait_for_jobs()


def _retrain(client, tenant) -> dict:  # noqa: ANN001
    r = client.post("/api/v1/model/retrain", headers=tenant.headers)
    assert r.status_code == 202, r.text
    wait_for_jobs()
    job = client.get(f"/api/v1/jobs/{r.json()['job_id']}", headers=tenant.headers).json()
    assert job["status"] == "done", job
    wait_for_jobs()
    return job["result"]


def _scores(client, tenant) -> dict[str, float]:  # noqa: ANN001
    out, cursor = {}, None
    while True:
        url = "/api/v1/leads/prioritized?explain=true&limit=500" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=tenant.headers).json()
        out.update({x["lead_data"]["lead_id"]: x["score"] for x in page["leads"]})
        cursor = page["next_cursor"]
        if not cursor:
            return out


def test_train_score_explain_retrain_rollback(client, tenant):
    load_demo(client, tenant)
    assert client.post("/api/v1/model/rollback", headers=tenant.headers).status_code == 422

    first = _retrain(client, tenant)
    assert first["activated"] is True and first["roc_auc"] > 0.7

    versions = client.get("/api/v1/model/versions", headers=tenant.headers).json()["versions"]
    assert [v["status"] for v in versions] == ["active"]
    report = client.get(f"/api/v1/model/versions/{versions[0]['model_version_id']}", headers=tenant.headers).json()
    assert {"roc_auc", "pr_auc", "brier", "capture_at_20"} <= set(report["report"])

    features = client.get("/api/v1/model/features", headers=tenant.headers).json()["features"]
    assert features and all(f["importance"] >= 0 for f in features)
    importance = {f["name"]: f["importance"] for f in features}
    # The generator's true drivers (engagement, title) outweigh its pure-noise column.
    assert max(importance.get("engagement", 0), importance.get("job_title", 0)) > \
        3 * importance.get("custom.favourite_color", 0)

    page = client.get("/api/v1/leads/prioritized?explain=true&limit=50", headers=tenant.headers).json()["leads"]
    scores = [x["score"] for x in page]
    assert all(s is not None for s in scores) and scores == sorted(scores, reverse=True)
    for lead in page:
        exp = lead["explanation"]
        total = exp["base_points"] + sum(c["points"] for c in exp["contributions"])
        assert total == pytest.approx(lead["score"], abs=1e-3)
        assert lead["grade"] in ("A", "B", "C", "D")
        assert lead["insights"] and lead["lead_data"]["score_kind"] == "model"
    top = page[0]
    assert top["explanation"]["reasons_up"], "the best lead should have reasons up"

    before = _scores(client, tenant)
    second = _retrain(client, tenant)
    assert second["version"] == 2
    versions = client.get("/api/v1/model/versions", headers=tenant.headers).json()["versions"]
    assert len(versions) == 2

    # Rolling back (or activating v1 when v2 was not activated) restores v1's scores exactly.
    v1 = next(v for v in versions if v["version"] == 1)
    if second["activated"]:
        r = client.post("/api/v1/model/rollback", headers=tenant.headers)
        assert r.status_code == 202 and r.json()["active_model_version_id"] == v1["model_version_id"]
    else:
        client.post(f"/api/v1/model/versions/{v1['model_version_id']}/activate", headers=tenant.headers)
    wait_for_jobs()
    after = _scores(client, tenant)
    assert after == pytest.approx(before, abs=1e-6)

    lead_id = page[0]["lead_data"]["lead_id"]
    from leadrank.db import session_scope
    from leadrank.leads.repository import LeadRepository

    import uuid

    with session_scope() as session:
        history = LeadRepository(session).score_history(uuid.UUID(lead_id))
        assert len(history) >= 2

    # A lead with almost nothing known is still scored and explained by the model.
    r = client.post("/api/v1/leads/upload", headers=tenant.headers, json={"leads": [{"email": "x@bare.example"}]})
    assert r.status_code == 202
    wait_for_jobs()
    bare = client.get("/api/v1/leads/prioritized?q=bare.example&explain=true", headers=tenant.headers).json()["leads"]
    assert bare[0]["score"] is not None and bare[0]["lead_data"]["score_kind"] == "model"
    exp = bare[0]["explanation"]
    assert exp["base_points"] + sum(c["points"] for c in exp["contributions"]) == pytest.approx(bare[0]["score"], abs=1e-3)


def test_training_refuses_without_enough_outcomes(client, tenant):
    r = client.post("/api/v1/leads/upload", headers=tenant.headers, json={"leads": [
        {"email": f"a{i}@b{i}.com", "outcome": "converted" if i < 3 else "lost"} for i in range(10)]})
    assert r.status_code == 202
    wait_for_jobs()
    r = client.post("/api/v1/model/retrain", headers=tenant.headers)
    assert r.status_code == 422
    assert "3 converted and 7 lost" in r.json()["error"]["message"]
    assert "cold-start" in r.json()["error"]["message"]
