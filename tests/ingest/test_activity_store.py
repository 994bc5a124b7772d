"""Activity uploads, through the real job on both databases: what is new is stored once,
what is stored already is counted and skipped, and each lead's last activity date only
ever moves forward."""

from __future__ import annotations

import json

from tests.conftest import wait_for_jobs


def _upload(client, tenant, text: str, kind: str = "leads") -> dict:  # noqa: ANN001
    r = client.post("/api/v1/leads/upload", headers=tenant.headers, data={"kind": kind},
                    files={"file": (f"{kind}.csv", text.encode(), "text/csv")})
    assert r.status_code == 202, r.text
    wait_for_jobs()
    job = client.get(f"/api/v1/jobs/{r.json()['job_id']}", headers=tenant.headers).json()
    assert job["status"] == "done", json.dumps(job)
    return job["result"]


def _timeline(client, tenant) -> dict[str, tuple[list[str], str | None]]:  # noqa: ANN001
    out = {}
    for lead in client.get("/api/v1/leads/prioritized", headers=tenant.headers).json()["leads"]:
        data = lead["lead_data"]
        acts = client.get(f"/api/v1/leads/{data['lead_id']}/activities", headers=tenant.headers).json()["activities"]
        out[data["email"]] = (sorted(f"{a['activity_type']}@{a['activity_date'][:10]}" for a in acts),
                              (data.get("last_activity_date") or "")[:10] or None)
    return out


def test_reuploaded_activities_are_skipped_and_new_ones_stored(client, tenant):  # noqa: ANN001
    _upload(client, tenant, "email,company\nana@acme.io,Acme\nbo@beta.io,Beta\ncy@gamma.io,Gamma\n")
    first = ("lead_email,activity_type,activity_date\n"
             "ana@acme.io,email_open,2026-10-01\n"
             "ana@acme.io,meeting,2026-10-05\n"
             "ana@acme.io,meeting,2026-10-05\n"  # the same activity twice in one file
             "bo@beta.io,website_visit,2026-09-12\n")
    got = _upload(client, tenant, first, "activities")
    assert (got["activities_stored"], got["activities_already_stored"], got["rejected"]) == (3, 1, 0)
    # again, with one older and one newer activity added: only those two are new
    again = first + "bo@beta.io,download,2026-08-01\ncy@gamma.io,webinar,2026-10-20\n"
    got = _upload(client, tenant, again, "activities")
    assert (got["activities_stored"], got["activities_already_stored"]) == (2, 4)
    assert _timeline(client, tenant) == {
        "ana@acme.io": (["email_open@2026-10-01", "meeting@2026-10-05"], "2026-10-05"),
        "bo@beta.io": (["download@2026-08-01", "website_visit@2026-09-12"], "2026-09-12"),  # never moved back
        "cy@gamma.io": (["webinar@2026-10-20"], "2026-10-20"),
    }
