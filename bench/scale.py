"""The PostgreSQL + Redis deployment at scale: upload → scored with 1 and 2 queue workers, and
the prioritized list's latency under 20 concurrent clients.

    python bench/scale.py                              # 1,000,000 leads
    python bench/scale.py --n 100000 --workers 1,2
    python bench/scale.py --n 50000 --list-n 1000000   # list latency on 1M leads (see below)
    python bench/scale.py --keep --requests 0          # upload only; keep the database, then
    python bench/scale.py --reuse postgresql+psycopg://…/leadrank_scale_…   # list only, on it

Runs in a scratch PostgreSQL database that it creates and drops (``--pg``), on the Redis at
``--redis`` (its own queue name). A model is trained first (untimed) on 20,000 generated
leads (``--train-n``) with outcomes and activities; then for each worker count a fresh workspace gets that
model and the N generated open leads are uploaded as a CSV through the real upload job;
the timer runs from the upload's commit until the follow-up scoring job has written every
score, then until its second pass (``scoring.explain``: the top-5 reasons of every lead) is
done. ``leadrank worker`` processes run as
subprocesses; their peak RSS is read from /proc (VmHWM), and the CPU seconds they and the
PostgreSQL server spent in each phase (upload, scoring job, reasons) from /proc/<pid>/stat.

The list is then queried through a real ``leadrank serve`` (uvicorn, 2 processes) from 20
concurrent clients, a bounded number of requests per query shape (filters, search, sorts on
nullable columns, a second page, counts), and the web list page (``GET /leads``) signed in
as a member. The load comes from ``wrk`` when it is installed, else from http.client threads
on keep-alive connections (``--client``): httpx's async client, used before, spent 2-4 ms of
CPU a request, as much as the server, on the same two cores. Each shape prints p50/p95 and
the CPU a request cost the client, the app's processes and PostgreSQL's backends.
``--list-n M`` first pads the measured workspace to M leads with rows
written by ``COPY``: generated leads, each carrying the score and the whole explanation of a
lead the model really scored, so that the list can be measured at a million leads when
scoring a million would take too long here; the printout says when it did. ``--explain``
prints the plan of every statement each API shape runs.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import itertools
import json
import math
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from urllib.parse import quote
from pathlib import Path

from _scratch import scratch_db

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
LEADRANK = str(Path(sys.executable).with_name("leadrank"))


class Hold:
    def submit(self, job_id: uuid.UUID) -> None:
        pass

    def shutdown(self) -> None:
        pass


def upload_sync(workspace_id: uuid.UUID, path: Path, kind: str) -> None:
    from leadrank.db import session_scope
    from leadrank.ingest.service import start_upload
    from leadrank.jobs.service import run_job

    with session_scope() as session:
        job = start_upload(session, workspace_id, path, filename=path.name, kind=kind)
        session.info.pop("leadrank_jobs_to_enqueue", None)
        job_id = job.id
    assert run_job(job_id) == "done"


def train_model(tmp: Path, n: int = 20_000):  # noqa: ANN201
    from leadrank.db import session_scope
    from leadrank.demo.generator import generate_activities, generate_leads
    from leadrank.models import Job
    from leadrank.scoring.service import train_version
    from leadrank.workspaces.service import create_workspace
    from sqlalchemy import delete

    with session_scope() as session:
        ws = create_workspace(session, "model source").id
    leads = generate_leads(n, seed=21, with_outcomes=0.8)
    acts = generate_activities(leads, seed=21)
    lp, ap = tmp / "train-leads.csv", tmp / "train-acts.csv"
    leads.drop(columns=[c for c in leads.columns if c.startswith("_")]).to_csv(lp, index=False)
    acts.rename(columns={"external_id": "lead_external_id", "email": "lead_email"}).to_csv(ap, index=False)
    upload_sync(ws, lp, "leads")
    upload_sync(ws, ap, "activities")
    with session_scope() as session:
        version, _ = train_version(session, ws)
        session.execute(delete(Job).where(Job.status == "queued"))
        return {"algorithm": version.algorithm, "artefact": version.artefact, "report": version.report,
                "features": version.features, "params": version.params, "roc_auc": version.report.get("roc_auc")}


def workspace_with_model(model: dict, name: str) -> tuple[uuid.UUID, str]:
    from leadrank.auth.apikeys import create_api_key
    from leadrank.db import session_scope
    from leadrank.models import ModelVersion, Workspace
    from leadrank.models.base import utcnow
    from leadrank.workspaces.service import create_workspace

    with session_scope() as session:
        ws = create_workspace(session, name)
        version = ModelVersion(workspace_id=ws.id, version=1, status="active", algorithm=model["algorithm"],
                               params=model["params"] or {}, report=model["report"], features=model["features"],
                               artefact=model["artefact"], data_summary={}, activated_at=utcnow())
        session.add(version)
        session.flush()
        session.get(Workspace, ws.id).active_model_version_id = version.id
        _, key = create_api_key(session, ws.id, name="bench")
        return ws.id, key


def peak_rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def start_workers(n: int, env: dict, log_dir: Path, threads: int = 1) -> list[subprocess.Popen]:
    procs = []
    for i in range(n):
        log = (log_dir / f"worker-{n}-{i}.log").open("w")
        procs.append(subprocess.Popen([LEADRANK, "worker", "--threads", str(threads)], env=env, stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True))
    deadline = time.monotonic() + 120
    for i in range(n):
        path = log_dir / f"worker-{n}-{i}.log"
        while "worker started" not in path.read_text(errors="replace"):
            if time.monotonic() > deadline or procs[i].poll() is not None:
                raise SystemExit(f"worker did not start:\n{path.read_text()[-3000:]}")
            time.sleep(0.2)
    return procs


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()


def drop_follow_ups(ws: uuid.UUID) -> list[str]:
    """Mark the workspace's unfinished jobs (the upload's embeddings, queued after its reasons)
    failed, and the kinds of those jobs. The queue is first in, first out and the jobs live in
    the database: left queued, the next run's workers would work through them first (a
    million embeddings held a 2-worker upload back by eight minutes)."""
    from leadrank.db import session_scope
    from leadrank.models import Job
    from sqlalchemy import update

    with session_scope() as session:
        kinds = session.scalars(update(Job).where(Job.workspace_id == ws, Job.status.in_(("queued", "running")))
                                .values(status="failed", error="stopped by bench/scale.py").returning(Job.kind))
        return sorted(set(kinds))


def job_ended(session, job_id: uuid.UUID, what: str) -> bool:  # noqa: ANN001
    """Whether the job is done; a failed one ends the bench with its error."""
    from leadrank.models import Job

    job = session.get(Job, job_id)
    if job.status == "failed":
        raise SystemExit(f"{what} failed: {job.error}")
    return job.status == "done"


def run_upload_and_score(n_workers: int, model: dict, csv_path: Path, n: int, env: dict, log_dir: Path,
                         threads: int = 1, embed: bool = False) -> dict:
    from leadrank.db import session_scope
    from leadrank.ingest.service import start_upload
    from leadrank.jobs.distributed import RedisRunner
    from leadrank.jobs.runner import set_runner
    from leadrank.models import Job, Lead, LeadExplanation
    from sqlalchemy import and_, func, select

    ws, key = workspace_with_model(model, f"scale {n_workers} workers")
    procs = start_workers(n_workers, env, log_dir, threads)
    try:
        set_runner(RedisRunner(env["LEADRANK_QUEUE_URL"]))
        meter = CpuMeter([p.pid for p in procs])
        cpu: dict[str, dict[str, float]] = {}
        started = time.perf_counter()
        with session_scope() as session:
            upload_id = start_upload(session, ws, csv_path, filename=csv_path.name).id
        uploaded = scored = scores_in = explain_id = None
        score_job = None
        while scored is None:
            time.sleep(0.5)
            with session_scope() as session:
                up = session.get(Job, upload_id)
                if up.status == "failed":
                    raise SystemExit(f"upload failed: {up.error}")
                if up.status == "done" and uploaded is None:
                    uploaded = time.perf_counter() - started
                    cpu["upload"] = meter.lap()
                if uploaded is not None and score_job is None:
                    score_job = session.scalars(select(Job).where(Job.workspace_id == ws, Job.kind == "scoring.score")
                                                ).first()
                if uploaded is not None and scores_in is None and session.scalar(
                        select(func.count()).select_from(Lead).where(Lead.workspace_id == ws,
                                                                     Lead.score.is_not(None))) >= n:
                    scores_in = time.perf_counter() - started  # stored scored by the upload itself
                if score_job is not None and explain_id is None and job_ended(session, score_job.id, "scoring"):
                    scores_in = scores_in or time.perf_counter() - started
                    explain_id = (session.get(Job, score_job.id).result or {}).get("explain_job_id")
                    cpu["score job"] = meter.lap()
                    if explain_id is None:
                        scored = scores_in
                if explain_id is not None and job_ended(session, uuid.UUID(explain_id), "reasons"):
                    scored = time.perf_counter() - started
                    cpu["reasons"] = meter.lap()
        embedded = None
        while embed and embedded is None:  # then the upload's embeddings, queued when the reasons end
            time.sleep(0.5)
            with session_scope() as session:
                queued_by = uuid.UUID(explain_id) if explain_id else score_job.id
                embed_id = (session.get(Job, queued_by).result or {}).get("embed_job_id")
                if embed_id is None:
                    raise SystemExit("the upload's scoring queued no embedding job")
                if job_ended(session, uuid.UUID(embed_id), "embedding"):
                    embedded = time.perf_counter() - started
                    cpu["embeddings"] = meter.lap()
        with session_scope() as session:
            with_reasons = session.scalar(select(func.count()).select_from(Lead).join(LeadExplanation, and_(
                LeadExplanation.lead_id == Lead.id, LeadExplanation.scored_at == Lead.scored_at)).where(
                Lead.workspace_id == ws, Lead.score.is_not(None)))
        rss = [peak_rss_mib(p.pid) for p in procs]
    finally:
        set_runner(Hold())
        stop(procs)
        left = drop_follow_ups(ws)
        if left:
            print(f"  (not measured: {', '.join(left)}; stopped so the next run's workers do not inherit them)")
    return {"workers": n_workers, "uploaded_s": uploaded, "scores_s": scores_in, "scored_s": scored,
            "embedded_s": embedded,
            "with_reasons": with_reasons, "cpu": cpu,
            "rss": rss, "workspace_id": ws, "api_key": key, "n": n}


def pad_workspace(ws: uuid.UUID, target: int) -> int:
    """Add COPY-written leads until the workspace holds ``target``. Each padded lead is a
    generated lead (every column, custom attributes, created_at spread over a year, an
    activity date on about 60%) carrying the score, grade and *whole explanation* of a lead
    the model really scored, so that list pages pay for explanations of production size."""
    from leadrank.db import json_dumps, session_scope
    from leadrank.demo.generator import generate_leads
    from leadrank.models import LEAD_FIELDS, Lead, LeadExplanation
    from leadrank.models.base import utcnow
    from leadrank.scoring.repository import SCORE_COLUMNS
    from sqlalchemy import and_, func, select, text

    table, reasons = Lead.__table__, LeadExplanation.__table__
    reason_columns = ["top_reason", "insights", "explanation"]
    with session_scope() as session:
        have = session.scalar(select(func.count()).select_from(Lead).where(Lead.workspace_id == ws))
        scored = [dict(r._mapping) for r in session.execute(
            select(*(table.c[c] for c in SCORE_COLUMNS), *(reasons.c[c] for c in reason_columns))
            .join(reasons, and_(reasons.c.lead_id == table.c.id, reasons.c.scored_at == table.c.scored_at))
            .where(table.c.workspace_id == ws))]
    if not scored:
        raise SystemExit("no scored lead to copy explanations from")
    for row in scored:
        row["explanation"] = json_dumps(row["explanation"])
    missing = target - have
    rng = random.Random(5)
    now = utcnow()
    columns = ["id", "workspace_id", "dedupe_key", "content_hash", *LEAD_FIELDS, "custom", "consent",
               "updated_at", *SCORE_COLUMNS]
    done = 0
    while done < missing:
        size = min(100_000, missing - done)
        frame = generate_leads(size, seed=1000 + done, with_outcomes=0.0)
        custom_cols = [c for c in frame.columns if c not in LEAD_FIELDS and not c.startswith("_")]
        frame["company_size"] = frame["company_size"].astype("Int64")
        frame["annual_revenue"] = frame["annual_revenue"].astype("Float64")
        records = frame.astype(object).where(frame.notna(), None).to_dict("records")
        explained = []
        with session_scope() as session:
            conn = session.connection().connection.driver_connection
            with conn.cursor() as cur, cur.copy(f'COPY leads ({", ".join(columns)}) FROM STDIN') as copy:
                for i, rec in enumerate(records):
                    src = scored[rng.randrange(len(scored))]
                    rec.update(id=uuid.uuid4(), workspace_id=ws, dedupe_key=f"pad:{done + i}", content_hash="x",
                               external_id=f"P{done + i:07d}", outcome="open", updated_at=now,
                               custom=json_dumps({c: rec[c] for c in custom_cols if rec[c] is not None}),
                               consent="{}", **src)
                    rec["company_size"] = int(rec["company_size"]) if rec["company_size"] is not None else None
                    if rng.random() < 0.6:
                        rec["last_activity_date"] = rec["created_at"] + (now - rec["created_at"]) * rng.random()
                    copy.write_row([rec.get(c) for c in columns])
                    explained.append([rec["id"], rec["scored_at"], *(src[c] for c in reason_columns)])
            with conn.cursor() as cur, cur.copy("COPY lead_explanations (lead_id, scored_at, "
                                                f"{', '.join(reason_columns)}) FROM STDIN") as copy:
                for values in explained:
                    copy.write_row(values)
        done += size
    with session_scope() as session:
        session.execute(text("ANALYZE leads"))
    return missing


QUERIES = {
    "no filter": "",
    "industry + size": "industry=Software&company_size_min=50&company_size_max=1000",
    "grade + source": "grade=A&lead_source=Webinar",
    "grade D": "grade=D",
    "job title contains": "job_title=vp",
    "min score + created": "min_score=@p95&created_from=2020-01-01T00:00:00Z",  # see with_query_values
    "search q": "q=garcia",
    "search q (rare)": "q=zzqx",
    "search q (one lead)": "q=@email",  # a lead's whole email: finding one person (see with_query_values)
    "sort company_name": "sort=company_name&order=asc",
    "sort last_activity": "sort=last_activity_date&order=desc",
    "page 2 (cursor)": "@cursor",
    "count=true": "count=true",
    "count=true + industry": "count=true&industry=Software",
}
# The web list page (HTML, signed-in user) with the same service behind it.
WEB_QUERIES = {
    "web: no filter": "",
    "web: industry + search": "industry=Software&q=an",
    "web: sort company_size": "sort=company_size&order=desc",
}


def with_query_values(workspace_id: uuid.UUID) -> None:
    """Values taken from the measured workspace: ``min_score=@p95`` becomes the score 5% of
    its leads reach (a fixed bound, the 60 used before, could lie above every score a model
    gives, and the shape would time an empty page); ``q=@email`` the email of the lead in the
    middle of its score order."""
    from leadrank.db import session_scope
    from sqlalchemy import text

    with session_scope() as session:
        bound, n = session.execute(text(
            "SELECT percentile_disc(0.95) WITHIN GROUP (ORDER BY sort_score), count(*) FROM leads "
            "WHERE workspace_id = :ws"), {"ws": workspace_id}).one()
        email = session.scalar(text("SELECT email FROM leads WHERE workspace_id = :ws AND email IS NOT NULL "
                                    "ORDER BY sort_score DESC, id DESC OFFSET :half LIMIT 1"),
                               {"ws": workspace_id, "half": n // 2})
    for label, query in QUERIES.items():
        QUERIES[label] = query.replace("@p95", f"{math.floor(bound or 0)}").replace("@email", quote(email or "nobody"))


def web_login(base: str, workspace_id: uuid.UUID) -> dict[str, str]:
    """A member of the list workspace, signed in through the login form: its cookies."""
    import re

    import httpx
    from leadrank.auth.users import add_member, create_user
    from leadrank.db import session_scope

    email, password = f"bench-{uuid.uuid4().hex[:8]}@example.com", uuid.uuid4().hex
    with session_scope() as session:
        add_member(session, create_user(session, email, password).id, workspace_id, role="viewer")
    html = {"accept": "text/html"}
    # Production cookies are Secure: httpx keeps them off plain http, so they are sent by hand.
    with httpx.Client(base_url=base, headers=html, timeout=60, follow_redirects=False) as client:
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        jar = {c.name: c.value for c in client.cookies.jar}
        r = client.post("/login", data={"email": email, "password": password, "csrf_token": token, "next": "/"},
                        headers={"cookie": "; ".join(f"{k}={v}" for k, v in jar.items())})
        if r.status_code not in (200, 303):
            raise SystemExit(f"web sign-in failed: {r.status_code}")
        jar.update({c.name: c.value for c in client.cookies.jar})
        return jar


def _get(conn: http.client.HTTPConnection, url: str, headers: dict[str, str]) -> tuple[int, bytes]:
    conn.request("GET", url, headers=headers)
    response = conn.getresponse()
    return response.status, response.read()


def _sockets_run(base: str, url: str, headers: dict[str, str], requests: int, clients: int) -> list[float]:
    """The latencies of ``requests`` GETs of ``url`` from ``clients`` threads, each on one
    keep-alive connection (http.client: ~0.3 ms of this process's CPU a request, where
    httpx's async client took 2-4 ms, as much as the server spent on an API page)."""
    host, port = base.removeprefix("http://").split(":")
    latencies: list[float] = []
    left = itertools.count(requests, -1)
    deadline = time.monotonic() + 60  # a slow shape is cut short (the count is printed)
    failed: list[str] = []

    def one_client() -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        try:
            while next(left) > 0 and time.monotonic() < deadline and not failed:
                t = time.perf_counter()
                try:
                    status, _ = _get(conn, url, headers)
                except TimeoutError:  # counted as 60 s, and the shape ends
                    latencies.append(60.0)
                    failed.append("timeout")
                    return
                latencies.append(time.perf_counter() - t)
                if status != 200:
                    failed.append(f"HTTP {status}")
        finally:
            conn.close()

    threads = [threading.Thread(target=one_client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failed and failed[0] != "timeout":
        raise SystemExit(f"{url}: {failed[0]}")
    return latencies


WRK_SCRIPT = """
local quota, answered = tonumber(os.getenv("LR_QUOTA")), 0
response = function(status, headers, body)
  answered = answered + 1
  if answered == quota then
    io.write("LR stopped\\n")
    io.flush()
    wrk.thread:stop()
  end
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("LR %d %d %d %d\\n", summary.requests, e.connect + e.read + e.write + e.status + e.timeout,
                         latency:percentile(50), latency:percentile(95)))
end
"""


def _wrk_run(base: str, url: str, headers: dict[str, str], requests: int, clients: int,
             ) -> tuple[float, float, int]:
    """(p50 s, p95 s, requests) from wrk: ``clients`` connections on two threads, each thread
    stopping after its share of ``requests``. wrk itself runs for its whole duration (60 s)
    whatever its threads do: it is interrupted once both have stopped, and then reports."""
    threads = 2
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(WRK_SCRIPT)
        script.flush()
        args = ["wrk", f"-t{threads}", f"-c{clients}", "-d60s", "--timeout", "60s", "-s", script.name,
                *(a for k, v in headers.items() for a in ("-H", f"{k}: {v}")), base + url]
        with subprocess.Popen(args, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "LR_QUOTA": str(-(-requests // threads))}) as wrk:
            lines, stopped = [], 0
            for line in wrk.stdout:  # type: ignore[union-attr]
                lines.append(line)
                stopped += line.startswith("LR stopped")
                if stopped == threads:
                    wrk.send_signal(signal.SIGINT)
                    stopped = -1
            wrk.wait()
    out = "".join(lines)
    report = [line for line in lines if line.startswith("LR ") and not line.startswith("LR stopped")]
    if wrk.returncode != 0 or not report:
        raise SystemExit(f"wrk failed ({wrk.returncode}):\n{out}")
    done, errors, p50, p95 = (int(x) for x in report[-1].split()[1:])
    if errors:
        raise SystemExit(f"{url}: {errors} of {done} requests failed (wrk)\n{out}")
    return p50 / 1e6, p95 / 1e6, done


CLIENTS = {"wrk": "wrk: 2 threads, one keep-alive connection a client",
           "sockets": "http.client: a thread and a keep-alive connection a client",
           "httpx": "httpx.AsyncClient: one event loop"}


def load_client(name: str) -> str:
    """The load generator to use: wrk when installed (``auto``), else http.client threads."""
    if name == "auto":
        return "wrk" if shutil.which("wrk") else "sockets"
    if name == "wrk" and not shutil.which("wrk"):
        raise SystemExit("--client wrk: wrk is not installed (apt-get install wrk)")
    return name


def cpu_seconds(pids: Iterable[int]) -> dict[int, float]:
    """User + system CPU seconds of each process (Linux /proc)."""
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def _processes() -> Iterator[tuple[int, int, str]]:
    """(pid, parent pid, command line) of every process (Linux /proc)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        yield int(entry.name), parent, command


def postgres_processes() -> list[int]:
    """Every PostgreSQL server process (backends and background writers; local servers only)."""
    return [pid for pid, _, command in _processes() if command.startswith("postgres:")]


class CpuMeter:
    """CPU seconds the workers and the PostgreSQL server spent between two readings (a
    backend that exits in between takes its share with it; pools keep theirs open), and the
    WAL the server wrote: bytes, full-page images (a page's first change after a checkpoint
    logs the whole page) and checkpoints."""

    def __init__(self, workers: list[int]) -> None:
        self.workers = workers
        self.last = self._read()

    def _read(self) -> tuple[dict[int, float], dict[int, float], tuple[int, ...]]:
        from leadrank.db import get_engine
        from sqlalchemy import text

        with get_engine().connect() as connection:
            wal = tuple(connection.execute(text(
                "SELECT wal_bytes::bigint, wal_fpi, (SELECT checkpoints_timed + checkpoints_req "
                "FROM pg_stat_bgwriter) FROM pg_stat_wal")).one())
        return cpu_seconds(self.workers), cpu_seconds(postgres_processes()), wal

    def lap(self) -> dict[str, float]:
        now = self._read()
        workers, server = (sum(v - before.get(pid, 0.0) for pid, v in after.items())
                           for before, after in zip(self.last[:2], now[:2], strict=True))
        wal_bytes, fpi, checkpoints = (a - b for a, b in zip(now[2], self.last[2], strict=True))
        self.last = now
        return {"workers": workers, "postgres": server, "wal_gb": wal_bytes / 2**30, "fpi": fpi,
                "checkpoints": checkpoints}


def server_processes(server_pid: int, database: str) -> tuple[list[int], list[int]]:
    """The serving processes (``leadrank serve`` and its workers) and the PostgreSQL backends
    connected to ``database`` (local servers only)."""
    app, backends = [server_pid], []
    for pid, parent, command in _processes():
        if parent == server_pid:
            app.append(pid)
        elif command.startswith("postgres:") and f" {database} " in command:
            backends.append(pid)
    return app, backends


def measure_list(base: str, key: str, requests: int, clients: int, cookies: dict[str, str] | None = None, *,
                 only: list[str] | None = None,
                 client: str = "sockets", server: Callable[[], tuple[list[int], list[int]]] | None = None,
                 ) -> dict[str, tuple[float, float, int]]:
    """p50 and p95 (ms) and the leads on the page, per shape. Beside them: the client's CPU
    per request (this process, or wrk's), and when ``server`` names the serving processes,
    theirs (app and PostgreSQL): on a small machine the load generator competes with the
    server for the same cores, and the server's CPU per request is the steadier figure."""
    out = {}
    api_headers = {"Authorization": f"Bearer {key}"}
    web_headers = {"accept": "text/html", "cookie": "; ".join(f"{k}={v}" for k, v in (cookies or {}).items())}
    shapes = [(label, "/api/v1/leads/prioritized?limit=50", q) for label, q in QUERIES.items()]
    if cookies:
        shapes += [(label, "/leads?limit=50", q) for label, q in WEB_QUERIES.items()]
    host, port = base.removeprefix("http://").split(":")

    def once(url: str, headers: dict[str, str]) -> tuple[int, bytes]:  # on its own connection
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        try:
            return _get(conn, url, headers)
        finally:
            conn.close()

    if only:
        shapes = [shape for shape in shapes if shape[0] in only]
    for label, path, query in shapes:
        api = path.startswith("/api")
        headers = api_headers if api else web_headers
        if query == "@cursor":  # the second page of the unfiltered list
            query = f"cursor={json.loads(once(path, headers)[1])['next_cursor']}"
        url = path + (f"&{query}" if query else "")
        try:
            status, body = once(url, headers)
        except TimeoutError:
            print(f"  {label:<24} a single request took over 60 s; shape skipped", flush=True)
            continue
        if status != 200:
            raise SystemExit(f"{url}: HTTP {status}")
        returned = len(json.loads(body)["leads"]) if api else body.count(b"<tr data-lead=")
        app_pids, pg_pids = server() if server else ([], [])
        app_before, pg_before = cpu_seconds(app_pids), cpu_seconds(pg_pids)
        if client == "wrk":
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            p50, p95, done = _wrk_run(base, url, headers, requests, clients)
            used = resource.getrusage(resource.RUSAGE_CHILDREN)
        else:
            before = resource.getrusage(resource.RUSAGE_SELF)
            if client == "httpx":
                latencies = asyncio.run(_httpx_run(base, url, headers, requests, clients))
            else:
                latencies = _sockets_run(base, url, headers, requests, clients)
            used = resource.getrusage(resource.RUSAGE_SELF)
            latencies.sort()
            p50, p95, done = statistics.median(latencies), latencies[int(0.95 * (len(latencies) - 1))], len(latencies)
        client_ms = (used.ru_utime + used.ru_stime - before.ru_utime - before.ru_stime) / done * 1000
        out[label] = (p50 * 1000, p95 * 1000, returned)
        line = (f"  {label:<24} p50 {out[label][0]:7.1f} ms   p95 {out[label][1]:7.1f} ms   ({returned} leads on the "
                f"page, {done} requests; CPU per request: client {client_ms:.1f} ms")
        if server:
            app_pids, pg_pids = server()
            app_cpu, pg_cpu = (sum(after - before.get(pid, 0.0) for pid, after in cpu_seconds(pids).items())
                               for pids, before in ((app_pids, app_before), (pg_pids, pg_before)))
            line += f", app {app_cpu / done * 1000:.1f} ms, PostgreSQL {pg_cpu / done * 1000:.1f} ms"
        print(line + ")", flush=True)
    return out


async def _httpx_run(base: str, url: str, headers: dict[str, str], requests: int, clients: int) -> list[float]:
    """The former load generator (httpx's async client), kept to compare with (``--client httpx``)."""
    import httpx

    latencies: list[float] = []
    queue = list(range(requests))
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as session:
        async def one_client() -> None:
            while queue and time.monotonic() < deadline:
                queue.pop()
                t = time.perf_counter()
                try:
                    resp = await session.get(url)
                except httpx.TimeoutException:  # counted as 60 s, and the shape ends
                    latencies.append(60.0)
                    queue.clear()
                    return
                latencies.append(time.perf_counter() - t)
                resp.raise_for_status()

        await asyncio.gather(*(one_client() for _ in range(clients)))
    return latencies


def server_settings() -> str:
    """The PostgreSQL settings that decide bulk-write speed at this size (see docs/deployment.md)."""
    from leadrank.db import session_scope
    from sqlalchemy import text

    names = ("shared_buffers", "max_wal_size", "checkpoint_timeout", "synchronous_commit", "wal_compression",
             "wal_buffers")
    with session_scope() as session:
        rows = session.execute(text("SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(:n)"),
                               {"n": list(names)}).all()
    return ", ".join(f"{name}={value}" for name, value in sorted(rows))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def list_query(query: str):  # noqa: ANN201
    """(filters, sort, count) of an API query string, as the endpoint reads them."""
    from datetime import datetime
    from urllib.parse import parse_qs

    from leadrank.leads.filters import LeadFilters, LeadSort

    qs = parse_qs(query)
    sort = LeadSort(qs.pop("sort", ["score"])[0], qs.pop("order", ["desc"])[0] == "desc")
    count = qs.pop("count", ["false"])[0] == "true"
    convert = {"company_size_min": int, "company_size_max": int, "min_score": float, "max_score": float,
               "created_from": datetime.fromisoformat, "created_to": datetime.fromisoformat}
    lists = ("industry", "lead_source", "grade", "outcome")
    kwargs = {k: (v if k in lists else convert.get(k, str)(v[0])) for k, v in qs.items()}
    return LeadFilters(**kwargs), sort, count


def explain(ws: uuid.UUID) -> None:
    """EXPLAIN ANALYZE of every statement each API shape runs (the page, the bounded count),
    as sent to PostgreSQL (a search may run two or three: see LeadRepository._search)."""
    from leadrank.db import get_engine, session_scope
    from leadrank.leads.repository import LeadRepository
    from sqlalchemy import event

    engine = get_engine()
    sent: list[tuple[str, object]] = []

    def record(conn, cursor, statement, params, context, executemany):  # noqa: ANN001, ARG001
        sent.append((statement, params))

    for label, query in QUERIES.items():
        if query.startswith("@"):
            continue
        f, sort, count = list_query(query)
        sent.clear()
        with session_scope() as session:
            repo = LeadRepository(session)
            repo.list_rows(ws, f, sort, limit=50, insights=True)  # once unrecorded: one-off lookups
            event.listen(engine, "before_cursor_execute", record)
            try:
                repo.list_rows(ws, f, sort, limit=50, insights=True)
                if count:
                    repo.count_up_to(ws, f, 10_000)
            finally:
                event.remove(engine, "before_cursor_execute", record)
            with session.connection().connection.driver_connection.cursor() as cursor:
                for statement, params in sent:
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS off) " + statement, params or None)
                    plan = [row[0] for row in cursor.fetchall()]
                    print(f"  EXPLAIN {label}: " + " | ".join(
                        p.strip() for p in plan if any(w in p for w in ("Scan", "Sort", "Execution"))))


def prepare(args: argparse.Namespace, tmp: Path) -> tuple[dict, Path]:
    """The model (trained, untimed) and the CSV of ``args.n`` generated open leads."""
    t = time.perf_counter()
    model = train_model(tmp, args.train_n)
    print(f"model: {model['algorithm']} trained on {args.train_n:,} leads in {time.perf_counter() - t:.0f}s "
          f"(holdout ROC AUC {model['roc_auc']:.3f})")
    from leadrank.demo.generator import generate_leads

    frame = generate_leads(args.n, seed=77, with_outcomes=0.0)
    csv_path = tmp / "leads.csv"
    frame.drop(columns=[c for c in frame.columns if c.startswith("_")]).to_csv(csv_path, index=False)
    del frame
    print(f"{args.n:,} open leads to upload ({csv_path.stat().st_size / 2**20:.0f} MiB CSV); "
          f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} before the runs; "
          f"PostgreSQL {server_settings()}")
    return model, csv_path


def reused_workspace() -> dict:
    """The biggest workspace of a kept database, with a new API key (``--reuse``)."""
    from leadrank.auth.apikeys import create_api_key
    from leadrank.db import session_scope
    from leadrank.models import Lead
    from sqlalchemy import func, select

    with session_scope() as session:
        ws, n = session.execute(select(Lead.workspace_id, func.count()).group_by(Lead.workspace_id)
                                .order_by(func.count().desc()).limit(1)).one()
        _, key = create_api_key(session, ws, name="bench")
    print(f"reusing workspace {ws} ({n:,} leads)")
    return {"workspace_id": ws, "api_key": key, "n": n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--workers", default="1,2", help="worker counts to time, e.g. 1,2")
    parser.add_argument("--threads", type=int, default=1, help="jobs each worker process runs at once "
                        "(leadrank worker --threads)")
    parser.add_argument("--train-n", type=int, default=20_000, help="leads the model is trained on (untimed)")
    parser.add_argument("--list-n", type=int, default=0, help="pad the list workspace to this many leads")
    parser.add_argument("--requests", type=int, default=400, help="requests per list query shape (0: skip the list)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--client", choices=["auto", *CLIENTS], default="auto",
                        help="load generator for the list: wrk when installed (auto), else http.client threads; "
                             "httpx is the former one, to compare with")
    parser.add_argument("--pg", default=os.environ.get("LEADRANK_BENCH_PG_URL", PG_DEFAULT))
    parser.add_argument("--redis", default=os.environ.get("LEADRANK_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of the list queries")
    parser.add_argument("--only", help="measure only these list shapes (comma-separated labels)")
    parser.add_argument("--embed", action="store_true",
                        help="also time the upload's embeddings (the job queued after the reasons)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the scratch database (its URL is printed) for --reuse")
    parser.add_argument("--reuse", metavar="DATABASE_URL",
                        help="measure only the list, on the biggest workspace of a database --keep left")
    args = parser.parse_args()

    if args.reuse:
        url, drop = args.reuse, lambda: None
    else:
        url, drop = scratch_db(args.pg, "leadrank_scale")
        if args.keep:
            print(f"database (kept): {url}")
            drop = lambda: None  # noqa: E731
    tmp = Path(tempfile.mkdtemp(prefix="leadrank-scale-"))
    env = {**os.environ, "DATABASE_URL": url, "LEADRANK_DATA_DIR": str(tmp / "data"), "LEADRANK_ENV": "production",
           "LEADRANK_SECRET_KEY": uuid.uuid4().hex, "LEADRANK_QUEUE_URL": args.redis,
           "LEADRANK_QUEUE_NAME": f"leadrank-scale-{uuid.uuid4().hex[:8]}", "LEADRANK_LOG_FORMAT": "json"}
    os.environ.update(env)
    server = None
    try:
        from leadrank.jobs.runner import set_runner
        from leadrank.migrate import upgrade

        set_runner(Hold())
        upgrade()
        if args.reuse:
            last = reused_workspace()
            args.n = list_n = last["n"]
        runs = []
        for k in () if args.reuse else (int(x) for x in args.workers.split(",")):
            if not runs:
                model, csv_path = prepare(args, tmp)
            runs.append(run := run_upload_and_score(k, model, csv_path, args.n, env, tmp, args.threads, args.embed))
            threads = f" × {args.threads} threads" if args.threads > 1 else ""
            print(f"{k} worker(s){threads}: uploaded in {run['uploaded_s']:.1f}s, all {args.n:,} scored in "
                  f"{run['scores_s']:.1f}s ({args.n / run['scores_s']:,.0f} leads/s end to end), with reasons "
                  f"in {run['scored_s']:.1f}s ({args.n / run['scored_s']:,.0f} leads/s; "
                  f"{run['with_reasons']:,} leads have score + reasons); peak RSS per worker: "
                  + ", ".join(f"{r:.0f} MiB" for r in run["rss"])
                  + (f"; embedded in {run['embedded_s']:.1f}s" if run["embedded_s"] is not None else ""))
            for phase, m in run["cpu"].items():
                print(f"  {phase}: CPU seconds workers {m['workers']:.0f}, PostgreSQL {m['postgres']:.0f} "
                      f"({(m['workers'] + m['postgres']) / args.n * 1e6:.0f} µs a lead); WAL {m['wal_gb']:.1f} GiB, "
                      f"{m['fpi']:,} full-page images, {m['checkpoints']} checkpoint(s)")
        if runs:
            last = runs[-1]
            if args.requests <= 0:
                return  # --requests 0: upload and scoring only
            list_n = args.n
            if args.list_n > args.n:
                added = pad_workspace(last["workspace_id"], args.list_n)
                list_n = args.list_n
                print(f"list workspace padded with {added:,} COPY-written leads (scores and explanations of "
                      f"scored leads) to {list_n:,}")
        if list_n == args.n:  # uploads under 10,000 leads leave statistics to autovacuum (off on some servers)
            from leadrank.db import session_scope
            from sqlalchemy import text

            with session_scope() as session:
                session.execute(text("ANALYZE leads"))
        with_query_values(last["workspace_id"])
        if args.explain:
            explain(last["workspace_id"])
        port = free_port()
        server = subprocess.Popen([LEADRANK, "serve", "--port", str(port), "--workers", "2"], env=env,
                                  stdout=(tmp / "serve.log").open("w"), stderr=subprocess.STDOUT,
                                  start_new_session=True)
        import httpx

        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("server did not start:\n" + (tmp / "serve.log").read_text()[-3000:])
            time.sleep(0.3)
        base = f"http://127.0.0.1:{port}"
        cookies = web_login(base, last["workspace_id"])
        client = load_client(args.client)
        print(f"GET /api/v1/leads/prioritized (and the web list, GET /leads) on {list_n:,} leads, "
              f"{args.clients} concurrent clients ({CLIENTS[client]}), {args.requests} requests per shape (at most "
              f"60 s each), uvicorn 2 processes, load average {os.getloadavg()[0]:.1f}:", flush=True)
        database = url.rsplit("/", 1)[1]
        measure_list(base, last["api_key"], args.requests, args.clients, cookies, client=client,
                     only=args.only.split(",") if args.only else None,
                     server=lambda: server_processes(server.pid, database))
    finally:
        if server is not None:
            stop([server])
        from leadrank.db import reset_caches

        reset_caches()
        drop()


if __name__ == "__main__":
    main()
