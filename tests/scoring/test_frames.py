"""The scoring engine's frames read with PostgreSQL's COPY equal the ones read row by row."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pandas as pd
import pytest


def _store(workspace_id: uuid.UUID) -> list[uuid.UUID]:
    from leadrank.bulk import bulk_insert
    from leadrank.db import session_scope
    from leadrank.models import Activity, Lead

    now = datetime(2026, 3, 4, 5, 6, 7, 891234, tzinfo=UTC)
    ids = [uuid.uuid4() for _ in range(4)]
    leads = [
        {"external_id": "007", "email": "a@acme.com", "job_title": "NA", "company_size": 120, "annual_revenue": 2.5e6,
         "country": "NA", "custom": {"budget": 5000, "plan": "pro", "trial": True}, "outcome": "converted",
         "outcome_date": now, "description": 'said "yes",\nthen left'},
        {"external_id": None, "email": None, "job_title": "", "company_size": None, "annual_revenue": None,
         "custom": {}, "outcome": "open"},
        {"external_id": "x2", "first_name": "Zoë", "company_size": 3, "custom": {"plan": None}, "outcome": "lost",
         "outcome_date": now},
        {"external_id": "x3", "industry": "Software, SaaS", "custom": {"budget": 1.5}, "outcome": "open"},
    ]
    rows = [{"id": i, "workspace_id": workspace_id, "dedupe_key": f"k{n}", "content_hash": "h", "consent": {},
             "sort_score": -1.0, "created_at": now, "updated_at": now, **lead}
            for n, (i, lead) in enumerate(zip(ids, leads, strict=True))]
    acts = [{"id": uuid.uuid4(), "workspace_id": workspace_id, "lead_id": ids[k % 2], "activity_type": t,
             "activity_date": datetime(2026, 2, 1 + k, 10, tzinfo=UTC), "dedupe_key": f"a{k}", "created_at": now}
            for k, t in enumerate(["email_open", "meeting", "website_visit"])]
    with session_scope() as session:
        bulk_insert(session, Lead.__table__, rows)
        bulk_insert(session, Activity.__table__, acts)
    return ids


@pytest.mark.parametrize("env", ["postgres"], indirect=True)  # the COPY path is PostgreSQL's
def test_copy_frames_equal_row_frames(env, tenant, monkeypatch):  # noqa: ANN001
    from leadrank.db import session_scope
    from leadrank.scoring.repository import ScoringRepository

    ids = _store(tenant.workspace_id)
    with session_scope() as session:
        repo = ScoringRepository(session)
        fast = {key: (repo.load_leads(tenant.workspace_id, **kw), repo.load_activities(tenant.workspace_id, **akw))
                for key, kw, akw in (("all", {}, {}), ("some", {"lead_ids": ids[:3]}, {"lead_ids": ids[:1]}),
                                     ("labelled", {"labelled_only": True}, {}))}
        monkeypatch.setattr(ScoringRepository, "_postgres", lambda self: False)
        for key, kw, akw in (("all", {}, {}), ("some", {"lead_ids": ids[:3]}, {"lead_ids": ids[:1]}),
                             ("labelled", {"labelled_only": True}, {})):
            rows = repo.load_leads(tenant.workspace_id, **kw)
            acts = repo.load_activities(tenant.workspace_id, **akw)
            got, got_acts = fast[key]
            rows = rows.sort_values("lead_id").reset_index(drop=True)
            got = got.sort_values("lead_id").reset_index(drop=True)
            assert sorted(got.columns) == sorted(rows.columns)
            for col in rows.columns:
                a, b = got[col], rows[col]
                assert a.isna().tolist() == b.isna().tolist(), col
                assert [None if pd.isna(v) else v for v in a] == [None if pd.isna(v) else v for v in b], col
            order = ["lead_id", "activity_date"]
            pd.testing.assert_frame_equal(got_acts.sort_values(order).reset_index(drop=True),
                                          acts.sort_values(order).reset_index(drop=True), check_dtype=False)


def test_reasons_pass_loads_only_leads_still_holding_that_scoring(env, tenant):  # noqa: ANN001
    """``scored_by`` keeps the leads whose current score that version gave at that time (ids
    given as UUIDs or as text), on both databases."""
    from sqlalchemy import update

    from leadrank.db import session_scope
    from leadrank.models import Lead, ModelVersion
    from leadrank.scoring.repository import ScoringRepository

    ids = _store(tenant.workspace_id)
    when = datetime(2026, 5, 1, 12, tzinfo=UTC)
    with session_scope() as session:
        version = ModelVersion(workspace_id=tenant.workspace_id, version=1, algorithm="logistic_regression",
                               status="active")
        session.add(version)
        session.flush()
        vid = version.id
        session.execute(update(Lead).where(Lead.id.in_(ids[:3])).values(model_version_id=vid, scored_at=when))
        session.execute(update(Lead).where(Lead.id == ids[1]).values(scored_at=datetime(2026, 5, 2, tzinfo=UTC)))
    with session_scope() as session:
        repo = ScoringRepository(session)
        for given in (ids, [str(i) for i in ids]):
            frame = repo.load_leads(tenant.workspace_id, lead_ids=given, scored_by=(vid, when))
            assert frame["lead_id"].tolist() == sorted(str(i) for i in (ids[0], ids[2]))
            acts = repo.load_activities(tenant.workspace_id, lead_ids=frame["lead_id"].tolist())
            assert set(acts["lead_id"]) == {str(ids[0])}  # ids[1] holds a later scoring


def test_json_text_columns_are_stored_as_they_are(env, tenant):  # noqa: ANN001
    """A ``JSONTexts`` column is written without re-encoding, by COPY, by the row-by-row COPY
    fallback (a value psycopg adapts itself) and by SQLite's executemany."""
    import orjson
    from sqlalchemy import select

    from leadrank.bulk import bulk_insert_columns
    from leadrank.db import JSONTexts, session_scope
    from leadrank.models import LeadExplanation

    ids = _store(tenant.workspace_id)
    docs = [{"score": 71.5, "reasons_up": ['Said "yes"\tand\\left'], "label": "Zoë"}, {"a": None}]
    texts = JSONTexts(orjson.dumps(d).decode() for d in docs)
    when = datetime(2026, 5, 1, tzinfo=UTC)
    with session_scope() as session:
        bulk_insert_columns(session, LeadExplanation.__table__,
                            {"lead_id": ids[:2], "explanation": texts, "insights": JSONTexts(["[]", "[1]"])},
                            {"scored_at": when})
        # a pandas Timestamp (a datetime subclass) sends COPY down its row-by-row path
        bulk_insert_columns(session, LeadExplanation.__table__,
                            {"lead_id": ids[2:3], "explanation": JSONTexts([texts[0]]), "scored_at": [pd.Timestamp(when)]})
    with session_scope() as session:
        got = dict(session.execute(select(LeadExplanation.lead_id, LeadExplanation.explanation)).all())
    assert got[ids[0]] == docs[0] and got[ids[1]] == docs[1] and got[ids[2]] == docs[0]
