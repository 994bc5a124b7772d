"""Scores first, reasons second: the ``scoring.score`` job writes probability, score and grade,
then its ``scoring.explain`` follow-up writes the reasons — on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from leadrank.db import session_scope
from tests.conftest import HoldRunner

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained():  # noqa: ANN201
    from leadrank.demo.generator import generate_activities, generate_leads
    from leadrank.ml.model import train

    raw = generate_leads(1200, seed=8, with_outcomes=0.9, start=date(2026, 1, 1), end=date(2026, 9, 30))
    acts = generate_activities(raw, seed=8).rename(columns={"external_id": "lead_id"})
    leads = raw[[c for c in raw.columns if not c.startswith("_")]].copy()
    leads.insert(0, "lead_id", leads["external_id"].astype(str))
    return train(leads, acts[["lead_id", "activity_type", "activity_date"]])


def _setup(workspace_id: uuid.UUID, model) -> list[uuid.UUID]:  # noqa: ANN001
    import pandas as pd

    from leadrank.bulk import bulk_insert
    from leadrank.demo.generator import generate_activities, generate_leads
    from leadrank.models import Activity, Lead, ModelVersion, Workspace

    with session_scope() as session:
        version = ModelVersion(workspace_id=workspace_id, version=1, status="active", algorithm=model.algorithm,
                               params={}, report=model.report, features=model.feature_importance(),
                               artefact=model.to_artefact(), data_summary={})
        session.add(version)
        session.flush()
        session.get(Workspace, workspace_id).active_model_version_id = version.id
    frame = generate_leads(300, seed=9, with_outcomes=0.0, start=date(2026, 6, 1), end=date(2026, 10, 1))
    ids = [uuid.uuid4() for _ in range(len(frame))]
    now = datetime(2026, 10, 2, tzinfo=UTC)
    rows = [{"id": i, "workspace_id": workspace_id, "dedupe_key": f"k{n}", "content_hash": "h", "custom": {},
             "consent": {}, "sort_score": -1.0, "outcome": "open", "updated_at": now,
             "created_at": pd.Timestamp(r["created_at"]).to_pydatetime(), "email": r["email"],
             "job_title": r["job_title"], "industry": r["industry"], "company_size": int(r["company_size"]),
             "lead_source": r["lead_source"], "company_name": r["company_name"]}
            for n, (i, r) in enumerate(zip(ids, frame.to_dict("records"), strict=True))]
    acts = generate_activities(frame, seed=9)
    by_ext = dict(zip(frame["external_id"], ids, strict=True))
    act_rows = [{"id": uuid.uuid4(), "workspace_id": workspace_id, "lead_id": by_ext[e], "activity_type": t,
                 "activity_date": pd.Timestamp(d).to_pydatetime(), "dedupe_key": uuid.uuid4().hex, "created_at": now}
                for e, t, d in zip(acts["external_id"], acts["activity_type"], acts["activity_date"], strict=True)]
    with session_scope() as session:
        bulk_insert(session, Lead.__table__, rows)
        bulk_insert(session, Activity.__table__, act_rows)
    return ids


def _leads(workspace_id: uuid.UUID) -> dict[uuid.UUID, tuple]:
    from leadrank.models import Lead

    with session_scope() as session:
        return {r.id: (r.score, r.grade, r.explanation, r.scored_at) for r in session.scalars(
            select(Lead).options(selectinload(Lead.explained)).where(Lead.workspace_id == workspace_id))}


def test_scores_then_reasons_and_a_newer_scoring_wins(env, tenant, trained):  # noqa: ANN001
    from leadrank.jobs.runner import set_runner
    from leadrank.jobs.service import create_job, run_job
    from leadrank.models import Job
    from leadrank.scoring.stored import expand

    ids = _setup(tenant.workspace_id, trained)
    set_runner(HoldRunner())
    with session_scope() as session:
        first = create_job(session, tenant.workspace_id, "scoring.score",
                           {"as_of": "2026-10-02T00:00:00+00:00", "chunk_rows": 120}).id
    assert run_job(first) == "done"
    with session_scope() as session:
        result = session.get(Job, first).result
    assert result["scored"] == 300 and result["chunks_total"] == 3
    after_scores = _leads(tenant.workspace_id)
    assert all(s is not None and g in ("A", "B", "C", "D") and e is None for s, g, e, _ in after_scores.values())

    # A newer scoring of some leads lands before the first job's reasons are written.
    newer = sorted(ids)[:50]
    with session_scope() as session:
        second = create_job(session, tenant.workspace_id, "scoring.score",
                            {"as_of": "2026-10-05T00:00:00+00:00", "lead_ids": [str(i) for i in newer]}).id
    assert run_job(second) == "done"
    with session_scope() as session:
        second_explain = uuid.UUID(session.get(Job, second).result["explain_job_id"])
    assert run_job(uuid.UUID(result["explain_job_id"])) == "done"
    with session_scope() as session:
        assert session.get(Job, uuid.UUID(result["explain_job_id"])).result["explained"] == 250
    mid = _leads(tenant.workspace_id)
    assert all(mid[i][2] is None for i in newer), "the older pass must not explain a newer score"
    assert run_job(second_explain) == "done"

    final = _leads(tenant.workspace_id)
    for lead_id, (score, grade, stored, scored_at) in final.items():
        exp = expand(stored)
        assert exp["score_kind"] == "model" and exp["grade"] == grade
        total = exp["base_points"] + sum(c["points"] for c in exp["contributions"])
        assert total == pytest.approx(score, abs=1e-3)
        assert exp["score"] == pytest.approx(score, abs=1e-4)
        assert all(c["text"].startswith(c["label"]) for c in exp["contributions"])
        assert exp["model"]["log_odds"] and exp["reasons_up"] + exp["reasons_down"]
        assert scored_at.date() == (date(2026, 10, 5) if lead_id in newer else date(2026, 10, 2))


def test_an_upload_stores_new_leads_scored_and_the_job_adds_their_reasons(env, tenant, trained, tmp_path):  # noqa: ANN001
    from leadrank.demo.generator import generate_leads
    from leadrank.ingest.service import start_upload
    from leadrank.jobs.runner import set_runner
    from leadrank.jobs.service import create_job, run_job
    from leadrank.models import Job, ScoreHistory
    from leadrank.scoring.stored import expand

    _setup(tenant.workspace_id, trained)  # the active model (and 300 leads scored the usual way)
    frame = generate_leads(400, seed=12, with_outcomes=0.0, start=date(2026, 7, 1), end=date(2026, 9, 1))
    path = tmp_path / "new.csv"
    frame.drop(columns=[c for c in frame.columns if c.startswith("_")]).to_csv(path, index=False)
    set_runner(HoldRunner())
    with session_scope() as session:
        upload = start_upload(session, tenant.workspace_id, path, filename="new.csv")
        upload_id, uploaded_at = upload.id, upload.created_at
    assert run_job(upload_id) == "done"

    from leadrank.models import Lead

    with session_scope() as session:
        rows = session.scalars(select(Lead).options(selectinload(Lead.explained)).where(
            Lead.upload_job_id == upload_id)).all()
        history = session.scalar(select(func.count()).select_from(ScoreHistory).where(
            ScoreHistory.lead_id.in_([r.id for r in rows])))
        score_job = session.scalars(select(Job).where(Job.workspace_id == tenant.workspace_id,
                                                      Job.kind == "scoring.score", Job.status == "queued")).one()
    assert len(rows) == 400 and history == 400
    assert all(r.score is not None and r.grade and r.explanation is None and r.scored_at == uploaded_at for r in rows)
    inline = {r.id: r.score for r in rows}

    assert run_job(score_job.id) == "done"
    with session_scope() as session:
        result = session.get(Job, score_job.id).result
    assert result["scored"] == 400
    # The upload's embeddings wait for its reasons: the reasons pass creates their job as it ends.
    assert "embed_job_id" not in result
    with session_scope() as session:
        assert not session.scalars(select(Job).where(Job.workspace_id == tenant.workspace_id,
                                                     Job.kind == "similarity.embed")).all()
    assert run_job(uuid.UUID(result["explain_job_id"])) == "done"
    with session_scope() as session:
        explained = session.get(Job, uuid.UUID(result["explain_job_id"])).result
        embed = session.get(Job, uuid.UUID(explained["embed_job_id"]))
        assert embed.kind == "similarity.embed" and embed.status == "queued"
        assert embed.params["upload_job_id"] == str(upload_id)
    after = _leads(tenant.workspace_id)
    for lead_id, score in inline.items():
        stored_score, grade, stored, _ = after[lead_id]
        exp = expand(stored)
        assert stored_score == score, "the job gave the reasons, not a second score"
        assert exp["base_points"] + sum(c["points"] for c in exp["contributions"]) == pytest.approx(score, abs=1e-3)

    # The same leads scored the usual way, at the same time, get the same scores.
    with session_scope() as session:
        again = create_job(session, tenant.workspace_id, "scoring.score", {
            "lead_ids": [str(i) for i in inline], "as_of": uploaded_at.isoformat()}).id
    assert run_job(again) == "done"
    rescored = _leads(tenant.workspace_id)
    assert all(rescored[i][0] == pytest.approx(s, abs=1e-4) for i, s in inline.items())


def test_an_upload_that_adds_and_updates_leads_gets_every_reason_once(env, tenant, trained, tmp_path,  # noqa: ANN001
                                                                     monkeypatch):
    """New leads stored scored are planned as id ranges (several here), updated ones by id; each
    lead ends with the reasons of its own current score, and the plan's counts add up."""
    from leadrank.demo.generator import generate_leads
    from leadrank.ingest.service import start_upload
    from leadrank.jobs.repository import JobRepository
    from leadrank.jobs.runner import set_runner
    from leadrank.jobs.service import run_job
    from leadrank.models import Job, Lead, LeadExplanation
    from leadrank.scoring import tasks

    monkeypatch.setattr(tasks, "SCORE_CHUNK", 150)
    _setup(tenant.workspace_id, trained)
    set_runner(HoldRunner())
    frame = generate_leads(650, seed=13, with_outcomes=0.0, start=date(2026, 7, 1), end=date(2026, 9, 1))
    frame = frame.drop(columns=[c for c in frame.columns if c.startswith("_")])
    first, second = frame.iloc[:400].copy(), frame.iloc[300:].copy()
    second.loc[second.index[:100], "job_title"] = "Head of Changed Things"  # 100 of the first file, changed

    def upload_and_finish(part, name: str) -> tuple[uuid.UUID, dict]:  # noqa: ANN001
        path = tmp_path / name
        part.to_csv(path, index=False)
        with session_scope() as session:
            upload_id = start_upload(session, tenant.workspace_id, path, filename=name).id
        assert run_job(upload_id) == "done"
        with session_scope() as session:
            score_job = session.scalars(select(Job).where(Job.kind == "scoring.score", Job.status == "queued")).one()
        assert run_job(score_job.id) == "done"
        with session_scope() as session:
            chunks = [c.params for c in JobRepository(session).chunks(score_job.id)]
            result = session.get(Job, score_job.id).result
        assert run_job(uuid.UUID(result["explain_job_id"])) == "done"
        return upload_id, {"result": result, "chunks": chunks}

    upload_and_finish(first, "first.csv")
    second_id, second_run = upload_and_finish(second, "second.csv")
    assert second_run["result"]["scored"] == 350  # 250 new (reasons only) + 100 updated (scored)
    ranges = [c for c in second_run["chunks"] if c.get("scored")]
    assert [c["expected"] for c in ranges] == [150, 100] and all("lead_ids" not in c for c in ranges)
    assert [len(c["lead_ids"]) for c in second_run["chunks"] if not c.get("scored")] == [100]
    with session_scope() as session:
        rows = session.execute(select(Lead.id, Lead.upload_job_id, Lead.scored_at, LeadExplanation.scored_at)
                               .outerjoin(LeadExplanation, LeadExplanation.lead_id == Lead.id)
                               .where(Lead.workspace_id == tenant.workspace_id)).all()
        with_reasons = session.scalar(select(func.count()).select_from(LeadExplanation))
    uploaded = [r for r in rows if r.upload_job_id is not None]  # (_setup's 300 were never scored)
    assert len(uploaded) == with_reasons == 650  # one explanation row per uploaded lead
    assert all(r[2] is not None and r[2] == r[3] for r in uploaded), "each holds the reasons of its current score"
    assert sum(r.upload_job_id == second_id for r in rows) == 350
