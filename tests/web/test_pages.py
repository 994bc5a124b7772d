"""Server-side tests of the pages (TestClient, real SQLite and PostgreSQL): sign-in, CSRF,
workspace isolation, the upload preview and start, the list, a lead, the model page,
exports and the error pages."""

from __future__ import annotations

import csv
import io
import re
import time
import uuid

import pytest

from tests.conftest import make_tenant, wait_for_jobs
from tests.web.conftest import HTML, WebUser, csrf_from, make_user, sign_in
from tests.web.data import BAD_ROWS, messy_leads
from tests.web.factories import add_activity, add_lead, add_model_version, explanation


def texts(html: str) -> str:
    """The visible text of a page, whitespace collapsed (for "the user reads ..." asserts)."""
    html = re.sub(r"<(script|style|title|desc)[^>]*>.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r"</?(strong|em|b|code|time|small)\b[^>]*>", "", html)  # inline: no word break
    text = re.sub(r"<[^>]+>", " ", html)
    import html as h

    return re.sub(r"\s+", " ", h.unescape(text)).strip()


# --- sign-in ----------------------------------------------------------------------------------

def test_pages_need_a_session_and_sign_in_returns_to_the_page(client, web_user: WebUser) -> None:
    r = client.get("/leads?industry=Retail", headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fleads%3Findustry%3DRetail"
    login = client.get(r.headers["location"], headers=HTML)
    assert 'value="/leads?industry=Retail"' in login.text
    bad = client.post("/login", data={"email": web_user.email, "password": "wrong-password",
                                      "csrf_token": csrf_from(login.text), "next": "/leads"}, headers=HTML)
    assert bad.status_code == 401 and "do not match an account" in texts(bad.text)
    ok = client.post("/login", data={"email": web_user.email.upper(), "password": web_user.password,
                                     "csrf_token": csrf_from(login.text), "next": "/leads?industry=Retail"},
                     headers=HTML, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/leads?industry=Retail"
    for path in ("/", "/leads", "/upload", "/model", "/customize"):  # /customize: the customize package
        page = client.get(path, headers=HTML)
        assert page.status_code == 200, path
        assert "Ann Agent" in page.text and "Acme Client" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert 'href="/static/app.css?v=' in page.text and "https://" not in page.text.split("<body")[0]


def test_sign_out_ends_the_session(client, web_user: WebUser) -> None:
    token = sign_in(client, web_user)
    r = client.post("/logout", data={"csrf_token": token}, headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert "You are signed out" in texts(client.get("/login", headers=HTML).text)
    assert client.get("/", headers=HTML, follow_redirects=False).status_code == 303


def test_sign_in_never_redirects_off_site(client, web_user: WebUser) -> None:
    login = client.get("/login", headers=HTML)
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        r = client.post("/login", data={"email": web_user.email, "password": web_user.password,
                                        "csrf_token": csrf_from(login.text), "next": target},
                        headers=HTML, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/", target
        login = client.get("/login", headers=HTML)  # signed in now: go again via a fresh form
        client.cookies.clear()
        login = client.get("/login", headers=HTML)


def test_the_demo_login_is_offered_when_the_demo_account_exists(client, env) -> None:  # noqa: ANN001
    assert "demo@leadrank.local" not in client.get("/login", headers=HTML).text
    make_user("demo@leadrank.local", ["Demo"], password="demo-password")
    page = client.get("/login", headers=HTML)
    assert "demo@leadrank.local" in page.text and "demo-password" in page.text
    r = client.post("/login", data={"email": "demo@leadrank.local", "password": "demo-password",
                                    "csrf_token": csrf_from(page.text)}, headers=HTML, follow_redirects=False)
    assert r.status_code == 303


# --- CSRF -------------------------------------------------------------------------------------

def test_every_form_post_needs_the_sessions_csrf_token(client, web_user: WebUser) -> None:
    # Login itself: no token, or a token from another browser, is refused.
    client.get("/login", headers=HTML)
    r = client.post("/login", data={"email": web_user.email, "password": web_user.password}, headers=HTML)
    assert r.status_code == 403 and "Reload the page" in texts(r.text)
    token = sign_in(client, web_user)
    other = make_user("other@agency.test", ["Other Co"])
    from fastapi.testclient import TestClient

    with TestClient(client.app) as second:
        foreign_token = sign_in(second, other)
    assert foreign_token != token
    posts = [("/logout", {}), ("/workspace", {"workspace_id": str(web_user.workspace_id)}),
             ("/model/retrain", {}), ("/model/rollback", {})]
    for path, data in posts:
        for bad in (None, "", foreign_token, token[:-2] + "xx"):
            body = dict(data) if bad is None else {**data, "csrf_token": bad}
            r = client.post(path, data=body, headers=HTML, follow_redirects=False)
            assert r.status_code == 403, (path, bad)
    files = {"file": ("leads.csv", b"email\nx@y.com\n", "text/csv")}
    assert client.post("/upload", files=files, data={"kind": "leads"}, headers=HTML).status_code == 403
    # Still signed in: the refused sign-out did nothing.
    assert client.get("/", headers=HTML, follow_redirects=False).status_code == 200
    # The right token works, as a form field or as the header scripts send.
    ok = client.post("/upload", files=files, data={"kind": "leads", "csrf_token": token}, headers=HTML,
                     follow_redirects=False)
    assert ok.status_code == 303
    assert client.post("/logout", headers={**HTML, "X-CSRF-Token": token}, follow_redirects=False).status_code == 303


def test_api_calls_made_with_the_session_cookie_need_the_csrf_header(client, web_user: WebUser) -> None:
    token = sign_in(client, web_user)
    payload = {"leads": [{"email": "a@b.com", "company_name": "B"}]}
    r = client.post("/api/v1/leads/upload", json=payload)
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    assert client.post("/api/v1/leads/upload", json=payload, headers={"X-CSRF-Token": token}).status_code == 202
    assert client.get("/api/v1/leads/prioritized").status_code == 200  # reads need no token
    # API keys are not cookies: no token needed.
    tenant = make_tenant("Key Co")
    client.cookies.clear()
    assert client.post("/api/v1/leads/upload", json=payload, headers=tenant.headers).status_code == 202
    wait_for_jobs()


# --- workspaces -------------------------------------------------------------------------------

def test_a_user_sees_only_their_workspaces_and_can_switch(client, web_user: WebUser) -> None:
    acme, beta = web_user.workspaces["Acme Client"], web_user.workspaces["Beta Client"]
    add_lead(acme, "only-in-acme@x.com", first_name="Acme", last_name="Person")
    add_lead(beta, "only-in-beta@x.com", first_name="Beta", last_name="Person")
    outsider = make_user("eve@elsewhere.test", ["Eve Corp"])
    eve_lead = add_lead(outsider.workspace_id, "eve-lead@x.com", first_name="Secret")
    token = sign_in(client, web_user)

    page = client.get("/leads", headers=HTML).text
    assert "only-in-acme@x.com" in page and "only-in-beta@x.com" not in page and "eve-lead" not in page
    assert "Eve Corp" not in page  # not offered in the switcher
    r = client.post("/workspace", data={"workspace_id": str(beta), "next": "/leads/123", "csrf_token": token},
                    headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/leads"
    page = client.get("/leads", headers=HTML).text
    assert "only-in-beta@x.com" in page and "only-in-acme@x.com" not in page
    assert "Switched to Beta Client" in texts(page)

    # Someone else's workspace: switching is refused, their records are "not found".
    r = client.post("/workspace", data={"workspace_id": str(outsider.workspace_id), "csrf_token": token},
                    headers=HTML, follow_redirects=True)
    assert "not a member of that workspace" in texts(r.text)
    assert "only-in-beta@x.com" in client.get("/leads", headers=HTML).text
    r = client.get(f"/leads/{eve_lead}", headers=HTML)
    assert r.status_code == 404 and "Secret" not in r.text and "Page not found" in r.text
    assert client.get(f"/leads/similar?to={eve_lead}", headers=HTML).status_code == 404
    assert client.get(f"/leads/export?scope=selected&ids={eve_lead}").text.count("\n") == 1  # header only


def test_jobs_and_picked_files_stay_in_their_workspace(client, web_user: WebUser) -> None:
    token = sign_in(client, web_user)
    r = client.post("/upload", files={"file": ("a.csv", messy_leads(n=12).content, "text/csv")},
                    data={"kind": "leads", "csrf_token": token}, headers=HTML, follow_redirects=False)
    preview_url = r.headers["location"]
    started = client.post(preview_url, data={"csrf_token": token}, headers=HTML, follow_redirects=False)
    job_url = started.headers["location"]
    wait_for_jobs()
    r2 = client.post("/upload", files={"file": ("b.csv", b"email\nq@q.com\n", "text/csv")},
                     data={"kind": "leads", "csrf_token": token}, headers=HTML, follow_redirects=False)
    other_preview = r2.headers["location"]

    from fastapi.testclient import TestClient

    intruder = make_user("mallory@elsewhere.test", ["Mallory Inc"])
    with TestClient(client.app) as other:
        other_token = sign_in(other, intruder)
        assert other.get(job_url, headers=HTML).status_code == 404
        assert other.get(other_preview, headers=HTML).status_code == 404
        assert other.post(other_preview, data={"csrf_token": other_token}, headers=HTML).status_code == 404
    # A picked file is not offered in the user's other workspace either.
    client.post("/workspace", data={"workspace_id": str(web_user.workspaces["Beta Client"]), "csrf_token": token},
                headers=HTML)
    assert client.get(other_preview, headers=HTML).status_code == 404


# --- upload -----------------------------------------------------------------------------------

def test_upload_preview_shows_the_detected_mapping_and_the_first_rows(client, web_user: WebUser) -> None:
    token = sign_in(client, web_user)
    lf = messy_leads(n=30)
    r = client.post("/upload", files={"file": ("march.csv", lf.content, "text/csv")},
                    data={"kind": "leads", "csrf_token": token}, headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and re.fullmatch(r"/upload/[0-9a-f]{32}", r.headers["location"])
    page = client.get(r.headers["location"], headers=HTML)
    assert page.status_code == 200
    html = page.text

    def selected(index: int) -> str:
        select = re.search(rf'<select id="map-{index}".*?</select>', html, re.S).group(0)
        return re.search(r'<option value="([^"]+)" selected', select).group(1)

    headers = ["Email Address", "First Name", "Last Name", "Company", "Job Title", "Industry", "# of Employees",
               "Lead Source", "Created Date", "Status", "Budget Band", "Internal Notes"]
    expected = ["email", "first_name", "last_name", "company_name", "job_title", "industry", "company_size",
                "lead_source", "created_at", "outcome", "custom:budget_band", "custom:internal_notes"]
    assert [selected(i) for i in range(len(headers))] == expected
    text = texts(html)
    assert "separated by ;" in text and "12 columns" in text and "about 30 rows" in text
    assert "lead000@acme0.com" in text and "bob@" in text  # raw rows, before cleaning
    assert len(re.findall(r'<tr><td class="num muted">', html)) == 8


def test_adjusted_mapping_is_used_and_the_result_lists_every_reject(client, web_user: WebUser) -> None:
    token = sign_in(client, web_user)
    lf = messy_leads(n=40)
    preview = client.post("/upload", files={"file": ("march.csv", lf.content, "text/csv")},
                          data={"kind": "leads", "csrf_token": token}, headers=HTML).url.path
    # Ignore "Internal Notes" (column 11) and keep "Industry" (5) as a custom field instead.
    r = client.post(preview, data={"csrf_token": token, "map-11": "ignore", "map-5": "custom:sector"},
                    headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/jobs/")
    wait_for_jobs()
    page = client.get(r.headers["location"], headers=HTML)
    text = texts(page.text)
    assert f"{lf.stored} new leads stored" in text and "3 rejected" in text
    assert "3 rows could not be stored" in text
    for row_number, field in BAD_ROWS.items():
        assert re.search(rf'<td class="num">{row_number}</td>', page.text), row_number
    assert "bad email 'bob@'" in text and "'lots' is not a number" in text and "'not a date' is not a date" in text
    job_id = r.headers["location"].rsplit("/", 1)[1]
    assert f'href="/api/v1/jobs/{job_id}/rejects"' in page.text
    rejects = client.get(f"/api/v1/jobs/{job_id}/rejects")
    assert [row["row_number"] for row in csv.DictReader(io.StringIO(rejects.text))] == ["6", "11", "17"]

    lead_page = client.get("/leads?q=lead000@", headers=HTML).text
    lead_id = re.search(r'href="/leads/([0-9a-f-]{36})"', lead_page).group(1)
    detail = texts(client.get(f"/leads/{lead_id}", headers=HTML).text)
    assert "Sector Manufacturing" in detail  # the custom field chosen in the mapping
    assert "Internal notes" not in detail and "note 0" not in detail  # ignored
    assert "Industry —" in detail


def test_upload_problems_are_explained_on_the_page(client, web_user: WebUser) -> None:
    token = sign_in(client, web_user)
    r = client.post("/upload", data={"kind": "leads", "csrf_token": token}, headers=HTML)
    assert r.status_code == 422 and "Choose a CSV or Excel file" in texts(r.text)
    r = client.post("/upload", files={"file": ("photo.png", b"\x89PNG....", "image/png")},
                    data={"csrf_token": token}, headers=HTML)
    assert r.status_code == 422 and "“photo.png” is not a CSV or Excel file" in texts(r.text)
    r = client.post("/upload", files={"file": ("empty.csv", b"", "text/csv")}, data={"csrf_token": token},
                    headers=HTML)
    assert r.status_code == 422 and "empty" in texts(r.text)
    # Two columns on one field: the preview comes back with the reason and the choices kept.
    preview = client.post("/upload", files={"file": ("x.csv", b"Email,Work Email\na@b.com,c@d.com\n", "text/csv")},
                          data={"csrf_token": token}, headers=HTML).url.path
    r = client.post(preview, data={"csrf_token": token, "map-0": "email", "map-1": "email"}, headers=HTML)
    assert r.status_code == 422
    assert "The upload did not start" in texts(r.text) and "'Email' and 'Work Email'" in texts(r.text)
    # Nothing identifies a lead: a warning before starting.
    preview = client.post("/upload", files={"file": ("y.csv", b"Colour,Mood\nblue,happy\n", "text/csv")},
                          data={"csrf_token": token}, headers=HTML)
    assert "every row would be rejected" in texts(preview.text)


def test_a_failed_upload_says_why(client, web_user: WebUser) -> None:
    token = sign_in(client, web_user)
    preview = client.post("/upload", files={"file": ("h.csv", b"email,company\n", "text/csv")},
                          data={"csrf_token": token}, headers=HTML).url.path
    job_url = client.post(preview, data={"csrf_token": token}, headers=HTML, follow_redirects=False).headers["location"]
    wait_for_jobs()
    text = texts(client.get(job_url, headers=HTML).text)
    assert "This upload stopped." in text and "header but no data rows" in text


def test_a_running_job_page_refreshes_itself_without_javascript(client, web_user: WebUser) -> None:
    from leadrank.db import session_scope
    from leadrank.jobs.service import create_job

    sign_in(client, web_user)
    with session_scope() as session:
        job = create_job(session, web_user.workspace_id, "leads.upload", {"filename": "big.csv", "kind": "leads"})
        session.info.clear()  # keep it queued: never handed to the runner
        job.progress = {"rows_read": 500, "rows_total_estimate": 1000, "created": 480, "rejected": 20}
        job_id = job.id
    page = client.get(f"/jobs/{job_id}", headers=HTML).text
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in page
    assert 'value="50.0"' in page and "data-poll" in page
    assert "500 rows read" in texts(page)


def test_activity_upload_attaches_to_leads_and_reports_unknown_ones(client, web_user, scored) -> None:  # noqa: ANN001
    token = sign_in(client, web_user)
    content = (b"Lead Email,Activity,Date,Notes\n"
               b"vp@a.com,demo_request,2026-03-01,Asked for a demo\n"
               b"nobody@nowhere.com,website_visit,2026-03-02,Pricing page\n")
    r = client.post("/upload", files={"file": ("acts.csv", content, "text/csv")},
                    data={"kind": "activities", "csrf_token": token}, headers=HTML)
    assert r.status_code == 200 and "activities" in texts(r.text)
    assert "Keep as custom field" not in r.text  # activities have no custom fields
    job_url = client.post(r.url.path, data={"csrf_token": token}, headers=HTML,
                          follow_redirects=False).headers["location"]
    wait_for_jobs()
    text = texts(client.get(job_url, headers=HTML).text)
    assert "1 activities stored" in text and "1 rejected" in text and "no lead 'nobody@nowhere.com'" in text
    assert "Demo request — Asked for a demo" in texts(client.get(f"/leads/{scored['vp@a.com']}", headers=HTML).text)


def test_a_viewer_can_read_but_not_change(client, env) -> None:  # noqa: ANN001
    viewer = make_user("vic@agency.test", ["Read Only Co"], role="viewer")
    add_model_version(viewer.workspace_id, 1, active=True)
    token = sign_in(client, viewer)
    assert client.get("/leads", headers=HTML).status_code == 200
    model = client.get("/model", headers=HTML).text
    assert "Retrain now" not in model and "/activate" not in model
    r = client.post("/model/retrain", data={"csrf_token": token}, headers=HTML)
    assert r.status_code == 403 and "Not allowed" in r.text
    r = client.post("/upload", files={"file": ("a.csv", b"email\na@b.com\n", "text/csv")},
                    data={"csrf_token": token}, headers=HTML)
    assert r.status_code == 403


# --- the list ---------------------------------------------------------------------------------

@pytest.fixture
def scored(web_user: WebUser) -> dict[str, uuid.UUID]:
    ws = web_user.workspace_id
    ids = {}
    rows = [("vp@a.com", 81, "A", "Software", 250, "Referral", "VP Sales"),
            ("cto@b.com", 64, "A", "Software", 40, "Webinar", "CTO"),
            ("mgr@c.com", 33, "B", "Retail", 1200, "Webinar", "Store Manager"),
            ("intern@d.com", 7, "D", "Retail", 15, "Paid Search", "Intern")]
    for email, score, grade, industry, size, source, title in rows:
        exp = explanation(score, 12.0, [("job_title", f"Title is {title}", score - 12.0 + 4.0),
                                        ("activities.website_visit", "No website visit in 60 days", -4.0)],
                          next_action="Asked for a demo 2 days ago, no meeting yet: call today" if score > 80 else None)
        ids[email] = add_lead(ws, email, score=score, grade=grade, explanation_=exp, industry=industry,
                              company_size=size, lead_source=source, job_title=title,
                              first_name=email.split("@")[0].capitalize(), last_name="Doe",
                              company_name=email.split("@")[1].split(".")[0].upper() + " Corp")
    ids["unscored"] = add_lead(ws, "new@e.com", first_name="Newbie", industry="Retail")
    ids["override"] = add_lead(ws, "override@f.com", score=20.0, grade="C", grade_override="A",
                               explanation_=explanation(20.0, 12.0, [("industry", "Industry is Retail", 8.0)]),
                               override_reason="Met at the trade fair", first_name="Olga", last_name="Ivanova",
                               industry="Retail")
    return ids


def _emails_in_order(html: str) -> list[str]:
    return re.findall(r'<span class="sub">([^<]+)</span>', html)


def test_list_ranks_by_score_and_shows_grade_probability_and_top_reason(client, web_user, scored) -> None:  # noqa: ANN001
    sign_in(client, web_user)
    html = client.get("/leads", headers=HTML).text
    assert _emails_in_order(html) == ["vp@a.com", "cto@b.com", "mgr@c.com", "override@f.com", "intern@d.com",
                                      "new@e.com"]
    text = texts(html)
    assert "Title is VP Sales: +73" in text and "81.0%" in text
    assert "Not scored yet" in text
    # The override is shown (and the model's own grade next to it).
    row = re.search(r'<tr data-lead="%s">.*?</tr>' % scored["override"], html, re.S).group(0)
    assert 'grade-A is-override' in row and "model C" in row and "Met at the trade fair" in row


def test_list_filters_sort_search_and_pages(client, web_user, scored) -> None:  # noqa: ANN001
    sign_in(client, web_user)

    def emails(query: str) -> list[str]:
        r = client.get("/leads" + query, headers=HTML)
        assert r.status_code == 200, r.text
        return _emails_in_order(r.text)

    assert emails("?industry=Software") == ["vp@a.com", "cto@b.com"]
    assert emails("?lead_source=Webinar") == ["cto@b.com", "mgr@c.com"]
    assert emails("?grade=A") == ["vp@a.com", "cto@b.com", "override@f.com"]  # the override counts
    assert emails("?grade=A&grade=D") == ["vp@a.com", "cto@b.com", "override@f.com", "intern@d.com"]
    assert emails("?size_min=40&size_max=1,000") == ["vp@a.com", "cto@b.com"]
    assert emails("?job_title=vp") == ["vp@a.com"]
    assert emails("?score_min=30&score_max=70") == ["cto@b.com", "mgr@c.com"]
    assert emails("?q=CORP&industry=Retail") == ["mgr@c.com", "intern@d.com"]
    assert emails("?q=olga iv") == ["override@f.com"]
    today = __import__("datetime").date.today().isoformat()
    assert len(emails(f"?created_from={today}&created_to={today}")) == 6
    assert emails("?created_to=2000-01-01") == []
    # Empty form fields are "no filter", not an error; a typo is reported, not a crash.
    assert len(emails("?industry=&size_min=&score_max=&created_from=")) == 6
    r = client.get("/leads?size_min=lots", headers=HTML)
    assert r.status_code == 200 and "Company size (from) must be a number" in texts(r.text)
    # Sorting.
    assert emails("?sort=company_size&order=desc")[:4] == ["mgr@c.com", "vp@a.com", "cto@b.com", "intern@d.com"]
    assert emails("?sort=company_size&order=asc")[:4] == ["intern@d.com", "cto@b.com", "vp@a.com", "mgr@c.com"]
    assert emails("?sort=score&order=asc&score_min=0")[0] == "intern@d.com"
    by_grade = emails("?sort=grade")
    assert set(by_grade[:2]) == {"vp@a.com", "cto@b.com"} and by_grade[2] == "mgr@c.com"
    html = client.get("/leads?sort=company_size&order=desc", headers=HTML).text
    assert 'aria-sort="descending"' in html and "sort=company_size&amp;order=asc" in html
    # Keyset pages of 25 over 60 leads: every lead exactly once, in score order.
    for i in range(60):
        add_lead(web_user.workspace_id, f"bulk{i:02d}@x.com", score=float(i) / 2, grade="D")
    seen: list[str] = []
    url = "/leads?limit=25"
    while url:
        html = client.get(url, headers=HTML).text
        seen += _emails_in_order(html)
        nxt = re.search(r'<a class="btn btn-small" rel="next" href="([^"]+)"', html)
        url = nxt.group(1).replace("&amp;", "&") if nxt else None
    assert len(seen) == 66 and len(set(seen)) == 66 and seen[0] == "vp@a.com" and seen[-1] == "new@e.com"
    assert "Showing 51–66 of 66" in texts(html)
    r = client.get("/leads?cursor=garbage", headers=HTML)
    assert r.status_code == 200 and "cursor is not valid" in texts(r.text)


def test_a_big_filtered_list_shows_a_lower_bound_until_it_is_counted(client, web_user, scored,
                                                                   monkeypatch) -> None:  # noqa: ANN001
    """The page never waits for a big count: "3+" (EXACT_COUNT is 3 here) while a background
    thread counts, the count once made; the "Next" links carry what the first page showed."""
    from leadrank.leads import service

    for i in range(30):
        add_lead(web_user.workspace_id, f"shop{i:02d}@x.com", score=float(i), grade="D", industry="Retail")
    monkeypatch.setattr(service, "EXACT_COUNT", 3)
    monkeypatch.setattr(service, "_counts", service._Recent(60.0))
    monkeypatch.setattr(service, "_bounded", service._Recent(60.0))
    sign_in(client, web_user)
    html = client.get("/leads?industry=Retail&limit=25", headers=HTML).text
    assert "3+ of 36 leads match" in texts(html) and "Showing 1–25 of 3+" in texts(html)
    nxt = re.search(r'<a class="btn btn-small" rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert "Showing 26–34 of 3+" in texts(client.get(nxt, headers=HTML).text)
    deadline = time.monotonic() + 10
    while "34 of 36 leads match" not in texts(client.get("/leads?industry=Retail&limit=25", headers=HTML).text):
        assert time.monotonic() < deadline, "the background count never arrived"
        time.sleep(0.05)


def _options(html: str, select_id: str) -> list[str]:
    select = re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', html, re.S).group(1)
    return re.findall(r'<option value="([^"]*)"', select)[1:]  # after "All …"


def test_list_filters_offer_every_value_and_the_common_ones_of_messy_data(client, web_user, scored,
                                                                          monkeypatch) -> None:  # noqa: ANN001
    from leadrank.leads import service

    sign_in(client, web_user)
    html = client.get("/leads", headers=HTML).text
    assert _options(html, "f-industry") == ["Retail", "Software"]
    assert _options(html, "f-source") == ["Paid Search", "Referral", "Webinar"]
    # A new value is offered as soon as its lead is there (the workspace's count changed).
    add_lead(web_user.workspace_id, "edu@g.com", score=5.0, grade="D", industry="education", lead_source="Webinar")
    assert _options(client.get("/leads", headers=HTML).text, "f-industry") == ["education", "Retail", "Software"]
    # More values than a select should hold: the most common ones, alphabetically.
    monkeypatch.setattr(service, "FILTER_CHOICES", 2)
    monkeypatch.setattr(service, "_choices", service._Recent(60.0))
    html = client.get("/leads", headers=HTML).text
    assert _options(html, "f-industry") == ["Retail", "Software"]  # 4 and 2 leads; education has 1
    assert _options(html, "f-source") == ["Paid Search", "Webinar"]  # 3 leads, then the first of two with 1
    # Filtering by a value the select no longer offers still works.
    assert _emails_in_order(client.get("/leads?industry=education", headers=HTML).text) == ["edu@g.com"]


def test_list_rows_name_each_lead_and_mark_cold_start_scores(client, web_user, scored) -> None:  # noqa: ANN001
    from leadrank.db import session_scope
    from leadrank.models import Lead

    sign_in(client, web_user)
    nameless = add_lead(web_user.workspace_id, "nobody@h.com", score=50.0, grade="B", company_name="Hollow Co")
    with session_scope() as session:
        session.get(Lead, nameless).score_kind = "cold_start"
    html = client.get("/leads", headers=HTML).text
    row = re.search(r'<tr data-lead="%s">.*?</tr>' % nameless, html, re.S).group(0)
    # No name: the email names the lead, in the link and the checkbox's label.
    assert 'aria-label="Select nobody@h.com"' in row and ">nobody@h.com</a>" in row
    assert "cold start" in row and 'width="50.0"' in row
    vp = re.search(r'<tr data-lead="%s">.*?</tr>' % scored["vp@a.com"], html, re.S).group(0)
    assert 'aria-label="Select Vp Doe"' in vp and ">Vp Doe</a>" in vp and "cold start" not in vp
    assert html.count("cold start") == 1


def test_export_top_percent_and_selected(client, web_user, scored) -> None:  # noqa: ANN001
    sign_in(client, web_user)
    r = client.get("/leads/export?scope=top&top_percent=50&format=csv")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["email"] for row in rows] == ["vp@a.com", "cto@b.com", "mgr@c.com"]  # ceil(6 × 50%)
    assert rows[0]["top_reasons"].startswith("Title is VP Sales: +73")
    assert rows[0]["next_action"].startswith("Asked for a demo")
    r = client.get("/leads/export?scope=top&top_percent=100&industry=Retail")
    assert [row["email"] for row in csv.DictReader(io.StringIO(r.text))] == ["mgr@c.com", "override@f.com",
                                                                          "intern@d.com", "new@e.com"]
    picked = f"ids={scored['intern@d.com']}&ids={scored['vp@a.com']}"
    r = client.get(f"/leads/export?scope=selected&format=csv&{picked}")
    assert [row["email"] for row in csv.DictReader(io.StringIO(r.text))] == ["vp@a.com", "intern@d.com"]
    x = client.get(f"/leads/export?scope=selected&format=xlsx&{picked}")
    from tests.openpyxl_free import read_xlsx_rows

    sheet = read_xlsx_rows(x.content)
    assert len(sheet) == 3 and sheet[1][sheet[0].index("email")] == "vp@a.com"
    r = client.get("/leads/export?scope=selected", headers=HTML)
    assert r.status_code == 422 and "Tick the leads to export first" in texts(r.text)


# --- a lead -----------------------------------------------------------------------------------

def test_lead_page_explains_the_score_in_a_chart_and_sentences_that_add_up(client, web_user, scored) -> None:  # noqa: ANN001
    lead_id = scored["vp@a.com"]
    add_activity(web_user.workspace_id, lead_id, "demo_request", 2, "Asked for a demo")
    add_activity(web_user.workspace_id, lead_id, "website_visit", 9, "Pricing page")
    sign_in(client, web_user)
    html = client.get(f"/leads/{lead_id}", headers=HTML).text
    text = texts(html)
    assert "Why 81" in text
    assert "Title is VP Sales +73" in text and "No website visit in 60 days \u22124" in text
    assert "A typical lead starts at 12 points; the factors above add +73 and take away \u22124, which makes 81." \
        in text
    svg = re.search(r'<svg class="chart chart-waterfall".*?</svg>', html, re.S).group(0)
    assert 'role="img"' in svg and "<title" in svg and svg.count('<rect class="c-') == 4  # base, 2 factors, score
    assert "Asked for a demo 2 days ago, no meeting yet: call today" in text  # next action
    assert text.index("Demo request — Asked for a demo") < text.index("Website visit — Pricing page")
    assert 'href="/leads/similar?to=%s"' % lead_id in html
    assert "Score history" in text and len(re.findall(r'<svg class="chart chart-spark"', html)) == 1
    assert "vp@a.com" in text and "SOFTWARE" not in text  # every field, as stored


def test_lead_page_says_reasons_are_on_their_way_between_the_two_scoring_passes(client, web_user) -> None:  # noqa: ANN001
    lead_id = add_lead(web_user.workspace_id, "fresh@a.com", score=57.0, grade="B", explanation_=None)
    sign_in(client, web_user)
    html = client.get(f"/leads/{lead_id}", headers=HTML).text
    text = texts(html)
    assert "57" in text and "The reasons behind this score are being written" in text
    assert "chart-waterfall" not in html and "A typical lead starts at" not in text


def test_more_like_this_lists_the_engines_neighbours(client, web_user, scored, monkeypatch) -> None:  # noqa: ANN001
    from leadrank.similarity import service as similarity

    vp, cto, mgr = scored["vp@a.com"], scored["cto@b.com"], scored["mgr@c.com"]
    calls = []

    def fake_similar(session, workspace_id, to, k=10):  # noqa: ANN001, ANN202 - the engine's documented shape
        calls.append((workspace_id, to, k))
        return {"to": to, "kind": "lead", "results": [{"lead_id": str(cto), "similarity": 0.91},
                                                       {"lead_id": str(mgr), "similarity": 0.42}]}

    monkeypatch.setattr(similarity, "similar_leads", fake_similar)
    sign_in(client, web_user)
    r = client.get(f"/leads/similar?to={vp}", headers=HTML)
    assert r.status_code == 200 and calls == [(web_user.workspace_id, str(vp), 20)]
    rows = re.findall(r'<tr><td><a class="lead-link" href="/leads/([0-9a-f-]{36})"', r.text)
    assert rows == [str(cto), str(mgr)]
    text = texts(r.text)
    assert "Leads like Vp Doe" in text and "91%" in text and "42%" in text

    def refusing(session, workspace_id, to, k=10):  # noqa: ANN001, ANN202
        from leadrank.errors import InvalidInput

        raise InvalidInput("this lead has no profile text (title, company, industry…) to compare")

    monkeypatch.setattr(similarity, "similar_leads", refusing)
    text = texts(client.get(f"/leads/similar?to={vp}", headers=HTML).text)
    assert "this lead has no profile text" in text


def test_explanation_points_are_rounded_so_they_still_add_up() -> None:
    from leadrank.web.explain import apportion, breakdown

    exp = explanation(47.4, 11.3, [("a", "A", 12.45), ("b", "B", 12.45), ("c", "C", 0.4), ("d", "D", 10.8)])
    bd = breakdown(exp, 47.4, 0.474, "model")
    assert bd.shown_base + bd.total_up + bd.total_down == bd.shown_score == 47
    assert all(abs(c.shown - c.points) < 1 for c in bd.up + bd.down)
    assert sum(apportion([0.5, 0.5, 0.5, 0.5], 2)) == 2
    assert apportion([-3.6, 10.2, 4.4], 11) in ([-4, 10, 5], [-3, 10, 4])
    assert sum(s for _, s in bd.chart_steps()) + bd.shown_base == bd.shown_score


# --- model and customize ----------------------------------------------------------------------

def test_model_page_puts_the_report_in_words_and_charts(client, web_user, scored) -> None:  # noqa: ANN001
    ws = web_user.workspace_id
    old = add_model_version(ws, 1, active=False)
    add_model_version(ws, 2, active=True)
    sign_in(client, web_user)
    html = client.get("/model", headers=HTML).text
    text = texts(html)
    assert "Version 2 · Gradient boosting (LightGBM)" in text
    assert "The top 20% of leads hold 61% of conversions." in text and "3.0× what calling leads" in text
    assert "ranks the buyer higher 84% of the time" in text
    assert "honest to within 2.1 percentage points" in text
    for chart in ("chart-hbar", "chart-line", "chart-hist"):
        assert f'<svg class="chart {chart}"' in html, chart
    assert html.count('<svg class="chart chart-line"') == 2  # gains and calibration
    assert "Job title &amp; seniority" in html and "Demo request activity" in html
    assert "Logistic regression" in text and "Best single column (job_title)" in text
    assert "deal_stage" in text and "left out" in text
    assert f'action="/model/versions/{old}/activate"' in html and 'action="/model/rollback"' in html
    one = texts(client.get(f"/model?version={old}", headers=HTML).text)
    assert "Version 1 ·" in one and "Activate version 1" in one


def test_a_weak_model_is_called_weak() -> None:
    from leadrank.web.model_view import ReportView

    weak = ReportView({"roc_auc": 0.55, "brier": 0.26, "base_rate": 0.45, "capture_at_20": 0.22})
    strong = ReportView({"roc_auc": 0.84, "brier": 0.121, "base_rate": 0.18})
    assert weak.weak and not strong.weak
    words = " ".join(s.text for s in weak.sentences())
    assert "no closer to what happened than always guessing" in words
    assert "closer to what happened" in " ".join(s.text for s in strong.sentences())
    assert ReportView({}).sentences() == [] and ReportView(None).gains() == []


def test_model_page_without_a_model_explains_what_is_needed(client, web_user: WebUser) -> None:
    token = sign_in(client, web_user)
    text = texts(client.get("/model", headers=HTML).text)
    assert "No model yet" in text and "at least 200 leads with a known outcome, 40 of them converted and 40 lost" in text
    r = client.post("/model/retrain", data={"csrf_token": token}, headers=HTML, follow_redirects=True)
    assert r.status_code == 200 and "training needs at least" in texts(r.text).lower()


def test_rollback_and_activation_start_a_rescoring_job(client, web_user: WebUser) -> None:
    ws = web_user.workspace_id
    first = add_model_version(ws, 1, active=True)
    second = add_model_version(ws, 2, active=True)
    from leadrank.db import session_scope
    from leadrank.models import ModelVersion

    with session_scope() as session:
        session.get(ModelVersion, first).status = "archived"
    token = sign_in(client, web_user)
    r = client.post("/model/rollback", data={"csrf_token": token}, headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/model?job=")
    page = client.get(r.headers["location"], headers=HTML)
    assert "Rolled back to version 1" in texts(page.text) and "Rescoring leads" in texts(page.text)
    r = client.post(f"/model/versions/{second}/activate", data={"csrf_token": token}, headers=HTML)
    assert "Version 2 is now active" in texts(r.text)
    wait_for_jobs()


def test_dashboard_summarises_the_workspace(client, web_user, scored) -> None:  # noqa: ANN001
    sign_in(client, web_user)
    text = texts(client.get("/", headers=HTML).text)
    assert "Call these first" in text and text.index("Vp Doe") < text.index("Cto Doe")
    assert "6 Leads" not in text and "Leads 6" in text and "1 not scored yet" in text


def test_dashboard_for_an_empty_workspace_starts_with_an_upload(client, web_user: WebUser) -> None:
    sign_in(client, web_user)
    text = texts(client.get("/", headers=HTML).text)
    assert "Get your first ranked list in three steps" in text


# --- errors -----------------------------------------------------------------------------------

def test_error_pages_are_friendly_for_browsers_and_json_for_the_api(client, web_user: WebUser) -> None:
    sign_in(client, web_user)
    r = client.get("/no/such/page", headers=HTML)
    assert r.status_code == 404 and "Page not found" in r.text and "Go to your dashboard" in r.text
    assert client.get("/no/such/page").json() == {"detail": "Not Found"}
    r = client.get(f"/leads/{uuid.uuid4()}", headers=HTML)
    assert r.status_code == 404 and "Page not found" in r.text
    r = client.get("/leads/not-a-uuid", headers=HTML)
    assert r.status_code == 422 and "Some values could not be used" in r.text
    assert client.get("/api/v1/leads/not-a-uuid").json()["error"]["code"] == "invalid_input"
    assert client.get("/api/v1/nothing", headers=HTML).json() == {"detail": "Not Found"}


def test_a_crash_shows_a_friendly_500_without_internals(env) -> None:  # noqa: ANN001
    from fastapi.testclient import TestClient

    from leadrank.app import create_app

    app = create_app(run_migrations=False, resume_jobs=False)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom", headers=HTML)
        assert r.status_code == 500 and "Something went wrong on our side" in r.text
        assert "hunter2" not in r.text
        api = c.get("/boom")
        assert api.status_code == 500 and api.json()["error"]["code"] == "internal_error"
        assert "hunter2" not in api.text


def test_static_assets_are_local_and_cacheable(client) -> None:  # noqa: ANN001
    for name in ("app.css", "app.js", "favicon.svg"):
        r = client.get(f"/static/{name}")
        assert r.status_code == 200 and r.headers.get("etag"), name
        assert not re.search(r"https?://", r.text.replace("http://www.w3.org/2000/svg", "")), name
