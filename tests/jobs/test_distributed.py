"""Crash safety of the distributed runner, against the real Redis and PostgreSQL, with real
``leadrank worker`` processes.

One workspace of 1,000 generated leads (with activities) is uploaded and a real model is
trained once for the module; each test then runs its own scoring job over it, split into
eight chunks of 125 leads, with its own fixed ``as_of`` so that its rows in
``score_history`` (``scored_at == as_of``) are told apart from the other tests' rows.
"""

from __future__ import annotations

import functools
import os
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update
from threadpoolctl import threadpool_limits

from tests.conftest import HoldRunner, require_service
from tests.jobs.cluster import REDIS_URL, Workers, redis_problem, start_redis, stop_redis, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

N_LEADS = 1000
CHUNK_ROWS = 125
N_CHUNKS = N_LEADS // CHUNK_ROWS


@dataclass
class Cluster:
    workspace_id: uuid.UUID
    workers: Workers
    lead_ids: list[uuid.UUID]


def _upload(workspace_id: uuid.UUID, path: Path, kind: str) -> None:
    from leadrank.db import session_scope
    from leadrank.ingest.service import start_upload
    from leadrank.jobs.service import run_job

    with session_scope() as session:
        job = start_upload(session, workspace_id, path, filename=path.name, kind=kind)
        session.info.pop("leadrank_jobs_to_enqueue", None)
        job_id = job.id
    assert run_job(job_id) == "done"


def _seed_trained_workspace(data_dir: Path) -> uuid.UUID:
    import leadrank.ml.model as ml_model
    from leadrank.db import session_scope
    from leadrank.demo.generator import generate_activities, generate_leads
    from leadrank.models import Job
    from leadrank.scoring.service import train_version
    from leadrank.workspaces.service import create_workspace

    with session_scope() as session:
        workspace_id = create_workspace(session, "Crash test").id
    leads = generate_leads(N_LEADS, seed=11, with_outcomes=0.8)
    activities = generate_activities(leads, seed=11)
    data_dir.mkdir(parents=True, exist_ok=True)
    leads_csv, acts_csv = data_dir / "leads.csv", data_dir / "activities.csv"
    leads.drop(columns=[c for c in leads.columns if c.startswith("_")]).to_csv(leads_csv, index=False)
    activities.rename(columns={"external_id": "lead_external_id", "email": "lead_email"}).to_csv(acts_csv, index=False)
    _upload(workspace_id, leads_csv, "leads")
    _upload(workspace_id, acts_csv, "activities")
    # The real trainer, with a short tuning budget so the module sets up quickly.
    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings():
        # The model's numerics are tested in tests/ml; here it only has to exist.
        warnings.simplefilter("ignore", RuntimeWarning)
        mp.setattr(ml_model, "train", functools.partial(ml_model.train, time_budget_s=4.0))
        with session_scope() as session:
            _, activated = train_version(session, workspace_id)
            assert activated
    with session_scope() as session:  # the uploads' follow-up jobs: not part of these tests
        session.execute(delete(Job).where(Job.status == "queued"))
    return workspace_id


@pytest.fixture(scope="module")
def cluster(pg_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    require_service("Redis", redis_problem())
    from leadrank.config import get_settings
    from leadrank.db import reset_caches, session_scope
    from leadrank.jobs.distributed import RedisRunner, reset_broker
    from leadrank.jobs.runner import set_runner
    from leadrank.migrate import upgrade
    from leadrank.models import Lead
    from tests.conftest import _truncate_all

    root = tmp_path_factory.mktemp("cluster")
    env = {
        "LEADRANK_DATA_DIR": str(root / "data"),
        "LEADRANK_ENV": "test",
        "DATABASE_URL": pg_database,
        "LEADRANK_QUEUE_URL": REDIS_URL,
        # A queue of its own: concurrent test runs never take each other's messages.
        "LEADRANK_QUEUE_NAME": f"leadrank-test-{uuid.uuid4().hex[:10]}",
        # Dead workers are noticed after 3 s; every broker call sweeps for them.
        "LEADRANK_QUEUE_HEARTBEAT_TIMEOUT_MS": "3000",
        "LEADRANK_QUEUE_MAINTENANCE_CHANCE": "1000000",
        "LEADRANK_LOG_FORMAT": "json",
    }
    mp = pytest.MonkeyPatch()
    for key, value in env.items():
        mp.setenv(key, value)
    mp.delenv("OPENAI_API_KEY", raising=False)
    get_settings.cache_clear()
    reset_caches()
    upgrade()
    _truncate_all(pg_database)
    set_runner(HoldRunner())
    workers = Workers(env={**os.environ, **env}, log_dir=root)
    try:
        workspace_id = _seed_trained_workspace(root / "seed")
        with session_scope() as session:
            lead_ids = list(session.scalars(select(Lead.id).where(Lead.workspace_id == workspace_id)))
        assert len(lead_ids) == N_LEADS
        set_runner(RedisRunner(REDIS_URL))
        workers.start(2)
        yield Cluster(workspace_id, workers, lead_ids)
    finally:
        workers.stop_all()
        set_runner(None)
        reset_broker()
        _drop_queue(env["LEADRANK_QUEUE_NAME"])
        mp.undo()
        get_settings.cache_clear()
        reset_caches()


def _drop_queue(queue: str) -> None:
    import redis

    if redis_problem() is not None:
        return
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"dramatiq:{queue}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def workers(cluster: Cluster) -> Workers:
    """Two live workers before each test (a test may have killed one)."""
    start_redis()
    cluster.workers.ensure(2)
    return cluster.workers


# --- helpers ----------------------------------------------------------------------------------

def _as_of(offset_minutes: int) -> str:
    base = datetime(2030, 1, 1, tzinfo=UTC) + timedelta(minutes=offset_minutes)
    return base.isoformat()


def _create_scoring_job(cluster: Cluster, as_of: str, *, enqueue: bool = True, **test_hooks: object) -> uuid.UUID:
    from leadrank.db import session_scope
    from leadrank.jobs.service import create_job

    params: dict = {"as_of": as_of, "chunk_rows": CHUNK_ROWS}
    if test_hooks:
        params["_test"] = test_hooks
    with session_scope() as session:
        job = create_job(session, cluster.workspace_id, "scoring.score", params)
        if not enqueue:
            session.info.pop("leadrank_jobs_to_enqueue", None)
        return job.id


def _job(job_id: uuid.UUID):  # noqa: ANN202
    from leadrank.db import session_scope
    from leadrank.models import Job

    with session_scope() as session:
        return session.get(Job, job_id)


def _wait_finished(cluster: Cluster, job_id: uuid.UUID, timeout: float = 120):  # noqa: ANN202
    """The job, once it ended; for a scoring job, once its reasons pass ended too."""
    wait_for(lambda: _job(job_id).status in ("done", "failed"), timeout=timeout, interval=0.25,
             what=f"job {job_id} to finish", on_timeout=cluster.workers.tails)
    job = _job(job_id)
    explain_id = (job.result or {}).get("explain_job_id")
    if explain_id:
        wait_for(lambda: _job(uuid.UUID(explain_id)).status in ("done", "failed"), timeout=timeout, interval=0.25,
                 what=f"the reasons pass {explain_id} to finish", on_timeout=cluster.workers.tails)
        assert _job(uuid.UUID(explain_id)).status == "done", _job(uuid.UUID(explain_id)).error
    return job


def _chunks(job_id: uuid.UUID) -> list:
    from leadrank.db import session_scope
    from leadrank.jobs.repository import JobRepository

    with session_scope() as session:
        return list(JobRepository(session).chunks(job_id))


def _history_counts(as_of: str) -> dict[uuid.UUID, int]:
    """Rows of score_history written by the job scored as of ``as_of``, per lead."""
    from leadrank.db import session_scope
    from leadrank.models import ScoreHistory

    with session_scope() as session:
        rows = session.execute(
            select(ScoreHistory.lead_id, func.count()).where(ScoreHistory.scored_at == datetime.fromisoformat(as_of))
            .group_by(ScoreHistory.lead_id)).all()
    return {lead_id: n for lead_id, n in rows}


def _scores(workspace_id: uuid.UUID) -> dict[uuid.UUID, tuple]:
    from leadrank.db import session_scope
    from leadrank.models import Lead

    from sqlalchemy.orm import selectinload

    with session_scope() as session:
        leads = session.scalars(select(Lead).options(selectinload(Lead.explained))
                                .where(Lead.workspace_id == workspace_id)).all()
        return {x.id: (x.score, x.conversion_probability, x.grade, x.explanation, x.scored_at, x.model_version_id)
                for x in leads}


def _clear_scores(workspace_id: uuid.UUID) -> None:
    from leadrank.db import session_scope
    from leadrank.models import Lead

    from leadrank.models import LeadExplanation

    with session_scope() as session:
        session.execute(delete(LeadExplanation).where(LeadExplanation.lead_id.in_(
            select(Lead.id).where(Lead.workspace_id == workspace_id))))
        session.execute(update(Lead).where(Lead.workspace_id == workspace_id).values(
            score=None, sort_score=-1.0, conversion_probability=None, grade=None,
            scored_at=None, model_version_id=None, score_kind=None))


def _first_difference(a: tuple, b: tuple, n: int) -> str:
    names = ("score", "probability", "grade", "explanation", "scored_at", "model_version_id")
    for name, x, y in zip(names, a, b, strict=True):
        if x != y:
            if isinstance(x, dict) and isinstance(y, dict):
                keys = [k for k in set(x) | set(y) if x.get(k) != y.get(k)]
                return f"{n} leads differ; first in {name}: " + "; ".join(
                    f"{k}: {x.get(k)!r} != {y.get(k)!r}" for k in keys)
            return f"{n} leads differ; first in {name}: {x!r} != {y!r}"
    return f"{n} leads differ"


def _assert_scored_exactly_once(cluster: Cluster, as_of: str) -> None:
    counts = _history_counts(as_of)
    assert set(counts) == set(cluster.lead_ids), f"{len(set(cluster.lead_ids) - set(counts))} leads never scored"
    doubled = {k: n for k, n in counts.items() if n != 1}
    assert not doubled, f"{len(doubled)} leads scored more than once"


# --- the tests --------------------------------------------------------------------------------

def test_two_workers_give_exactly_the_in_process_scores(cluster: Cluster, workers: Workers):
    from leadrank.jobs.distributed import RedisRunner
    from leadrank.jobs.runner import InProcessRunner, get_runner, set_runner
    from leadrank.jobs.service import run_job

    as_of = _as_of(1)
    set_runner(InProcessRunner(1))
    try:
        local_job = _create_scoring_job(cluster, as_of, enqueue=False)
        # As in `leadrank worker`: one BLAS thread, so sums run in the same order.
        with threadpool_limits(limits=1):
            assert run_job(local_job) == "done"
            get_runner().wait()  # the reasons pass, queued on the in-process runner by the scoring job
            assert _job(uuid.UUID(_job(local_job).result["explain_job_id"])).status == "done"
    finally:
        set_runner(RedisRunner(REDIS_URL))
    expected = _scores(cluster.workspace_id)
    assert all(v[0] is not None for v in expected.values())
    _clear_scores(cluster.workspace_id)

    job_id = _create_scoring_job(cluster, as_of)  # enqueued on Redis when this commits
    job = _wait_finished(cluster, job_id)
    assert job.status == "done", job.error
    assert job.result["scored"] == N_LEADS and job.result["chunks_total"] == N_CHUNKS

    got = _scores(cluster.workspace_id)
    # Score, probability, grade, explanation, scoring time and model version: bit-identical.
    differing = [k for k in expected if got.get(k) != expected[k]]
    assert not differing, _first_difference(expected[differing[0]], got[differing[0]], len(differing))
    # Both worker processes scored some of the chunks.
    by_worker = {pid for pid, _ in workers.events(str(job_id), "chunk done")}
    assert len(by_worker) == 2, workers.tails()
    counts = _history_counts(as_of)
    assert set(counts.values()) == {2}  # once in-process, once distributed; never more


def test_worker_killed_mid_chunk_leaves_every_lead_scored_exactly_once(cluster: Cluster, workers: Workers):
    as_of = _as_of(2)
    job_id = _create_scoring_job(cluster, as_of, chunk_delay_s=1.0)
    victim = workers.live()[0]
    seen_done = len([e for e in victim.events() if e.get("msg") == "chunk done"])

    def victim_mid_chunk() -> bool:
        events = [e for e in victim.events() if e.get("job_id") == str(job_id)]
        started = [e["seq"] for e in events if e.get("msg") == "chunk started"]
        finished = {e["seq"] for e in events if e.get("msg") == "chunk done"}
        return bool(started) and started[-1] not in finished

    wait_for(victim_mid_chunk, timeout=60, what="the victim to be inside a chunk", interval=0.05,
             on_timeout=workers.tails)
    workers.kill(victim)  # SIGKILL: its chunk's writes are done but not committed
    assert len([e for e in victim.events() if e.get("msg") == "chunk done"]) >= seen_done
    workers.start(1, wait=False)  # a replacement, as a supervisor would start

    job = _wait_finished(cluster, job_id)
    assert job.status == "done", job.error
    assert job.result["chunks_failed"] == 0
    _assert_scored_exactly_once(cluster, as_of)
    chunks = _chunks(job_id)
    assert all(c.status == "done" for c in chunks)
    assert max(c.attempts for c in chunks) >= 2  # the killed chunk was picked up again


def test_poisoned_chunk_is_reported_and_the_rest_completes(cluster: Cluster, workers: Workers):
    from leadrank.db import session_scope
    from leadrank.jobs.api import job_view
    from leadrank.jobs.repository import JobRepository
    from leadrank.jobs.service import MAX_CHUNK_ATTEMPTS

    as_of = _as_of(3)
    job_id = _create_scoring_job(cluster, as_of, fail_chunks=[3])
    job = _wait_finished(cluster, job_id)

    assert job.status == "done"
    assert "1 of 8 chunks failed" in job.error and "chunk 3" in job.error and "poisoned" in job.error
    assert job.result["chunks_failed"] == 1 and job.result["scored"] == N_LEADS - CHUNK_ROWS
    assert job.result["failed_chunks"][0]["seq"] == 3
    chunks = {c.seq: c for c in _chunks(job_id)}
    assert chunks[3].status == "failed" and chunks[3].attempts == MAX_CHUNK_ATTEMPTS
    assert "PoisonedChunk" in chunks[3].error
    assert all(c.status == "done" for seq, c in chunks.items() if seq != 3)
    # The poisoned chunk's writes were rolled back every time: its leads have no score at
    # as_of; every other lead has exactly one.
    counts = _history_counts(as_of)
    assert len(counts) == N_LEADS - CHUNK_ROWS and set(counts.values()) == {1}
    with session_scope() as session:
        view = job_view(job, chunks=JobRepository(session).chunk_summary(job_id))
    assert view["progress"]["chunks_failed"] == 1 and view["error"] == job.error


def test_redis_stopped_mid_job_and_restarted_loses_nothing(cluster: Cluster, workers: Workers):
    as_of = _as_of(4)
    job_id = _create_scoring_job(cluster, as_of, chunk_delay_s=0.4)
    wait_for(lambda: any(c.status == "done" for c in _chunks(job_id)), timeout=60,
             what="a first chunk to commit", on_timeout=workers.tails)
    try:
        stop_redis()  # shutdown nosave, no persistence: every queued message is gone
        assert any(c.status != "done" for c in _chunks(job_id))
        wait_for(lambda: not any(c.status == "running" for c in _chunks(job_id)), timeout=30,
                 what="the chunks in hand to end")
    finally:
        start_redis()
    job = _wait_finished(cluster, job_id)
    assert job.status == "done", job.error
    _assert_scored_exactly_once(cluster, as_of)


def test_jobs_are_enqueued_only_after_their_transaction_commits(cluster: Cluster, workers: Workers):
    from leadrank.db import session_scope
    from leadrank.jobs.distributed import RedisRunner
    from leadrank.jobs.runner import set_runner
    from leadrank.jobs.service import create_job
    from leadrank.models import Job

    seen: list[tuple[uuid.UUID, str | None]] = []

    class SpyRunner(RedisRunner):
        def submit(self, job_id: uuid.UUID) -> None:
            with session_scope() as other:  # another connection: only committed rows
                job = other.get(Job, job_id)
                seen.append((job_id, job.status if job else None))
            super().submit(job_id)

    set_runner(SpyRunner(REDIS_URL))
    try:
        with pytest.raises(RuntimeError), session_scope() as session:
            create_job(session, cluster.workspace_id, "scoring.score", {"lead_ids": []})
            raise RuntimeError("the request failed")
        assert seen == []  # rolled back: never enqueued

        with session_scope() as session:
            job_id = create_job(session, cluster.workspace_id, "scoring.score", {"lead_ids": []}).id
            session.flush()
            assert seen == []  # not before the commit
        assert seen == [(job_id, "queued")]  # enqueued once, and visible to the worker
    finally:
        set_runner(RedisRunner(REDIS_URL))
    assert _wait_finished(cluster, job_id).status == "done"  # a worker ran it


def test_uploads_run_on_the_workers_and_a_re_upload_changes_nothing(cluster: Cluster, workers: Workers, tmp_path):
    from leadrank.db import session_scope
    from leadrank.ingest.service import save_upload, start_upload
    from leadrank.workspaces.service import create_workspace

    with session_scope() as session:
        workspace_id = create_workspace(session, "Uploads on workers").id
    lines = ["Email,Company,Employees"] + [f"u{i}@firm{i}.com,Firm {i},{'lots' if i % 50 == 0 else 10 + i}"
                                          for i in range(300)]
    source = tmp_path / "leads.csv"
    source.write_text("\n".join(lines) + "\n")

    def upload() -> uuid.UUID:
        with source.open("rb") as fh:
            stored = save_upload(fh, source.name)  # the shared data directory
        with session_scope() as session:
            return start_upload(session, workspace_id, stored, filename=source.name).id

    first = _wait_finished(cluster, upload())
    assert first.status == "done", first.error
    assert first.result["created"] == 294 and first.result["rejected"] == 6
    assert workers.events(str(first.id), "job finished")  # a worker process ran it
    again = _wait_finished(cluster, upload())
    assert again.status == "done" and again.result["created"] == 0 and again.result["unchanged"] == 294


def test_worker_killed_mid_upload_chunk_resumes_from_its_checkpoint(cluster: Cluster, workers: Workers, tmp_path):
    """An upload runs as one job on one worker, chunk after chunk, each chunk committed with
    its checkpoint. Killed inside a chunk (its rows written, not committed), the job is taken
    up by another worker from the last committed chunk: every row is counted once, every lead
    stored once, every bad row reported once."""
    from leadrank.db import session_scope
    from leadrank.ingest.service import save_upload, start_upload
    from leadrank.jobs.repository import JobRepository
    from leadrank.models import Job, Lead
    from leadrank.workspaces.service import create_workspace

    with session_scope() as session:
        workspace_id = create_workspace(session, "Upload killed mid-chunk").id
    rows, bad, repeated = 1200, 12, 30
    lines = ["Email,Company,Employees"]
    for i in range(rows):
        if i % (rows // bad) == 7:
            lines.append(f"x{i}@firm{i}.com,Firm {i},lots")  # rejected: the count is not a number
        elif i >= rows - repeated:
            lines.append(f"k{i - 600}@firm{i - 600}.com,Firm {i - 600} renamed,{i}")  # an earlier lead again
        else:
            lines.append(f"k{i}@firm{i}.com,Firm {i},{10 + i}")
    source = tmp_path / "leads.csv"
    source.write_text("\n".join(lines) + "\n")
    with source.open("rb") as fh:
        stored = save_upload(fh, source.name)
    with session_scope() as session:
        job = start_upload(session, workspace_id, stored, filename=source.name)
        # 12 chunks of 100 rows, each held open for 0.4 s after its writes (test hooks).
        job.params = {**job.params, "chunk_rows": 100, "_test": {"chunk_delay_s": 0.4}}
        job_id = job.id

    def committed_rows() -> int:
        return int((_job(job_id).checkpoint or {}).get("next_row", 2)) - 2

    wait_for(lambda: committed_rows() >= 200, timeout=60, interval=0.05, what="two chunks of the upload to commit",
             on_timeout=workers.tails)
    runner_pids = {pid for pid, _ in workers.events(str(job_id), "job started")}
    victim = next(w for w in workers.live() if w.pid in runner_pids)
    workers.kill(victim)  # SIGKILL inside a chunk: its rows are written, not committed
    assert committed_rows() < rows, "the upload ended before the worker was killed"
    workers.start(1, wait=False)

    job = _wait_finished(cluster, job_id)
    assert job.status == "done", job.error
    assert job.attempts >= 2  # taken up again after its worker died
    assert {pid for pid, _ in workers.events(str(job_id), "job finished")} - {victim.pid}
    distinct = rows - bad - repeated
    assert job.result["rows_read"] == rows
    assert job.result["rejected"] == bad
    # Each lead created once; the repeated rows of the file's end update leads created earlier.
    assert job.result["created"] == distinct
    assert job.result["updated"] + job.result["duplicates_in_file"] + job.result["unchanged"] == repeated
    with session_scope() as session:
        leads = session.execute(select(Lead.email, Lead.company_name).where(Lead.workspace_id == workspace_id)).all()
        rejects = JobRepository(session).rejects(job_id)
        assert session.get(Job, job_id).progress["rows_read"] == rows
    assert len(leads) == distinct == len({email for email, _ in leads})
    assert sorted(r.row_number for r in rejects) == [i + 2 for i in range(rows) if i % (rows // bad) == 7]
    companies = dict(leads)
    assert all(companies[f"k{i - 600}@firm{i - 600}.com"] == f"Firm {i - 600} renamed"
               for i in range(rows - repeated, rows))
