"""The prioritized list (GET /api/v1/leads/prioritized): search, filters and pages, on
SQLite and PostgreSQL. Its statements are built once per shape and run again with each
request's values, so every test here asks the same shape with different values too."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import event, text

from leadrank.leads import service
from tests.web.factories import add_lead

LIST = "/api/v1/leads/prioritized"


def emails(client, tenant, query: str = "") -> list[str]:  # noqa: ANN001
    r = client.get(f"{LIST}?limit=500{'&' + query if query else ''}", headers=tenant.headers)
    assert r.status_code == 200, r.text
    return [lead["lead_data"]["email"] for lead in r.json()["leads"]]


def test_search_finds_a_term_in_name_email_or_company_and_takes_wildcards_literally(client, tenant):
    ws = tenant.workspace_id
    add_lead(ws, "ana@garcia.example", score=80.0, grade="A", first_name="Ana", last_name="Lopez",
             company_name="Acme")
    add_lead(ws, "bo@b.example", score=70.0, grade="A", first_name="Bo", last_name="Garcia", company_name="Beta")
    add_lead(ws, "cy@c.example", score=60.0, grade="B", first_name="Cy", last_name="Stone",
             company_name="Garcia Holdings")
    add_lead(ws, "pct@d.example", score=50.0, grade="B", company_name="100% Sure")
    add_lead(ws, "snake@e.example", score=40.0, grade="C", company_name="snake_case Ltd")
    add_lead(ws, "slash@f.example", score=30.0, grade="C", company_name="a/b partners")
    add_lead(ws, "quote@g.example", score=20.0, grade="D", first_name="Sean", last_name="O'Brien")
    add_lead(ws, "back@h.example", score=10.0, grade="D", company_name="back\\slash Co")

    assert emails(client, tenant, "q=GARCIA") == ["ana@garcia.example", "bo@b.example", "cy@c.example"]
    assert emails(client, tenant, "q=bo garcia") == ["bo@b.example"]  # first and last name together
    # Words from two different fields are not one match (name "Ana Lopez", company "Acme").
    assert emails(client, tenant, "q=lopez acme") == []
    # Nor across the end of one field and the start of the next (last name, then email; email,
    # then company): PostgreSQL searches a text joining them, and checks such terms field by field.
    assert emails(client, tenant, "q=lopez ana") == []
    assert emails(client, tenant, "q=example acme") == []
    assert emails(client, tenant, "q=%25") == ["pct@d.example"]
    assert emails(client, tenant, "q=_") == ["snake@e.example"]
    assert emails(client, tenant, "q=/") == ["slash@f.example"]
    assert emails(client, tenant, "q=o'b") == ["quote@g.example"]
    assert emails(client, tenant, "q=%5C") == ["back@h.example"]
    assert emails(client, tenant, "q=zzqx") == []
    assert len(emails(client, tenant, "q=e")) == 8  # a term shorter than a trigram still searches


def test_each_request_gets_its_own_values_in_a_shape_already_asked(client, tenant):
    ws = tenant.workspace_id
    for i in range(12):
        add_lead(ws, f"p{i}@x.example", score=float(90 - 5 * i), grade="ABCD"[i % 4],
                 industry="Software" if i % 2 else "Retail", company_size=10 * (i + 1),
                 job_title="VP Sales" if i % 3 == 0 else "Analyst", lead_source="Webinar" if i < 6 else "Referral")
    assert emails(client, tenant, "industry=Software") == [f"p{i}@x.example" for i in (1, 3, 5, 7, 9, 11)]
    assert emails(client, tenant, "industry=Retail") == [f"p{i}@x.example" for i in (0, 2, 4, 6, 8, 10)]
    assert emails(client, tenant, "industry=Retail&industry=Software") == [f"p{i}@x.example" for i in range(12)]
    assert emails(client, tenant, "company_size_min=30&company_size_max=50") == ["p2@x.example", "p3@x.example",
                                                                             "p4@x.example"]
    assert emails(client, tenant, "company_size_min=100&company_size_max=120") == ["p9@x.example", "p10@x.example",
                                                                               "p11@x.example"]
    assert emails(client, tenant, "min_score=80") == ["p0@x.example", "p1@x.example", "p2@x.example"]
    assert emails(client, tenant, "min_score=40&max_score=45") == ["p9@x.example", "p10@x.example"]
    assert emails(client, tenant, "job_title=vp&lead_source=Webinar") == ["p0@x.example", "p3@x.example"]
    assert emails(client, tenant, "job_title=analyst&lead_source=Referral") == ["p7@x.example", "p8@x.example",
                                                                                "p10@x.example", "p11@x.example"]
    assert emails(client, tenant, "q=p1") == ["p1@x.example", "p10@x.example", "p11@x.example"]
    assert emails(client, tenant, "q=p2") == ["p2@x.example"]
    # Sorted by a nullable column with a cursor, twice with other values.
    for industry, expected in (("Software", [11, 9, 7, 5, 3, 1]), ("Retail", [10, 8, 6, 4, 2, 0])):
        seen, cursor = [], None
        while True:
            url = f"{LIST}?industry={industry}&sort=company_size&order=desc&limit=4" + (f"&cursor={cursor}" if cursor
                                                                                         else "")
            page = client.get(url, headers=tenant.headers).json()
            seen += [lead["lead_data"]["email"] for lead in page["leads"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == [f"p{i}@x.example" for i in expected]


def test_grade_pages_merge_overrides_and_reach_every_lead_once(client, tenant):
    ws = tenant.workspace_id
    expected = {}
    for i in range(20):
        grade = "ABCD"[i % 4]
        override = "B" if i % 7 == 0 else None  # a rep moved these to B
        add_lead(ws, f"g{i}@x.example", score=float(100 - 3 * i), grade=grade, grade_override=override)
        expected.setdefault(override or grade, []).append(f"g{i}@x.example")
    for grades in (["B"], ["C", "D"], ["A"], ["B", "C"]):
        want = sorted((e for g in grades for e in expected[g]), key=lambda e: int(e[1:e.index("@")]))
        for order in ("desc", "asc"):
            seen, cursor = [], None
            while True:
                query = "&".join(f"grade={g}" for g in grades) + f"&limit=3&order={order}"
                page = client.get(f"{LIST}?{query}" + (f"&cursor={cursor}" if cursor else ""),
                                  headers=tenant.headers).json()
                seen += [lead["lead_data"]["email"] for lead in page["leads"]]
                assert all(lead["grade"] in grades for lead in page["leads"])
                cursor = page["next_cursor"]
                if not cursor:
                    break
            assert seen == (want if order == "desc" else want[::-1]), (grades, order)


def test_scores_that_are_not_numbers_are_refused(client, tenant):
    for value in ("inf", "-inf", "nan"):
        r = client.get(f"{LIST}?min_score={value}", headers=tenant.headers)
        assert r.status_code == 422 and "min_score" in r.json()["error"]["message"]
    assert client.get(f"{LIST}?max_score=nan", headers=tenant.headers).status_code == 422
    assert client.get(f"{LIST}?min_score=50", headers=tenant.headers).status_code == 200


@pytest.mark.postgres
@pytest.mark.parametrize("env", ["postgres"], indirect=True)  # the trigram index is PostgreSQL's
def test_search_can_use_the_trigram_index(client, tenant, env):
    from leadrank.db import get_engine

    engine = get_engine()
    with engine.connect() as conn:
        conn.execute(text(
            "INSERT INTO leads (id, workspace_id, dedupe_key, content_hash, first_name, last_name, email, "
            "company_name, custom, consent, outcome, sort_score, created_at, updated_at) "
            "SELECT gen_random_uuid(), :ws, 'bulk:' || g, 'x', 'First' || g, 'Last' || g, 'user' || g || '@x.example', "
            "'Company ' || g, '{}', '{}', 'open', g % 100, now(), now() FROM generate_series(1, 5000) AS g"),
            {"ws": tenant.workspace_id})
        # As (auto)vacuum would: fold the index's pending entries in, and count the rows.
        conn.execute(text("SELECT gin_clean_pending_list('ix_leads_search_trgm')"))
        conn.execute(text("ANALYZE leads"))
        conn.commit()
        indexdef = conn.execute(text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_leads_search_trgm'")
                                ).scalar()
    assert indexdef is not None and "gin_trgm_ops" in indexdef
    rows, plan = _search_plan(engine, tenant.workspace_id, "zzqx", limit=50)
    assert rows == []
    assert "ix_leads_search_trgm" in plan, plan


def _search_plan(engine, workspace_id, term: str, *, limit: int, statement_with: str = "",  # noqa: ANN001
                 analyze: bool = False) -> tuple[list, str]:
    """A search's rows, and the plan of its last statement that contains ``statement_with``."""
    from leadrank.db import session_scope
    from leadrank.leads.filters import LeadFilters, LeadSort

    sent: list[tuple[str, object]] = []

    def record(conn, cursor, statement, params, context, executemany):  # noqa: ANN001, ARG001
        sent.append((statement, params))

    event.listen(engine, "before_cursor_execute", record)
    try:
        with session_scope() as session:
            rows, _ = service.list_views(session, workspace_id, LeadFilters(q=term), LeadSort(), limit=limit)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    statement, params = next(s for s in reversed(sent) if statement_with in s[0])
    with engine.connect() as conn:
        with conn.connection.driver_connection.cursor() as cur:
            cur.execute(("EXPLAIN (ANALYZE) " if analyze else "EXPLAIN ") + statement, params)
            return rows, "\n".join(r[0] for r in cur.fetchall())


@pytest.mark.postgres
@pytest.mark.parametrize("env", ["postgres"], indirect=True)
def test_a_common_term_is_found_from_the_score_index_alone(client, tenant, env):
    """The walk of a search reads the score index, which carries the search text (migration
    0004); the text follows every change of the fields."""
    from leadrank.db import get_engine

    engine = get_engine()
    with engine.connect() as conn:
        conn.execute(text(
            "INSERT INTO leads (id, workspace_id, dedupe_key, content_hash, first_name, last_name, email, "
            "company_name, custom, consent, outcome, sort_score, created_at, updated_at) "
            "SELECT gen_random_uuid(), :ws, 'bulk:' || g, 'x', 'First' || g, "
            "CASE WHEN g % 10 = 0 THEN 'Garcia' ELSE 'Last' || g END, 'user' || g || '@x.example', "
            "'Company ' || g, '{}', '{}', 'open', g % 100, now(), now() FROM generate_series(1, 3000) AS g"),
            {"ws": tenant.workspace_id})
        conn.commit()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE) leads"))  # as after an upload: pages all-visible
    rows, plan = _search_plan(engine, tenant.workspace_id, "garcia", limit=20, statement_with="walked", analyze=True)
    assert len(rows) == 20 and all(r["lead_data"]["last_name"] == "Garcia" for r in rows)
    assert "Index Only Scan Backward using ix_leads_ws_sort" in plan, plan
    assert "Heap Fetches: 0" in plan, plan

    with engine.begin() as conn:
        conn.execute(text("UPDATE leads SET last_name = 'Moreau', company_name = 'GARCÍA & Hijos' "
                          "WHERE workspace_id = :ws AND last_name = 'Garcia'"), {"ws": tenant.workspace_id})
        texts = set(conn.execute(text("SELECT DISTINCT substr(search_text, strpos(search_text, 'moreau')) FROM "
                                      "leads WHERE workspace_id = :ws AND last_name = 'Moreau'"),
                                 {"ws": tenant.workspace_id}).scalars())
    assert all(t.startswith("moreau user") and t.endswith(" garcía & hijos") for t in texts), texts
    assert emails(client, tenant, "q=garcia") == []
    assert len(emails(client, tenant, "q=garcía")) == 300


@pytest.mark.postgres
def test_migrations_succeed_where_pg_trgm_may_not_be_created(pg_database, tmp_path, monkeypatch):
    """A database user who may not create extensions still gets the whole schema; search
    works without the index."""
    from sqlalchemy import create_engine

    from leadrank.config import get_settings
    from leadrank.db import reset_caches, session_scope
    from leadrank.jobs.runner import InProcessRunner, set_runner
    from leadrank.leads.filters import LeadFilters, LeadSort
    from leadrank.migrate import head_revision, upgrade
    from leadrank.workspaces.service import create_workspace
    from tests.conftest import PG_ADMIN_URL

    suffix = uuid.uuid4().hex[:8]
    role, database = f"lr_noext_{suffix}", f"lr_noext_{suffix}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOCREATEDB'))
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    owner = create_engine(f"{base}/{database}", isolation_level="AUTOCOMMIT")
    with owner.connect() as conn:  # tables yes, extensions no (no CREATE on the database)
        conn.execute(text(f'GRANT CREATE, USAGE ON SCHEMA public TO "{role}"'))
    owner.dispose()
    try:
        url = base.replace("postgres@", f"{role}@", 1) + f"/{database}"
        monkeypatch.setenv("LEADRANK_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("LEADRANK_ENV", "test")
        monkeypatch.setenv("DATABASE_URL", url)
        get_settings.cache_clear()
        reset_caches()
        set_runner(InProcessRunner(workers=1))
        upgrade()
        with session_scope() as session:
            assert session.execute(text("SELECT version_num FROM alembic_version")).scalar() == head_revision()
            assert session.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).first() is None
            assert session.execute(text("SELECT 1 FROM pg_indexes WHERE indexname = 'ix_leads_search_trgm'")
                                   ).first() is None
            ws = create_workspace(session, "No extensions").id
        add_lead(ws, "ana@garcia.example", score=80.0, grade="A")
        add_lead(ws, "bo@b.example", score=70.0, grade="A")
        with session_scope() as session:
            rows, _ = service.list_views(session, ws, LeadFilters(q="garcia"), LeadSort(), limit=50)
        assert [r["lead_data"]["email"] for r in rows] == ["ana@garcia.example"]
    finally:
        set_runner(None)
        reset_caches()
        get_settings.cache_clear()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


def _search_leads(ws) -> list[dict]:  # noqa: ANN001
    """300 leads (lead i scores 300 - i) and terms of every frequency: "commonwealth" in every
    second company, "medina" every tenth last name, "x9" (too short for trigrams) every
    twenty-fifth first name, "rarebird" in three emails near the bottom."""
    leads = []
    for i in range(300):
        lead = {"email": f"lead{i}@{'rarebird' if i in (250, 262, 299) else 'mail'}.test",
                "first_name": f"Ax9{i}" if i % 25 == 3 else f"Al{i}",
                "last_name": "Medina" if i % 10 == 5 else f"Lee{i}",
                "company_name": "Commonwealth Ltd" if i % 2 == 0 else f"Firm {i}",
                "company_size": None if i % 4 == 0 else 10 + (i * 37) % 500}
        add_lead(ws, lead["email"], score=float(300 - i), grade="B", first_name=lead["first_name"],
                 last_name=lead["last_name"], company_name=lead["company_name"], company_size=lead["company_size"])
        leads.append({**lead, "i": i})
    return leads


def _all_pages(client, tenant, query: str) -> list[str]:  # noqa: ANN001
    seen, cursor = [], None
    while True:
        r = client.get(f"{LIST}?limit=7&{query}" + (f"&cursor={cursor}" if cursor else ""), headers=tenant.headers)
        assert r.status_code == 200, r.text
        page = r.json()
        seen += [lead["lead_data"]["email"] for lead in page["leads"]]
        cursor = page["next_cursor"]
        if not cursor:
            return seen


def test_search_finds_the_same_leads_however_the_database_is_read(client, tenant, env, monkeypatch):
    """On PostgreSQL a search walks the list first and reads the trigram index when the term
    proves rare (see LeadRepository._search); every way gives the same pages, in order."""
    from leadrank.db import get_engine
    from leadrank.leads import repository

    leads = _search_leads(tenant.workspace_id)
    in_order = [lead for lead in sorted(leads, key=lambda lead: lead["i"])]
    by_size = ([lead for lead in sorted((x for x in leads if x["company_size"] is not None),
                                        key=lambda x: (-x["company_size"], x["i"]))]
               + [lead for lead in in_order if lead["company_size"] is None])

    def matching(rows: list[dict], term: str) -> list[str]:
        return [r["email"] for r in rows if term in " ".join((r["email"], r["company_name"],
                                                              f"{r['first_name']} {r['last_name']}")).lower()]

    sent: list[str] = []
    event.listen(get_engine(), "before_cursor_execute", lambda *a: sent.append(a[2]))

    def first_page_read(query: str) -> list[str]:
        """How the first page was read: "walk" (the list in its order), "index" (every match)."""
        sent.clear()
        client.get(f"{LIST}?limit=7&{query}", headers=tenant.headers).raise_for_status()
        return ["index" if "AS MATERIALIZED" in s else "walk" for s in sent if "walked" in s or "matches" in s]

    ways = {"walk": {"WALK_FIRST": 10**6},  # the first walk sees the whole list
            "index": {"WALK_FIRST": 1, "WALK_MAX": 0},  # the index whenever a page is not full
            "judged": {"WALK_FIRST": 20, "WALK_MAX": 120}}  # as at scale: each term its way
    for way, settings in ways.items():
        for name, value in settings.items():  # walks of the table, and of the score index alone
            monkeypatch.setattr(repository, f"SEARCH_{name}", value)
            monkeypatch.setattr(repository, f"INDEX_ONLY_{name}", value)
        for term in ("commonwealth", "medina", "x9", "rarebird", "zzqx"):
            for query, rows in ((f"q={term}", in_order), (f"q={term}&sort=company_size&order=desc", by_size)):
                assert _all_pages(client, tenant, query) == matching(rows, term), (way, query)
        if env.kind == "postgres" and way == "index":
            assert first_page_read("q=commonwealth") == ["walk", "index"]
        if env.kind == "postgres" and way == "judged":
            # A common term fills its page in the first rows walked; one in ten ("medina": two
            # in the first 20 rows) a little further on; a rare one is read from the index;
            # "x9" has no trigram to look up, so it is walked to the end.
            assert first_page_read("q=commonwealth") == ["walk"]
            assert first_page_read("q=medina") == ["walk", "walk"]
            assert first_page_read("q=rarebird") == ["walk", "index"]
            assert first_page_read("q=x9") == ["walk", "walk"]
        monkeypatch.undo()


def test_a_term_is_looked_up_by_its_most_selective_part():
    from leadrank.leads.repository import selective_part

    # An email: its local part, and in it the word with a number.
    assert selective_part("zoe.sato287@hotmail.com") == "sato287"
    assert selective_part("john.smith@gmail.com") == "john.smith"
    assert selective_part("ceo@rarecorp.io") is None  # "ceo" would be commoner than the whole address
    assert selective_part("order 4711 acme") == "4711"
    assert selective_part("acme2024") is None  # the word is the term
    for term in ("garcia", "bo garcia", "@acme.com", "x9", "12"):
        assert selective_part(term) is None


@pytest.mark.postgres
@pytest.mark.parametrize("env", ["postgres"], indirect=True)
def test_an_email_is_found_through_the_rare_part_of_its_address(client, tenant, env, monkeypatch):
    """One lead's email among thousands at the same mail provider: the trigram index looks up
    "sato287", not the provider's trigrams every address has; the whole address is then
    checked on what it found, so a longer address that contains it matches and a near miss
    does not."""
    from leadrank.db import get_engine
    from leadrank.leads import repository

    ws = tenant.workspace_id
    add_lead(ws, "zoe.sato287@hotmail.com", score=50.0, grade="B", first_name="Zoë", last_name="Sato")
    add_lead(ws, "zoe.sato2870@hotmail.com", score=60.0, grade="B")  # contains the part, not the address
    add_lead(ws, "xzoe.sato287@hotmail.com.au", score=40.0, grade="C")  # contains the address
    engine = get_engine()
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO leads (id, workspace_id, dedupe_key, content_hash, first_name, last_name, email, "
            "company_name, custom, consent, outcome, sort_score, created_at, updated_at) "
            "SELECT gen_random_uuid(), :ws, 'bulk:' || g, 'x', 'First' || g, 'Last' || g, "
            "'user' || g || '@hotmail.com', 'Company ' || g, '{}', '{}', 'open', g % 100, now(), now() "
            "FROM generate_series(1, 3000) AS g"), {"ws": ws})
        conn.execute(text("SELECT gin_clean_pending_list('ix_leads_search_trgm')"))
        conn.execute(text("ANALYZE leads"))
    monkeypatch.setattr(repository, "INDEX_ONLY_WALK_FIRST", 1)  # straight to the index, as for a
    monkeypatch.setattr(repository, "INDEX_ONLY_WALK_MAX", 0)  # rare term in a big workspace
    assert emails(client, tenant, "q=ZOE.SATO287@hotmail.com") == ["zoe.sato287@hotmail.com",
                                                                   "xzoe.sato287@hotmail.com.au"]
    rows, plan = _search_plan(engine, ws, "zoe.sato287@hotmail.com", limit=50, statement_with="MATERIALIZED")
    assert len(rows) == 2
    index_condition = next((line for line in plan.splitlines() if "Index Cond" in line and "search_text" in line),
                           plan)
    assert "ix_leads_search_trgm" in plan, plan
    assert "sato287" in index_condition and "hotmail" not in index_condition, plan
