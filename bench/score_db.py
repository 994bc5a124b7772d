"""Scoring *stored* leads: N generated leads and their activities in the database, scored by the
real ``scoring.score`` job (in process, one core), beside the floor.

    python bench/score_db.py                      # 1,000,000 leads on PostgreSQL
    python bench/score_db.py --n 200000 --db sqlite
    python bench/score_db.py --n 100000 --profile # where the job's time goes

A model is trained first (untimed) on ``--train-n`` generated leads with outcomes and
activities and stored as the workspace's active version. The N open leads (and ~8 activities
each, ``--no-activities`` to leave them out) are written with the bulk path (``COPY`` on
PostgreSQL), untimed. Then one scoring job runs and the benchmark prints:

* **scores**: seconds until every lead has its probability, score and grade written (and
  its score-history row), leads/s;
* **reasons**: seconds until every lead's explanation (points per column, top-5 reasons up
  and down, next step) is written too — the scoring job's second pass;
* **floor**: LightGBM/LR ``predict`` alone on the same leads' feature matrix (built untimed),
  the same model, one core;
* peak memory (max RSS) of this process.

PostgreSQL runs in a scratch database that is created and dropped (``--pg``).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
from _scratch import scratch_db  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BATCH = 100_000


class Hold:  # jobs are run by hand here
    def submit(self, job_id: uuid.UUID) -> None:
        pass

    def shutdown(self) -> None:
        pass


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def store_model(workspace_id: uuid.UUID, train_n: int) -> None:
    from leadrank.db import session_scope
    from leadrank.demo.generator import generate_activities, generate_leads
    from leadrank.ml.model import train
    from leadrank.models import ModelVersion, Workspace
    from leadrank.models.base import utcnow

    raw = generate_leads(train_n, seed=21, with_outcomes=0.8)
    acts = generate_activities(raw, seed=21).rename(columns={"external_id": "lead_id"})
    leads = raw[[c for c in raw.columns if not c.startswith("_")]].copy()
    leads.insert(0, "lead_id", leads["external_id"].astype(str))
    model = train(leads, acts[["lead_id", "activity_type", "activity_date"]])
    with session_scope() as session:
        version = ModelVersion(workspace_id=workspace_id, version=1, status="active", algorithm=model.algorithm,
                               params={}, report=model.report, features=model.feature_importance(),
                               artefact=model.to_artefact(), data_summary={}, activated_at=utcnow())
        session.add(version)
        session.flush()
        session.get(Workspace, workspace_id).active_model_version_id = version.id
    return model


def store_leads(workspace_id: uuid.UUID, n: int, with_activities: bool) -> int:
    """Generated open leads (and their activities) written with the bulk path."""
    import pandas as pd

    from leadrank.bulk import bulk_insert
    from leadrank.db import session_scope
    from leadrank.demo.generator import generate_activities, generate_leads
    from leadrank.models import Activity, Lead
    from leadrank.models.base import utcnow

    now = utcnow()
    n_acts = 0
    for start in range(0, n, BATCH):
        size = min(BATCH, n - start)
        frame = generate_leads(size, seed=500 + start // BATCH, with_outcomes=0.0)
        ids = [uuid.uuid4() for _ in range(size)]
        visible = frame[[c for c in frame.columns if not c.startswith("_")]]
        records = visible.astype(object).where(visible.notna(), None).to_dict("records")
        rows = []
        for lead_id, rec in zip(ids, records, strict=True):
            rows.append({
                "id": lead_id, "workspace_id": workspace_id, "dedupe_key": f"ext:{start}:{rec['external_id']}",
                "content_hash": "x", "external_id": f"{start}:{rec['external_id']}", "first_name": rec["first_name"],
                "last_name": rec["last_name"], "email": rec["email"], "phone": rec.get("phone"),
                "company_name": rec["company_name"], "job_title": rec["job_title"], "industry": rec["industry"],
                "company_size": None if rec["company_size"] is None else int(rec["company_size"]),
                "annual_revenue": rec.get("annual_revenue"), "country": rec.get("country"),
                "location": rec.get("location"), "website": rec.get("website"), "lead_source": rec["lead_source"],
                "campaign": rec.get("campaign"), "custom": {}, "consent": {}, "outcome": "open", "sort_score": -1.0,
                "created_at": pd.Timestamp(rec["created_at"]).to_pydatetime(), "updated_at": now,
            })
        with session_scope() as session:
            bulk_insert(session, Lead.__table__, rows)
        if with_activities:
            acts = generate_activities(frame, seed=start)
            by_ext = dict(zip(frame["external_id"], ids, strict=True))
            act_rows = [{"id": uuid.uuid4(), "workspace_id": workspace_id, "lead_id": by_ext[e],
                         "activity_type": t, "activity_date": pd.Timestamp(d).to_pydatetime(),
                         "dedupe_key": uuid.uuid4().hex, "created_at": now}
                        for e, t, d in zip(acts["external_id"], acts["activity_type"], acts["activity_date"],
                                           strict=True)]
            with session_scope() as session:
                bulk_insert(session, Activity.__table__, act_rows)
            n_acts += len(act_rows)
    return n_acts


def floor(workspace_id: uuid.UUID, model, sample: int) -> float:  # noqa: ANN001
    """Leads/s of the model's predict alone on an already built feature matrix (CPU time)."""
    from leadrank.db import session_scope
    from leadrank.scoring.repository import ScoringRepository

    with session_scope() as session:
        repo = ScoringRepository(session)
        ids = repo.lead_ids(workspace_id, limit=sample)
        leads = repo.load_leads(workspace_id, lead_ids=ids)
        acts = repo.load_activities(workspace_id, lead_ids=ids)
    X, _ = model.featurizer_.transform_array(leads, acts)
    started = time.process_time()
    model._calibrated_margin(X)
    return len(X) / max(time.process_time() - started, 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--train-n", type=int, default=20_000)
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--pg", default=os.environ.get("LEADRANK_BENCH_PG_URL", PG_DEFAULT))
    parser.add_argument("--no-activities", action="store_true")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="leadrank-score-db-")
    os.environ.update({"LEADRANK_DATA_DIR": tmp, "LEADRANK_ENV": "test"})
    os.environ.pop("LEADRANK_QUEUE_URL", None)
    drop = None
    if args.db == "postgres":
        url, drop = scratch_db(args.pg, "leadrank_scoredb")
        os.environ["DATABASE_URL"] = url
    else:
        os.environ.pop("DATABASE_URL", None)
    try:
        from sqlalchemy import and_, func, select

        from leadrank.db import session_scope
        from leadrank.jobs.runner import set_runner
        from leadrank.jobs.service import create_job, run_job
        from leadrank.migrate import upgrade
        from leadrank.models import Job, Lead, LeadExplanation
        from leadrank.workspaces.service import create_workspace

        set_runner(Hold())
        upgrade()
        with session_scope() as session:
            ws = create_workspace(session, "score bench").id
        t = time.perf_counter()
        model = store_model(ws, args.train_n)
        print(f"model: {model.algorithm} trained on {args.train_n:,} generated leads in {time.perf_counter() - t:.0f}s")
        t = time.perf_counter()
        n_acts = store_leads(ws, args.n, not args.no_activities)
        print(f"{args.n:,} open leads and {n_acts:,} activities stored in {time.perf_counter() - t:.0f}s ({args.db}); "
              f"load average {os.getloadavg()[0]:.1f}")
        if args.db == "postgres":
            from sqlalchemy import text

            with session_scope() as session:
                session.execute(text("ANALYZE"))

        with session_scope() as session:
            job_id = create_job(session, ws, "scoring.score", {}).id
            session.info.pop("leadrank_jobs_to_enqueue", None)
        profiler = cProfile.Profile() if args.profile else None
        cpu, started = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        status = run_job(job_id)
        scores_s = time.perf_counter() - started
        follow_up = None
        with session_scope() as session:
            job = session.get(Job, job_id)
            follow_up = (job.result or {}).get("explain_job_id")
        if follow_up:
            status = run_job(uuid.UUID(follow_up))
        if profiler:
            profiler.disable()
        total_s = time.perf_counter() - started
        cpu = time.process_time() - cpu
        with session_scope() as session:
            scored = session.scalar(select(func.count()).select_from(Lead).where(
                Lead.workspace_id == ws, Lead.score.is_not(None)))
            explained = session.scalar(select(func.count()).select_from(Lead).join(LeadExplanation, and_(
                LeadExplanation.lead_id == Lead.id, LeadExplanation.scored_at == Lead.scored_at)).where(
                Lead.workspace_id == ws))
        floor_rate = floor(ws, model, min(args.n, 100_000))
        print(f"job {status}: {scored:,} leads scored, {explained:,} with reasons")
        print(f"{'':<24} {'seconds':>8} {'leads/s':>9}")
        print(f"{'scores written':<24} {scores_s:>8.1f} {args.n / scores_s:>9,.0f}")
        print(f"{'scores + reasons':<24} {total_s:>8.1f} {args.n / total_s:>9,.0f}   (CPU of this process {cpu:.0f}s; "
              "the database's own work is on top)")
        print(f"{'floor: predict alone':<24} {args.n / floor_rate:>8.1f} {floor_rate:>9,.0f}   (CPU, "
              "feature matrix already built)")
        print(f"scores / floor: {scores_s / (args.n / floor_rate):.1f}x; peak RSS {peak_mib():.0f} MiB")
        if profiler:
            stats = pstats.Stats(profiler)
            stats.sort_stats("cumulative").print_stats(30)
            stats.sort_stats("tottime").print_stats(20)
    finally:
        from leadrank.db import reset_caches

        reset_caches()
        if drop:
            drop()


if __name__ == "__main__":
    main()
