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
                view = job_view(session.get(Job, job_id))
            p = view["progress"]
            info = f"{p.get('rows_read', p.get('processed', 0)):,} rows"
            progress.update(task, completed=view["percent"] or 0, info=info)
            if view["status"] in ("done", "failed"):
                progress.update(task, completed=100 if view["status"] == "done" else view["percent"] or 0)
                return view
            time.sleep(0.2)


@app.command()
def serve(host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="Port")] = 8000,
          workers: Annotated[int, typer.Option(help="Web worker processes")] = 1,
          reload: Annotated[bool, typer.Option(help="Reload on code changes (development)")] = False) -> None:
    """Serve the web app and the REST API."""
    import uvicorn

    _ready()
    console.print(f"leadrank on [bold]http://{host}:{port}[/bold]  (API docs: http://{host}:{port}/docs)")
    uvicorn.run("leadrank.main:app", host=host, port=port, workers=workers, reload=reload,
                log_level="info")


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


def main() -> None:  # pragma: no cover
    app()
