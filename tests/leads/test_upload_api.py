"""Upload → job → list / fetch / export, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import uuid

from tests.openpyxl_free import read_xlsx_rows
from tests.conftest import make_tenant, wait_for_jobs

MESSY_CSV = (
    "Email Address;Company;Title;# of Employees;Lead Source;Created Date;Status;Favourite Color\r\n"
    "ana@acme.io;Acme GmbH;VP Sales;51-200;Webinar;2026-03-01;Closed Won;blue\r\n"
    "bob@;Beta Ltd;CTO;250;Referral;2026-03-02;Open;red\r\n"                       # bad email
    "carl@gamma.com;Gamma;Engineer;lots;Paid Search;2026-03-03;Open;green\r\n"      # bad size
    "dora@delta.com;Delta;CEO;1,200;Organic;not a date;Open;\r\n"                   # bad date
    "\"eve@eps.com\";\"Epsilon; Inc\";\"Head of\nGrowth\";40;LinkedIn;03/04/2026;Closed Lost;teal\r\n"
    "fred@phi.com;=HYPERLINK(\"http://evil\");Manager;10;Referral;2026-03-05;Open;\r\n"
)


def upload(client, tenant, content: bytes, name: str = "leads.csv", **form) -> dict:
    files = {"file": (name, content, "text/csv")}
    data = {k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in form.items()}
    r = client.post("/api/v1/leads/upload", headers=tenant.headers, files=files, data=data)
    assert r.status_code == 202, r.text
    wait_for_jobs()
    job = client.get(f"/api/v1/jobs/{r.json()['job_id']}", headers=tenant.headers).json()
    return job


def test_messy_csv_keeps_good_rows_and_reports_each_bad_one(client, tenant):
    job = upload(client, tenant, MESSY_CSV.encode("utf-8"))
    assert job["status"] == "done", job
    assert job["result"]["created"] == 3
    assert job["result"]["rejected"] == 3
    by_row = {r["row_number"]: r for r in job["rejects"]}
    assert set(by_row) == {3, 4, 5}
    assert by_row[3]["field"] == "email" and "bob@" in by_row[3]["reason"]
    assert by_row[4]["field"] == "company_size" and "lots" in by_row[4]["reason"]
    assert by_row[5]["field"] == "created_at" and "not a date" in by_row[5]["reason"]

    rejects = client.get(job["rejects_csv"], headers=tenant.headers)
    assert rejects.status_code == 200
    rows = list(csv.DictReader(io.StringIO(rejects.text)))
    assert [r["row_number"] for r in rows] == ["3", "4", "5"]
    assert rows[0]["Email Address"] == "bob@" and rows[1]["# of Employees"] == "lots"

    page = client.get("/api/v1/leads/prioritized", headers=tenant.headers).json()
    emails = {lead["lead_data"]["email"] for lead in page["leads"]}
    assert emails == {"ana@acme.io", "eve@eps.com", "fred@phi.com"}
    eve = next(lead for lead in page["leads"] if lead["lead_data"]["email"] == "eve@eps.com")
    assert eve["lead_data"]["job_title"].replace("\n", " ") == "Head of Growth"
    assert eve["lead_data"]["company_name"] == "Epsilon; Inc"
    assert eve["lead_data"]["outcome"] == "lost"
    ana = next(lead for lead in page["leads"] if lead["lead_data"]["email"] == "ana@acme.io")
    assert ana["lead_data"]["company_size"] == 125  # "51-200" is stored as its midpoint
    assert ana["lead_data"]["outcome"] == "converted"
    assert ana["lead_data"]["custom"]["favourite_color"] == "blue"


def test_reupload_changes_nothing_and_newer_upload_updates(client, tenant):
    first = upload(client, tenant, MESSY_CSV.encode())
    second = upload(client, tenant, MESSY_CSV.encode())
    assert second["result"]["created"] == 0
    assert second["result"]["updated"] == 0
    assert second["result"]["unchanged"] == first["result"]["created"]
    page = client.get("/api/v1/leads/prioritized?count=true", headers=tenant.headers).json()
    assert page["total"] == 3

    newer = "Email;Title\r\nana@acme.io;Chief Revenue Officer\r\n".encode()
    third = upload(client, tenant, newer)
    assert third["result"]["updated"] == 1
    page = client.get("/api/v1/leads/prioritized?count=true", headers=tenant.headers).json()
    assert page["total"] == 3
    ana = next(lead for lead in page["leads"] if lead["lead_data"]["email"] == "ana@acme.io")
    assert ana["lead_data"]["job_title"] == "Chief Revenue Officer"
    assert ana["lead_data"]["company_name"] == "Acme GmbH"  # a column the newer file lacks is kept


def test_json_upload_and_lead_crud(client, tenant):
    r = client.post("/api/v1/leads/upload", headers=tenant.headers, json={"leads": [
        {"email": "x@corp.com", "first_name": "Xia", "company_name": "Corp", "company_size": 300,
         "industry": "Software"},
        {"email": "not-an-email", "company_name": "Nope"},
    ]})
    assert r.status_code == 202
    wait_for_jobs()
    job = client.get(f"/api/v1/jobs/{r.json()['job_id']}", headers=tenant.headers).json()
    assert job["result"]["created"] == 1 and job["result"]["rejected"] == 1
    assert job["rejects"][0]["row_number"] == 3 and job["rejects"][0]["field"] == "email"

    lead = client.get("/api/v1/leads/prioritized", headers=tenant.headers).json()["leads"][0]
    lead_id = lead["lead_data"]["lead_id"]
    one = client.get(f"/api/v1/leads/{lead_id}", headers=tenant.headers).json()
    assert set(one) >= {"lead_data", "score", "insights"}
    assert one["lead_data"]["lead_id"] == lead_id and one["lead_data"]["company_size"] == 300

    act = client.post(f"/api/v1/leads/{lead_id}/activities", headers=tenant.headers,
                      json={"activity_type": "demo_request", "activity_date": "2026-11-20T10:00:00Z",
                            "description": "Asked for a demo"})
    assert act.status_code == 201 and act.json()["created"] is True
    timeline = client.get(f"/api/v1/leads/{lead_id}/activities", headers=tenant.headers).json()["activities"]
    assert timeline[0]["activity_type"] == "demo_request"
    bad = client.post(f"/api/v1/leads/{lead_id}/activities", headers=tenant.headers,
                      json={"activity_type": "telepathy"})
    assert bad.status_code == 422 and "activity_type" in bad.json()["error"]["message"]

    assert client.delete(f"/api/v1/leads/{lead_id}", headers=tenant.headers).status_code == 204
    assert client.get(f"/api/v1/leads/{lead_id}", headers=tenant.headers).status_code == 404
    assert client.get(f"/api/v1/leads/{lead_id}/activities", headers=tenant.headers).status_code == 404


def test_other_workspaces_leads_are_invisible(client, tenant):
    upload(client, tenant, MESSY_CSV.encode())
    intruder = make_tenant("Intruder Inc")
    lead_id = client.get("/api/v1/leads/prioritized", headers=tenant.headers).json()["leads"][0]["lead_data"]["lead_id"]
    assert client.get(f"/api/v1/leads/{lead_id}", headers=intruder.headers).status_code == 404
    assert client.delete(f"/api/v1/leads/{lead_id}", headers=intruder.headers).status_code == 404
    assert client.post(f"/api/v1/leads/{lead_id}/activities", headers=intruder.headers,
                       json={"activity_type": "call"}).status_code == 404
    assert client.get("/api/v1/leads/prioritized", headers=intruder.headers).json()["leads"] == []
    job_id = client.get("/api/v1/jobs", headers=tenant.headers).json()["jobs"][0]["job_id"]
    assert client.get(f"/api/v1/jobs/{job_id}", headers=intruder.headers).status_code == 404
    assert client.get(f"/api/v1/jobs/{job_id}/rejects", headers=intruder.headers).status_code == 404
    # And it still works for the owner: 404 above is about the workspace, not the id.
    assert client.get(f"/api/v1/leads/{lead_id}", headers=tenant.headers).status_code == 200


def test_api_requires_a_valid_key(client, tenant):
    assert client.get("/api/v1/leads/prioritized").status_code == 401
    bad = client.get("/api/v1/leads/prioritized", headers={"Authorization": "Bearer lr_nope_nope"})
    assert bad.status_code == 401 and "API key" in bad.json()["error"]["message"]


def test_export_neutralises_formulas_and_takes_top_percent(client, tenant):
    upload(client, tenant, MESSY_CSV.encode())
    r = client.get("/api/v1/leads/export?format=csv", headers=tenant.headers)
    assert r.status_code == 200
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 3
    evil = next(row for row in rows if row["email"] == "fred@phi.com")
    assert evil["company_name"].startswith("'=HYPERLINK")
    top = client.get("/api/v1/leads/export?format=csv&top_percent=34", headers=tenant.headers)
    assert len(list(csv.DictReader(io.StringIO(top.text)))) == 2  # ceil(3 × 34%)

    x = client.get("/api/v1/leads/export?format=xlsx&top=2", headers=tenant.headers)
    assert x.status_code == 200
    sheet = read_xlsx_rows(x.content)
    assert len(sheet) == 3  # header + 2
    header = sheet[0]
    cells = [dict(zip(header, row)) for row in sheet[1:]]
    assert all(not str(c["company_name"]).startswith("=") for c in cells)


def test_filters_and_pagination(client, tenant):
    lines = ["email,company,industry,employees,title,source"]
    for i in range(30):
        industry = "Software" if i % 3 == 0 else "Retail"
        lines.append(f"p{i}@c{i}.com,C{i},{industry},{10 * (i + 1)},{'VP Sales' if i % 2 else 'Analyst'},"
                     f"{'Referral' if i % 5 == 0 else 'Webinar'}")
    upload(client, tenant, "\n".join(lines).encode())
    h = tenant.headers
    soft = client.get("/api/v1/leads/prioritized?industry=Software&count=true", headers=h).json()
    assert soft["total"] == 10 and all(x["lead_data"]["industry"] == "Software" for x in soft["leads"])
    size = client.get("/api/v1/leads/prioritized?company_size_min=100&company_size_max=200&count=true", headers=h).json()
    assert size["total"] == 11
    vp = client.get("/api/v1/leads/prioritized?job_title=vp&lead_source=Webinar&count=true", headers=h).json()
    assert all("VP" in x["lead_data"]["job_title"] and x["lead_data"]["lead_source"] == "Webinar" for x in vp["leads"])
    seen: list[str] = []
    cursor = None
    while True:
        url = "/api/v1/leads/prioritized?limit=7" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=h).json()
        seen += [x["lead_data"]["lead_id"] for x in page["leads"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 30 and len(set(seen)) == 30
    by_size = client.get("/api/v1/leads/prioritized?sort=company_size&order=desc&limit=3", headers=h).json()
    assert [x["lead_data"]["company_size"] for x in by_size["leads"]] == [300, 290, 280]
    assert client.get("/api/v1/leads/prioritized?cursor=garbage", headers=h).status_code == 422
    assert client.get("/api/v1/leads/prioritized?sort=password", headers=h).status_code == 422
    assert uuid.UUID(seen[0])


def test_activity_upload_with_a_mapping_override(client, tenant):
    upload(client, tenant, "Email,Company\r\nana@acme.io,Acme\r\n".encode())
    acts = "Who,What,When\r\nana@acme.io,Requested demo,2026-11-20\r\nnobody@x.io,visit,2026-11-21\r\n"
    job = upload(client, tenant, acts.encode(), "acts.csv", kind="activities",
                 mapping={"Who": "lead_email", "What": "activity_type", "When": "activity_date"})
    assert job["status"] == "done", job
    assert job["result"]["activities_stored"] == 1 and job["result"]["rejected"] == 1
    assert job["rejects"][0]["row_number"] == 3 and "nobody@x.io" in job["rejects"][0]["reason"]
    lead = client.get("/api/v1/leads/prioritized", headers=tenant.headers).json()["leads"][0]
    timeline = client.get(f"/api/v1/leads/{lead['lead_data']['lead_id']}/activities", headers=tenant.headers)
    assert [a["activity_type"] for a in timeline.json()["activities"]] == ["demo_request"]


def test_pages_of_a_sort_on_a_column_with_gaps_reach_every_lead_once(client, tenant):
    lines = ["email,company,employees"]
    for i in range(11):
        lines.append(f"s{i}@c{i}.com,C{i},{'' if i % 3 == 0 else 10 * (i % 4 + 1)}")
    upload(client, tenant, "\n".join(lines).encode())
    for order in ("desc", "asc"):
        seen, cursor = [], None
        while True:
            url = f"/api/v1/leads/prioritized?sort=company_size&order={order}&limit=4&count=true"
            page = client.get(url + (f"&cursor={cursor}" if cursor else ""), headers=tenant.headers).json()
            assert page["total"] == 11 and page["total_as_of"] is None  # small: counted for the request
            assert all(isinstance(x["insights"], list) for x in page["leads"])
            seen += [(x["lead_data"]["company_size"], x["lead_data"]["lead_id"]) for x in page["leads"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert len({lead_id for _, lead_id in seen}) == 11
        sizes = [s for s, _ in seen]
        known = [s for s in sizes if s is not None]
        assert sizes == known + [None] * 4  # unknown sizes last in either direction
        assert known == sorted(known, reverse=order == "desc")
