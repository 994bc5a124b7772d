"""Upload throughput: a generated CSV of N leads through the real upload job, beside the floor.

    python bench/ingest.py                  # 1,000,000 leads, SQLite and PostgreSQL
    python bench/ingest.py --n 200000 --only postgres
    python bench/ingest.py --profile        # also: where the upload's time goes (cProfile)

For each database it prints the upload's wall time, rows/s and peak memory (max RSS of the
process that ran it: every measurement runs in a fresh child process), and the **floor**:
the same rows, already read and coerced into lead columns (untimed), written with the plain
bulk path the upload uses (``COPY`` on PostgreSQL, ``executemany`` on SQLite) in the same
20,000-row transactions. The upload's time excludes importing the job handlers (a worker
does that once).
Target: the upload at least half the floor's rows/s, in under 1 GiB. PostgreSQL runs in a
scratch database that is created and dropped (``--pg`` names the server).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from _scratch import scratch_db

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _setup(data_dir: str, url: str | None) -> uuid.UUID:
    os.environ["LEADRANK_DATA_DIR"] = data_dir
    os.environ["LEADRANK_ENV"] = "test"
    os.environ.pop("LEADRANK_QUEUE_URL", None)
    if url:
        os.environ["DATABASE_URL"] = url
    else:
        os.environ.pop("DATABASE_URL", None)
    from leadrank.db import session_scope
    from leadrank.jobs.runner import set_runner
    from leadrank.migrate import upgrade
    from leadrank.workspaces.service import create_workspace

    class Hold:  # the upload's follow-up scoring job is not part of this benchmark
        def submit(self, job_id: uuid.UUID) -> None:
            pass

        def shutdown(self) -> None:
            pass

    set_runner(Hold())
    upgrade()
    with session_scope() as session:
        return create_workspace(session, f"bench {uuid.uuid4().hex[:6]}").id


def child_upload(csv_path: str, data_dir: str, url: str | None, profile: bool) -> dict:
    workspace_id = _setup(data_dir, url)
    from leadrank.db import session_scope
    from leadrank.ingest.service import start_upload
    from leadrank.jobs.registry import load_handlers
    from leadrank.jobs.service import run_job
    from leadrank.models import Job

    load_handlers()  # a worker imports its job handlers once, not per upload: not timed

    path = Path(csv_path)
    with session_scope() as session:
        job = start_upload(session, workspace_id, path, filename=path.name)
        session.info.pop("leadrank_jobs_to_enqueue", None)
        job_id = job.id
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    status = run_job(job_id)
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - started
    with session_scope() as session:
        job = session.get(Job, job_id)
        result, error = job.result, job.error
    out = {"status": status, "seconds": seconds, "rows": result.get("rows_read", 0), "created": result.get("created"),
           "rejected": result.get("rejected"), "peak_rss_mib": _peak_rss_mib(), "error": error}
    if profiler:
        stats = pstats.Stats(profiler)
        rows = []
        for (file, line, fn), (_, _, tt, ct, _) in stats.stats.items():  # type: ignore[attr-defined]
            rows.append((ct, tt, f"{Path(file).name}:{line}({fn})"))
        out["profile_cumulative"] = [(round(ct, 2), round(tt, 2), name) for ct, tt, name in sorted(rows)[-25:][::-1]]
        out["profile_self"] = [(round(tt, 2), name) for ct, tt, name in sorted(rows, key=lambda r: r[1])[-15:][::-1]]
    return out


def child_floor(csv_path: str, data_dir: str, url: str | None) -> dict:
    workspace_id = _setup(data_dir, url)
    from leadrank.config import get_settings
    from leadrank.db import session_scope
    from leadrank.ingest.mapping import suggest_mapping
    from leadrank.ingest.readers import open_table
    from leadrank.ingest.service import new_lead_columns
    from leadrank.ingest.validate import coerce_lead_batch
    from leadrank.leads.repository import LeadRepository
    from leadrank.models.base import utcnow

    reader = open_table(Path(csv_path), filename=Path(csv_path).name)
    mapping = suggest_mapping(reader.headers)
    job_id = uuid.uuid4()
    now = utcnow()
    timed = 0.0
    rows_total = 0
    for chunk in reader.iter_chunks(get_settings().upload_chunk_rows):
        batch, _ = coerce_lead_batch(chunk, reader.headers, mapping, default_created_at=now)
        last = dict(zip(batch.dedupe_key, range(len(batch))))  # later rows win, as in uploads
        columns, constants = new_lead_columns(workspace_id, job_id, batch, list(last.values()), now)
        started = time.perf_counter()
        with session_scope() as session:
            LeadRepository(session).insert_lead_columns(columns, constants)
        timed += time.perf_counter() - started
        rows_total += len(chunk)
    return {"seconds": timed, "rows": rows_total, "peak_rss_mib": _peak_rss_mib()}


def _run_child(kind: str, csv_path: Path, url: str | None, profile: bool = False) -> dict:
    with tempfile.TemporaryDirectory() as data_dir:
        cmd = [sys.executable, __file__, "--child", kind, "--csv", str(csv_path), "--data-dir", data_dir]
        if url:
            cmd += ["--url", url]
        if profile:
            cmd.append("--profile")
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"{kind} failed:\n{proc.stderr[-4000:]}")
        return json.loads(proc.stdout.strip().splitlines()[-1])


def write_csv(n: int, path: Path) -> None:
    from leadrank.demo.generator import generate_leads

    leads = generate_leads(n, seed=3, with_outcomes=0.5)
    leads.drop(columns=[c for c in leads.columns if c.startswith("_")]).to_csv(path, index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--only", choices=["sqlite", "postgres"], default=None)
    parser.add_argument("--pg", default=os.environ.get("LEADRANK_BENCH_PG_URL", PG_DEFAULT))
    parser.add_argument("--profile", action="store_true", help="profile the upload and print where time goes")
    parser.add_argument("--child", choices=["upload", "floor"], help=argparse.SUPPRESS)
    parser.add_argument("--csv", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        if args.child == "upload":
            print(json.dumps(child_upload(args.csv, args.data_dir, args.url, args.profile)))
        else:
            print(json.dumps(child_floor(args.csv, args.data_dir, args.url)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "leads.csv"
        started = time.perf_counter()
        write_csv(args.n, csv_path)
        print(f"generated {args.n:,} leads ({csv_path.stat().st_size / 2**20:.0f} MiB CSV) "
              f"in {time.perf_counter() - started:.1f}s; upload chunk = "
              f"{os.environ.get('LEADRANK_UPLOAD_CHUNK_ROWS', '20000')} rows")
        backends = [b for b in ("sqlite", "postgres") if args.only in (None, b)]
        print(f"{'database':<10} {'upload s':>9} {'rows/s':>9} {'peak MiB':>9} | {'floor s':>8} {'rows/s':>9}"
              f" {'peak MiB':>9} | upload/floor")
        for backend in backends:
            drop = None
            url = None
            if backend == "postgres":
                url, drop = scratch_db(args.pg, "leadrank_bench")
            try:
                up = _run_child("upload", csv_path, url, args.profile)
                if up["status"] != "done":
                    raise SystemExit(f"upload ended {up['status']}: {up['error']}")
                if drop:
                    drop()
                    url, drop = scratch_db(args.pg, "leadrank_bench")
                floor = _run_child("floor", csv_path, url)
            finally:
                if drop:
                    drop()
            up_rate = up["rows"] / up["seconds"]
            floor_rate = floor["rows"] / floor["seconds"]
            print(f"{backend:<10} {up['seconds']:>9.1f} {up_rate:>9,.0f} {up['peak_rss_mib']:>9.0f} | "
                  f"{floor['seconds']:>8.1f} {floor_rate:>9,.0f} {floor['peak_rss_mib']:>9.0f} | "
                  f"{up_rate / floor_rate:.2f}  (created {up['created']:,}, rejected {up['rejected']:,})")
            if args.profile:
                print(f"  where the {backend} upload's time goes (cumulative s, self s, function):")
                for ct, tt, name in up["profile_cumulative"]:
                    print(f"    {ct:>8.2f} {tt:>8.2f}  {name}")
                print("  top self time:")
                for tt, name in up["profile_self"]:
                    print(f"    {tt:>8.2f}  {name}")


if __name__ == "__main__":
    main()
