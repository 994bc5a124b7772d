"""``leadrank demo``: a workspace of generated leads and activities, a demo login and API
key, and a trained, active model — all through the same services a user's upload uses."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from leadrank.config import get_settings
from leadrank.db import session_scope

DEMO_EMAIL = "demo@leadrank.local"
DEMO_PASSWORD = "demo-password"
DEMO_SLUG = "demo"


def _key_file() -> Path:
    return get_settings().data_dir / "demo-api-key.txt"


def setup_demo(*, n_leads: int = 5000, name: str = "Demo", seed: int = 7, reset: bool = False,
               console: Console | None = None) -> dict:
    from leadrank.auth.apikeys import create_api_key
    from leadrank.auth.users import add_member, create_user, get_user_by_email
    from leadrank.models import Workspace
    from leadrank.workspaces.repository import WorkspaceRepository
    from leadrank.workspaces.service import create_workspace

    console = console or Console()
    with session_scope() as session:
        existing = WorkspaceRepository(session).by_slug(DEMO_SLUG)
        if existing is not None and reset:
            session.delete(existing)
            session.flush()
            existing = None
        if existing is not None and _key_file().exists():
            return {"workspace_id": existing.id, "message": _message(_key_file().read_text().strip())}
        ws: Workspace = existing or create_workspace(session, name, slug=DEMO_SLUG)
        user = get_user_by_email(session, DEMO_EMAIL) or create_user(session, DEMO_EMAIL, DEMO_PASSWORD,
                                                                     name="Demo Manager")
        add_member(session, user.id, ws.id, role="owner")
        _, api_key = create_api_key(session, ws.id, name="demo")
        workspace_id = ws.id
    _key_file().write_text(api_key + "\n")
    _load_data(workspace_id, n_leads, seed, console)
    _train(workspace_id, console)
    return {"workspace_id": workspace_id, "message": _message(api_key)}


def _load_data(workspace_id, n_leads: int, seed: int, console: Console) -> None:  # noqa: ANN001
    from leadrank.demo.generator import generate_activities, generate_leads
    from leadrank.ingest.service import start_upload, upload_dir
    from leadrank.jobs.service import run_job

    console.print(f"generating {n_leads:,} demo leads and their activities…")
    # A quarter of the leads are still open: those are the ones a sales team works on.
    leads = generate_leads(n_leads, seed=seed, with_outcomes=0.75)
    activities = generate_activities(leads, seed=seed)
    folder = upload_dir("demo")
    leads_path = folder / "demo-leads.csv"
    leads.drop(columns=[c for c in leads.columns if c.startswith("_")]).to_csv(leads_path, index=False)
    acts_path = folder / "demo-activities.csv"
    activities.rename(columns={"external_id": "lead_external_id", "email": "lead_email"}).to_csv(
        acts_path, index=False)
    for path, kind in ((leads_path, "leads"), (acts_path, "activities")):
        with session_scope() as session:
            job = start_upload(session, workspace_id, path, filename=path.name, kind=kind)
            session.info.pop("leadrank_jobs_to_enqueue", None)  # run it here, synchronously
            job_id = job.id
        status = run_job(job_id)
        console.print(f"  {kind}: {status}")


def _train(workspace_id, console: Console) -> None:  # noqa: ANN001
    from leadrank.scoring.service import train_and_activate

    console.print("training the first model…")
    summary = train_and_activate(workspace_id)
    console.print(f"  {summary}")


def _message(api_key: str) -> str:
    settings = get_settings()
    base = f"http://{settings.host}:{settings.port}"
    return (
        "\n[bold]Demo workspace ready.[/bold]\n"
        f"  Web app:  {base}  — sign in as {DEMO_EMAIL} / {DEMO_PASSWORD}\n"
        f"  API key:  {api_key}   (also in {_key_file()})\n"
        f"  Try:      curl -H 'Authorization: Bearer {api_key}' "
        f"'{base}/api/v1/leads/prioritized?limit=5'\n"
    )
