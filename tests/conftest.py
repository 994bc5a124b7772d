"""Shared fixtures: a real database per test (SQLite file, or a PostgreSQL database), the
app with its in-process job runner, and a workspace with an API key.

PostgreSQL tests use ``LEADRANK_TEST_PG_URL`` (default: the local server at 127.0.0.1:5432).
Outside CI they are skipped when no server answers; in CI (``CI=true``) they fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

PG_ADMIN_URL = os.environ.get("LEADRANK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _pg_available() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001
        return str(exc).splitlines()[0]


def require_service(name: str, problem: str | None) -> None:
    if problem is None:
        return
    if IN_CI:
        pytest.fail(f"{name} is required in CI but is not reachable: {problem}")
    pytest.skip(f"{name} not reachable: {problem}")


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """One scratch PostgreSQL database for the session, dropped at the end."""
    require_service("PostgreSQL", _pg_available())
    name = f"leadrank_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    yield url
    from leadrank.db import reset_caches

    reset_caches()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@dataclass
class Env:
    kind: str
    data_dir: Path
    url: str


def _configure(monkeypatch: pytest.MonkeyPatch, data_dir: Path, url: str | None) -> None:
    from leadrank.config import get_settings
    from leadrank.db import reset_caches
    from leadrank.jobs.runner import InProcessRunner, set_runner

    monkeypatch.setenv("LEADRANK_DATA_DIR", str(data_dir))
    monkeypatch.setenv("LEADRANK_ENV", "test")
    monkeypatch.delenv("LEADRANK_QUEUE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    if url:
        monkeypatch.setenv("DATABASE_URL", url)
    else:
        monkeypatch.delenv("DATABASE_URL", raising=False)
    get_settings.cache_clear()
    reset_caches()
    set_runner(InProcessRunner(workers=1))


def _truncate_all(url: str) -> None:
    from leadrank.models import Base

    engine = create_engine(url)
    with engine.begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables
                          if conn.dialect.has_table(conn, t.name))
        if names:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


def _settle_jobs() -> None:
    """Let the jobs a test left on the in-process runner end before the next test: a job that
    ends queues its follow-up (scores → reasons → embeddings), which would otherwise run on a
    fresh runner after this one is shut down and write beside the next test's TRUNCATE of the
    shared PostgreSQL database."""
    from leadrank.jobs.runner import _runner

    wait = getattr(_runner, "wait", None)
    if wait is not None:
        try:
            wait()
        except Exception:  # noqa: BLE001 - a job that failed is the test's business, not teardown's
            pass


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def env(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """A migrated, empty database of each kind, with the in-process job runner."""
    url = None
    if request.param == "postgres":
        url = request.getfixturevalue("pg_database")
    _configure(monkeypatch, tmp_path / "data", url)
    from leadrank.migrate import upgrade

    upgrade()
    if url:
        _truncate_all(url.replace("postgresql://", "postgresql+psycopg://"))
    from leadrank.config import get_settings

    yield Env(kind=request.param, data_dir=tmp_path / "data", url=get_settings().sqlalchemy_url)
    _settle_jobs()
    from leadrank.db import reset_caches
    from leadrank.jobs.runner import set_runner

    set_runner(None)
    reset_caches()


@pytest.fixture
def sqlite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """SQLite only, for tests whose subject does not depend on the database."""
    _configure(monkeypatch, tmp_path / "data", None)
    from leadrank.migrate import upgrade

    upgrade()
    from leadrank.config import get_settings

    yield Env(kind="sqlite", data_dir=tmp_path / "data", url=get_settings().sqlalchemy_url)
    _settle_jobs()
    from leadrank.db import reset_caches
    from leadrank.jobs.runner import set_runner

    set_runner(None)
    reset_caches()


@dataclass
class Tenant:
    workspace_id: uuid.UUID
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


def make_tenant(name: str) -> Tenant:
    from leadrank.auth.apikeys import create_api_key
    from leadrank.db import session_scope
    from leadrank.workspaces.service import create_workspace

    with session_scope() as session:
        ws = create_workspace(session, name)
        _, key = create_api_key(session, ws.id, name="test")
        return Tenant(workspace_id=ws.id, api_key=key)


@pytest.fixture
def tenant(env: Env) -> Tenant:
    return make_tenant(f"Acme {uuid.uuid4().hex[:6]}")


@pytest.fixture
def client(env: Env):  # noqa: ANN201
    from fastapi.testclient import TestClient

    from leadrank.app import create_app

    with TestClient(create_app(run_migrations=False, resume_jobs=False)) as c:
        yield c


class HoldRunner:
    """A job runner that runs nothing: submitted jobs are recorded for the test to run (or not)."""

    def __init__(self) -> None:
        self.submitted: list[uuid.UUID] = []

    def submit(self, job_id: uuid.UUID) -> None:
        self.submitted.append(job_id)

    def shutdown(self) -> None:
        pass


def wait_for_jobs() -> None:
    from leadrank.jobs.runner import get_runner

    get_runner().wait()
