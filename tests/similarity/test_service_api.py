"""Cold start, ICPs and "similar leads" through the API, on SQLite and PostgreSQL (without
pgvector: the in-process index)."""

from __future__ import annotations

import pytest

from tests.conftest import wait_for_jobs

LEADS = [
    {"email": "ana@cloudly.io", "job_title": "VP of Sales", "company_name": "Cloudly",
     "industry": "Software", "company_size": 120, "lead_source": "Referral",
     "description": "B2B SaaS platform for revenue teams"},
    {"email": "ben@stackr.io", "job_title": "Head of Sales", "company_name": "Stackr",
     "industry": "Software", "company_size": 300, "lead_source": "Webinar",
     "description": "Cloud software for sales operations"},
    {"email": "cara@cityhospital.org", "job_title": "Nurse", "company_name": "City Hospital",
     "industry": "Healthcare", "company_size": 4000, "lead_source": "Purchased List",
     "description": "Public hospital"},
    {"email": "dan@gmail.com", "job_title": "Student", "company_name": "State University",
     "industry": "Education", "company_size": 20000, "lead_source": "Organic Search"},
    {"email": "eve@fintrack.com", "job_title": "Chief Revenue Officer", "company_name": "FinTrack",
     "industry": "Fintech", "company_size": 250, "lead_source": "Referral",
     "description": "Payments software for SMBs"},
]


def _upload(client, tenant):  # noqa: ANN001
    r = client.post("/api/v1/leads/upload", headers=tenant.headers, json={"leads": LEADS})
    assert r.status_code == 202
    wait_for_jobs()


def _by_email(client, tenant) -> dict:  # noqa: ANN001
    leads = client.get("/api/v1/leads/prioritized?explain=true&limit=50", headers=tenant.headers).json()["leads"]
    return {x["lead_data"]["email"]: x for x in leads}


def test_new_workspace_gets_labelled_cold_start_scores(client, tenant):
    _upload(client, tenant)
    leads = _by_email(client, tenant)
    assert all(x["score"] is not None for x in leads.values())
    for lead in leads.values():
        assert lead["lead_data"]["score_kind"] == "cold_start"
        exp = lead["explanation"]
        assert exp["base_points"] + sum(c["points"] for c in exp["contributions"]) == pytest.approx(lead["score"], abs=0.15)
    # A VP of Sales from a referral outranks a student from organic search.
    assert leads["ana@cloudly.io"]["score"] > leads["dan@gmail.com"]["score"]


def test_icp_changes_cold_start_and_finds_similar_leads(client, tenant):
    _upload(client, tenant)
    icp = client.post("/api/v1/icps", headers=tenant.headers, json={
        "name": "SaaS sales leaders", "description": "VP of Sales at a B2B SaaS software company",
        "industries": ["Software"], "size_min": 50, "size_max": 500, "seniorities": ["vp", "c_level"]})
    assert icp.status_code == 201, icp.text
    icp_id = icp.json()["icp_id"]
    wait_for_jobs()
    leads = _by_email(client, tenant)
    ana = leads["ana@cloudly.io"]
    assert any("ICP" in (c["label"] or "") or c["group"].startswith(("icp", "similar"))
               for c in ana["explanation"]["contributions"]), ana["explanation"]["contributions"]
    assert ana["score"] > leads["cara@cityhospital.org"]["score"]

    hits = client.get(f"/api/v1/leads/similar?to={icp_id}&k=3", headers=tenant.headers).json()
    top_two = {h["company_name"] for h in hits["results"][:2]}
    assert top_two <= {"Cloudly", "Stackr", "FinTrack"}
    assert hits["kind"] == "icp" and "in-process" in hits["backend"]

    ana_id = ana["lead_data"]["lead_id"]
    like_ana = client.get(f"/api/v1/leads/similar?to={ana_id}&k=4", headers=tenant.headers).json()["results"]
    assert ana_id not in {h["lead_id"] for h in like_ana}
    assert like_ana[0]["company_name"] in {"Stackr", "FinTrack"}

    stackr = leads["ben@stackr.io"]["lead_data"]["lead_id"]
    assert client.delete(f"/api/v1/leads/{stackr}", headers=tenant.headers).status_code == 204
    after = client.get(f"/api/v1/leads/similar?to={ana_id}&k=10", headers=tenant.headers).json()["results"]
    assert stackr not in {h["lead_id"] for h in after}

    assert client.get("/api/v1/leads/similar?to=not-an-id", headers=tenant.headers).status_code == 422
    assert client.post("/api/v1/icps", headers=tenant.headers, json={"name": "empty"}).status_code == 422
    health = client.get("/health").json()
    assert "in-process" in health["vector_index"]
