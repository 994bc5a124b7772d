"""Customizable scoring at 100,000 leads: what-if latency and rescoring time after a save.

    .venv/bin/python bench/customize.py [--leads 100000] [--database-url postgresql://…]

Builds a workspace in a scratch data directory through the real pipeline (upload of generated
leads and activities, training, scoring), then prints:

* what-if latency: the first call (cache built from the database), a call after a restart
  (cache read from the data directory), and warm calls with different configurations;
* rescoring after a save (the ``customize.rescore`` job: stored contributions, no model run),
  beside a full model rescoring (``scoring.score``) of the same leads.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--leads", type=int, default=100_000)
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args()
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="leadrank-bench-customize-"))
    os.environ["LEADRANK_DATA_DIR"] = str(data_dir)
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    else:
        os.environ.pop("DATABASE_URL", None)

    from rich.console import Console

    from leadrank.config import get_settings
    from leadrank.db import session_scope
    from leadrank.demo.setup import _load_data
    from leadrank.jobs.runner import set_runner
    from leadrank.migrate import upgrade
    from leadrank.scoring import service as scoring
    from leadrank.workspaces.service import create_workspace

    class Parked:
        """Jobs the pipeline queues on its own (cold-start scoring, embeddings) stay queued:
        this benchmark runs exactly the jobs it measures, synchronously."""

        def submit(self, job_id) -> None:  # noqa: ANN001
            pass

        def shutdown(self) -> None:
            pass

    set_runner(Parked())
    print(f"data dir {data_dir}; database {get_settings().sqlalchemy_url.split('@')[-1]}", flush=True)
    upgrade()
    from sqlalchemy import func, select

    from leadrank.models import Lead, Workspace

    with session_scope() as session:  # --data-dir of an earlier run: reuse its leads
        found = session.execute(select(Workspace.id, func.count(Lead.id)).join(Lead, Lead.workspace_id == Workspace.id)
                                .where(Workspace.name.like("bench-%")).group_by(Workspace.id)).first()
    if found and found[1] >= args.leads:
        ws = found[0]
        print(f"reusing {found[1]:,} leads", flush=True)
    else:
        with session_scope() as session:
            ws = create_workspace(session, f"bench-{int(time.time())}").id
        t = time.perf_counter()
        _load_data(ws, args.leads, 11, Console(quiet=True))
        print(f"loaded {args.leads:,} leads + activities in {time.perf_counter() - t:.0f} s", flush=True)
    with session_scope() as session:
        trained = scoring.active_version(session, ws)
    if trained is not None and found:
        print(f"reusing model v{trained.version} and its scores", flush=True)
        model_rescore = float("nan")
    else:
        model_rescore = train_and_score(ws)
    bench_customize(ws, model_rescore)


def train_and_score(ws) -> float:  # noqa: ANN001
    from leadrank.db import session_scope
    from leadrank.jobs.service import run_job
    from leadrank.scoring import service as scoring

    t = time.perf_counter()
    with session_scope() as session:
        version, _ = scoring.train_version(session, ws)
        job = scoring.request_rescore(session, ws)
        session.info.pop("leadrank_jobs_to_enqueue", None)
        job_id = job.id
    print(f"trained v{version.version} ({version.algorithm}) in {time.perf_counter() - t:.0f} s", flush=True)
    t = time.perf_counter()
    run_job(job_id)
    model_rescore = time.perf_counter() - t
    print(f"model rescoring (scoring.score, features + model + explanations): {model_rescore:.1f} s", flush=True)
    return model_rescore


def bench_customize(ws, model_rescore: float) -> None:  # noqa: ANN001
    from leadrank.customize import engine as E
    from leadrank.customize import service
    from leadrank.db import session_scope
    from leadrank.jobs.service import run_job

    with session_scope() as session:
        points = [p["name"] for p in service.data_points(session, ws)]
    configs = [
        E.ScoringConfig(weights={points[0]: 0.0}),
        E.ScoringConfig(category_weights={"engagement": 1.8}, weights={"industry": 2.0}),
        E.ScoringConfig(rules=[E.Rule(id="sw", name="Target software", log_odds=0.9,
                                      conditions=[E.Condition(type="industry_in", values=["Software"])]),
                               E.Rule(id="st", name="No students", kind="exclude",
                                      conditions=[E.Condition(type="is_student")])]),
        E.ScoringConfig(decay=E.Decay(points={"demo_request": 0.5, "website_visit": 0.05},
                                      half_life_days={"demo_request": 10}),
                        bands=E.Bands(mode="relative")),
        E.ScoringConfig(rules=[E.Rule(id="big", name="Mid-market", log_odds=0.5, conditions=[
            E.Condition(type="size_between", min=50, max=1000),
            E.Condition(type="title_contains", values=["vp", "head", "director"])])]),
    ]

    def what_if(cfg: E.ScoringConfig) -> tuple[float, dict]:
        t0 = time.perf_counter()
        with session_scope() as session:
            fig = service.what_if(session, ws, cfg)
        return time.perf_counter() - t0, fig

    cold, fig = what_if(configs[0])
    service._memory.clear()  # a restarted server: the cache comes from the data directory
    restart, _ = what_if(configs[1])
    warm = []
    for _ in range(3):
        for cfg in configs:
            s, fig = what_if(cfg)
            warm.append(s)
    n = fig["workspace"]["n_leads"]
    print(f"\nwhat-if over {n:,} scored leads, holdout {fig['holdout']['n']:,} leads:")
    print(f"  first call (cache built from the database): {cold:.2f} s")
    print(f"  after a restart (cache read from disk):      {restart:.2f} s")
    print(f"  warm, {len(warm)} calls, 5 configurations:       median {statistics.median(warm) * 1000:.0f} ms, "
          f"max {max(warm) * 1000:.0f} ms")

    with session_scope() as session:
        row, job = service.save_config(session, ws, configs[2])
        session.info.pop("leadrank_jobs_to_enqueue", None)
        job_id = job.id
    t = time.perf_counter()
    run_job(job_id)
    rescore = time.perf_counter() - t
    print(f"\nrescoring after a save (customize.rescore, stored contributions): {rescore:.1f} s "
          f"= {n / rescore:,.0f} leads/s  (model rescoring: {model_rescore:.1f} s)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
