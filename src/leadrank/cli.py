"""The ``leadrank`` command. Calls services only."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from leadrank.config import get_settings

app = typer.Typer(help="leadrank: self-hosted AI lead scoring.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
workspace_app = typer.Typer(help="Workspaces (one per client).", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys for the REST API.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(workspace_app, name="workspace")
app.add_typer(apikey_app, name="apikey")
app.add_typer(db_app, name="db")
console = Console()

WorkspaceOpt = Annotated[str | None, typer.Option("--workspace", "-w", help="Workspace slug or id")]


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


def _ready() -> None:
    from leadrank.migrate import upgrade

    get_settings().ensure_dirs()
    upgrade()


def _workspace_id(ref: str | None) -> uuid.UUID:
    from leadrank.db import session_scope
    from leadrank.errors import NotFound
    from leadrank.workspaces.repository import WorkspaceRepository
    from leadrank.workspaces.service import resolve_workspace

    with session_scope() as session:
        if ref is None:
            all_ws = WorkspaceRepository(session).all()
            if len(all_ws) != 1:
                names = ", ".join(w.slug for w in all_ws) or "none yet"
                _fail(f"choose a workspace with --workspace (there are: {names})")
            return all_ws[0].id
        try:
            return resolve_workspace(session, ref).id
        except NotFound as exc:
            _fail(exc.message)
    raise AssertionError


def _follow_job(job_id: uuid.UUID, label: str) -> dict:
    """Show a job's progress until it ends; return its final view."""
    from leadrank.db import session_scope
    from leadrank.jobs.api import job_view
    from leadrank.models import Job

    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                  TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task(label, total=100, info="")
        while True:
            with session_scope() as session:
                from leadrank.jobs.repository import JobRepository

                view = job_view(session.get(Job, job_id), chunks=JobRepository(session).chunk_summary(job_id))
            p = view["progress"]
            info = f"{p.get('rows_read', p.get('processed', 0)):,} rows"
            progress.update(task, completed=view["percent"] or 0, info=info)
            if view["status"] in ("done", "failed"):
                progress.update(task, completed=100 if view["status"] == "done" else view["percent"] or 0)
                return view
            time.sleep(0.2)


@app.command()
def serve(host: Annotated[str | None, typer.Option(help="Interface to bind [LEADRANK_HOST]")] = None,
          port: Annotated[int | None, typer.Option(help="Port [LEADRANK_PORT]")] = None,
          workers: Annotated[int, typer.Option(help="Web worker processes")] = 1,
          reload: Annotated[bool, typer.Option(help="Reload on code changes (development)")] = False) -> None:
    """Serve the web app and the REST API."""
    import uvicorn

    settings = get_settings()
    host, port = host or settings.host, port or settings.port
    _ready()
    console.print(f"leadrank on [bold]http://{host}:{port}[/bold]  (API docs: http://{host}:{port}/docs)")
    uvicorn.run("leadrank.main:app", host=host, port=port, workers=workers, reload=reload,
                log_level="info")


@app.command()
def worker(threads: Annotated[int, typer.Option(help="Jobs processed at once by this process")] = 1,
           metrics_port: Annotated[int | None, typer.Option(
               help="Serve this worker's Prometheus metrics on this port")] = None) -> None:
    """Process jobs from the Redis queue (needs LEADRANK_QUEUE_URL). Run as many as you like.
    Logs one structured line per job and chunk (LEADRANK_LOG_FORMAT=json for JSON)."""
    from leadrank.jobs.distributed import run_worker
    from leadrank.ops.logging import setup_logging

    if not get_settings().queue_url:
        _fail("set LEADRANK_QUEUE_URL=redis://host:6379/0 to run queue workers "
              "(without it, jobs run inside 'leadrank serve')")
    setup_logging()
    _ready()
    run_worker(threads=threads, metrics_port=metrics_port)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the latest version."""
    _ready()
    console.print("database schema is up to date")


@workspace_app.command("create")
def workspace_create(name: str, slug: Annotated[str | None, typer.Option(help="URL name")] = None) -> None:
    """Create a workspace for a client."""
    from leadrank.db import session_scope
    from leadrank.errors import LeadrankError
    from leadrank.workspaces.service import create_workspace

    _ready()
    try:
        with session_scope() as session:
            ws = create_workspace(session, name, slug=slug)
            console.print(f"created workspace [bold]{ws.name}[/bold] (slug {ws.slug}, id {ws.id})")
    except LeadrankError as exc:
        _fail(exc.message)


@workspace_app.command("list")
def workspace_list() -> None:
    """List workspaces."""
    from leadrank.db import session_scope
    from leadrank.leads.repository import LeadRepository
    from leadrank.workspaces.repository import WorkspaceRepository

    _ready()
    table = Table("slug", "name", "leads", "id")
    with session_scope() as session:
        for ws in WorkspaceRepository(session).all():
            table.add_row(ws.slug, ws.name, f"{LeadRepository(session).count(ws.id):,}", str(ws.id))
    console.print(table)


@apikey_app.command("create")
def apikey_create(workspace: WorkspaceOpt = None,
                  name: Annotated[str, typer.Option(help="What the key is for")] = "cli",
                  role: Annotated[str, typer.Option(help="admin, member or viewer")] = "admin") -> None:
    """Create an API key (printed once; only its hash is stored)."""
    from leadrank.auth.apikeys import create_api_key
    from leadrank.db import session_scope

    _ready()
    ws_id = _workspace_id(workspace)
    with session_scope() as session:
        _, plaintext = create_api_key(session, ws_id, name=name, role=role)
    console.print("API key (shown once, keep it safe):")
    print(plaintext)


@app.command("import")
def import_file(file: Path, workspace: WorkspaceOpt = None,
                kind: Annotated[str, typer.Option(help="leads or activities")] = "leads",
                sheet: Annotated[str | None, typer.Option(help="XLSX sheet name")] = None,
                map_: Annotated[list[str] | None, typer.Option("--map", help="Header=field override, repeatable")] = None,
                ) -> None:
    """Import a CSV/XLSX file of leads or activities; reports every rejected row."""
    from leadrank.db import session_scope
    from leadrank.errors import LeadrankError
    from leadrank.ingest.service import save_upload, start_upload
    from leadrank.jobs.runner import get_runner

    _ready()
    if not file.exists():
        _fail(f"{file} does not exist")
    mapping = {}
    for item in map_ or []:
        header, _, field = item.partition("=")
        if not field:
            _fail(f"--map expects Header=field, got {item!r}")
        mapping[header] = field
    ws_id = _workspace_id(workspace)
    try:
        with file.open("rb") as fh:
            path = save_upload(fh, file.name)
        with session_scope() as session:
            job = start_upload(session, ws_id, path, filename=file.name, kind=kind, sheet=sheet,
                               mapping=mapping or None)
            job_id = job.id
    except LeadrankError as exc:
        _fail(exc.message)
    view = _follow_job(job_id, f"importing {file.name}")
    _print_upload_result(view)
    runner = get_runner()
    if hasattr(runner, "wait"):
        runner.wait()
    if view["status"] == "failed":
        raise typer.Exit(1)


def _print_upload_result(view: dict) -> None:
    from leadrank.db import session_scope
    from leadrank.jobs.repository import JobRepository

    if view["status"] == "failed":
        console.print(f"[red]import failed:[/red] {view['error']}")
        return
    r = view["result"]
    if r.get("kind") == "activities":
        console.print(f"[green]done[/green]: {r.get('activities_stored', 0):,} activities stored, "
                      f"{r.get('activities_already_stored', 0):,} already there, {r.get('rejected', 0):,} rejected")
    else:
        console.print(f"[green]done[/green]: {r.get('created', 0):,} new, {r.get('updated', 0):,} updated, "
                      f"{r.get('unchanged', 0):,} unchanged, {r.get('rejected', 0):,} rejected")
    if r.get("rejected"):
        table = Table("row", "field", "reason", title="rejected rows (first 20)")
        with session_scope() as session:
            for rej in JobRepository(session).rejects(uuid.UUID(view["job_id"]), limit=20):
                table.add_row(str(rej.row_number), rej.field or "-", rej.reason)
        console.print(table)
        console.print(f"all rejects: GET /api/v1/jobs/{view['job_id']}/rejects")


@app.command("export")
def export_cmd(output: Annotated[Path, typer.Option("--output", "-o", help=".csv or .xlsx")] = Path("leads.csv"),
               workspace: WorkspaceOpt = None,
               top: Annotated[str | None, typer.Option(help="N leads or N% of the ranked list")] = None,
               industry: Annotated[list[str] | None, typer.Option(help="Filter, repeatable")] = None,
               grade: Annotated[list[str] | None, typer.Option(help="Filter, repeatable")] = None) -> None:
    """Export the ranked list (optionally the top N or N%) to CSV or XLSX."""
    from leadrank.db import session_scope
    from leadrank.leads import export
    from leadrank.leads.filters import LeadFilters
    from leadrank.leads.repository import LeadRepository

    _ready()
    ws_id = _workspace_id(workspace)
    filters = LeadFilters(industry=industry or [], grade=grade or [])
    with session_scope() as session:
        total = LeadRepository(session).count(ws_id, filters)
        n = p = None
        if top:
            if top.endswith("%"):
                p = float(top[:-1])
            else:
                n = int(top)
        limit = export.resolve_limit(total, n, p)
        if output.suffix.lower() == ".xlsx":
            tmp = export.write_xlsx(session, ws_id, filters, limit=limit, directory=output.parent.resolve())
            tmp.replace(output)
        else:
            with output.open("w", newline="", encoding="utf-8") as fh:
                for block in export.iter_csv(session, ws_id, filters, limit=limit):
                    fh.write(block)
    console.print(f"wrote {min(limit or total, total):,} leads to {output}")


@app.command()
def demo(leads: Annotated[int, typer.Option(help="How many synthetic leads")] = 5000,
         name: Annotated[str, typer.Option(help="Workspace name")] = "Demo",
         seed: Annotated[int, typer.Option(help="Random seed")] = 7,
         reset: Annotated[bool, typer.Option(help="Rebuild the demo workspace if it exists")] = False) -> None:
    """Create a demo workspace with realistic synthetic leads, activities and a trained model."""
    from leadrank.demo.setup import setup_demo

    _ready()
    info = setup_demo(n_leads=leads, name=name, seed=seed, reset=reset, console=console)
    console.print(info["message"])


@app.command()
def train(workspace: WorkspaceOpt = None,
          include: Annotated[list[str] | None, typer.Option(help="Keep a column the leakage guard flags")] = None,
          ) -> None:
    """Train a new model version on the workspace's outcomes (activated if not worse)."""
    from leadrank.db import session_scope
    from leadrank.errors import LeadrankError
    from leadrank.jobs.service import run_job
    from leadrank.scoring.service import request_retrain

    _ready()
    ws_id = _workspace_id(workspace)
    try:
        with session_scope() as session:
            job = request_retrain(session, ws_id, include_columns=include)
            session.info.pop("leadrank_jobs_to_enqueue", None)
            job_id = job.id
    except LeadrankError as exc:
        _fail(exc.message)
    with console.status("training…"):
        status = run_job(job_id)
    with session_scope() as session:
        from leadrank.models import Job

        job = session.get(Job, job_id)
        if status != "done":
            _fail(job.error or status)
        result = dict(job.result)
    console.print(f"model v{result['version']} ({result['algorithm']}): ROC AUC {result['roc_auc']:.3f}, "
                  f"top 20% hold {100 * (result['capture_at_20'] or 0):.0f}% of conversions")
    console.print("activated; rescoring the workspace" if result["activated"] else f"[yellow]{result['note']}[/yellow]")
    if result.get("rescore_job_id"):
        _follow_job(uuid.UUID(result["rescore_job_id"]), "rescoring")


@app.command()
def evaluate(file: Path,
             target: Annotated[str, typer.Option(help="The column holding the outcome (1/0, yes/no, won/lost…)")],
             as_json: Annotated[bool, typer.Option("--json", help="Print the full report as JSON")] = False,
             drop: Annotated[list[str] | None, typer.Option(help="Leave a column out, repeatable")] = None,
             include: Annotated[list[str] | None, typer.Option(help="Keep a column the leakage guard flags")] = None,
             ) -> None:
    """Train and evaluate on a file without storing anything; prints the quality report."""
    import json

    from leadrank.errors import LeadrankError
    from leadrank.ingest.frames import read_leads_frame
    from leadrank.ml.evaluate import evaluate_file_frame

    try:
        frame, rejects, _ = read_leads_frame(file, target=target)
        if drop:
            frame = frame.drop(columns=[c for c in frame.columns
                                        if c in drop or c.removeprefix("custom.") in drop])
        report = evaluate_file_frame(frame, None, include_columns=tuple(include or ()))
    except LeadrankError as exc:
        _fail(exc.message)
    report["rows_rejected"] = len(rejects)
    if as_json:
        print(json.dumps(report, indent=2, default=str))
        return
    table = Table("model", "ROC AUC", "PR AUC", "Brier", "log loss", "capture@20%", title=f"{file.name} → {target}")
    rows = [("leadrank (" + str(report.get("algorithm")) + ")", report)]
    rows += list((report.get("alternatives") or {}).items())
    for name, m in rows:
        table.add_row(name, *(f"{m.get(k, float('nan')):.3f}" for k in ("roc_auc", "pr_auc", "brier", "log_loss",
                                                                        "capture_at_20")))
    console.print(table)
    for finding in report.get("leakage", []) or []:
        console.print(f"[yellow]left out[/yellow] {finding}")


@app.command()
def score(file: Path,
          output: Annotated[Path, typer.Option("--output", "-o", help="Ranked CSV to write")] = Path("ranked.csv"),
          workspace: WorkspaceOpt = None,
          top: Annotated[str | None, typer.Option(help="Keep the top N or N% (e.g. 20%)")] = None) -> None:
    """Score a file with a workspace's active model without storing it; writes a ranked CSV."""
    import csv
    import math

    from leadrank.db import session_scope
    from leadrank.errors import LeadrankError
    from leadrank.ingest.frames import read_leads_frame
    from leadrank.leads.export import neutralise
    from leadrank.scoring.service import active_version, load_model

    _ready()
    ws_id = _workspace_id(workspace)
    with session_scope() as session:
        version = active_version(session, ws_id)
        if version is None:
            _fail("this workspace has no trained model yet: run 'leadrank train' first")
        model = load_model(version)
    try:
        frame, rejects, _ = read_leads_frame(file)
    except LeadrankError as exc:
        _fail(exc.message)
    batch = model.explain_batch(frame, None, top=5)
    order = sorted(range(len(frame)), key=lambda i: -batch.score[i])
    if top:
        keep = math.ceil(len(order) * float(top[:-1]) / 100) if top.endswith("%") else int(top)
        order = order[:keep]
    reader_cols = [c for c in frame.columns if c not in ("lead_id", "external_id")]
    with output.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["rank", "row", "score", "probability", "grade", "top_reasons", "next_action", *reader_cols])
        for rank, i in enumerate(order, 1):
            reasons = [r for r in list(batch.reasons_up[i]) + list(batch.reasons_down[i]) if r]
            row = frame.iloc[i]
            writer.writerow([rank, str(row["lead_id"]).removeprefix("row-"), round(float(batch.score[i]), 2),
                             round(float(batch.probability[i]), 4), batch.grade[i], "; ".join(reasons[:5]),
                             batch.next_action[i] or "",
                             *[neutralise(None if _isna(row[c]) else row[c]) for c in reader_cols]])
    console.print(f"wrote {len(order):,} ranked leads to {output} ({len(rejects):,} rows rejected)")


def _isna(value: object) -> bool:
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def main() -> None:  # pragma: no cover
    app()
