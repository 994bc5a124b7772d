"""Readiness, Prometheus metrics and structured logs, as an operator sees them."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import text

from tests.conftest import require_service, wait_for_jobs

CSV = b"Email,Company,Employees\na@one.com,One,10\nb@two.com,Two,many\nc@three.com,Three,30\n"


@pytest.fixture
def fresh_metrics(monkeypatch):  # noqa: ANN001, ANN201
    from leadrank.ops import metrics

    monkeypatch.setattr(metrics._collector, "ttl", 0.0)
    monkeypatch.setattr(metrics._collector, "_cache", None)


def _metric_lines(client) -> list[str]:  # noqa: ANN001
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return [line for line in r.text.splitlines() if line and not line.startswith("#")]


def test_ready_when_database_schema_and_runner_are_fine(client):
    r = client.get("/ready")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["ok"] and body["checks"]["migrations"]["ok"]
    assert body["checks"]["migrations"]["current"] == body["checks"]["migrations"]["head"]
    assert body["checks"]["queue"] == {"ok": True, "runner": "in-process", "required": True}
    assert client.get("/health").json()["status"] == "ok"  # liveness stays separate


def test_not_ready_when_the_schema_is_behind(client, env):
    from leadrank.db import get_engine

    with get_engine().begin() as conn:
        current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        conn.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    try:
        r = client.get("/ready")
        assert r.status_code == 503
        assert r.json()["checks"]["migrations"]["ok"] is False
        assert r.json()["checks"]["migrations"]["current"] == ["older"]
    finally:
        with get_engine().begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": current})


def test_not_ready_when_the_queue_is_unreachable(client, monkeypatch):
    from leadrank.config import get_settings

    monkeypatch.setenv("LEADRANK_QUEUE_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    get_settings.cache_clear()
    r = client.get("/ready")
    assert r.status_code == 503
    queue = r.json()["checks"]["queue"]
    assert queue["ok"] is False and "Connection" in queue["error"]


@pytest.mark.redis
def test_ready_reports_the_redis_queue(client, monkeypatch):
    from leadrank.config import get_settings
    from tests.jobs.cluster import REDIS_URL, redis_problem

    require_service("Redis", redis_problem())
    monkeypatch.setenv("LEADRANK_QUEUE_URL", REDIS_URL)
    monkeypatch.setenv("LEADRANK_QUEUE_NAME", "leadrank-test-ready")
    get_settings.cache_clear()
    r = client.get("/ready")
    assert r.status_code == 200, r.text
    queue = r.json()["checks"]["queue"]
    assert queue["runner"] == "redis" and queue["waiting_messages"] == 0
    assert isinstance(queue["live_worker_processes"], int)


def test_other_packages_add_readiness_checks(client, monkeypatch):
    from leadrank.ops import readiness

    monkeypatch.setattr(readiness, "CHECKS", dict(readiness.CHECKS))
    readiness.register_check("vector_index", lambda: {"ok": True, "backend": "usearch"}, required=False)
    body = client.get("/ready").json()
    assert body["checks"]["vector_index"] == {"ok": True, "backend": "usearch", "required": False}

    def broken() -> dict:
        raise RuntimeError("index file missing")

    readiness.register_check("vector_index", broken, required=False)
    r = client.get("/ready")
    assert r.status_code == 200 and "index file missing" in r.json()["checks"]["vector_index"]["error"]
    readiness.register_check("vector_index", broken, required=True)
    assert client.get("/ready").status_code == 503


def test_metrics_count_jobs_rows_and_request_latency(client, tenant, fresh_metrics):
    r = client.post("/api/v1/leads/upload", headers=tenant.headers, files={"file": ("l.csv", CSV, "text/csv")})
    assert r.status_code == 202
    wait_for_jobs()
    lines = _metric_lines(client)
    assert 'leadrank_jobs{kind="leads.upload",status="done"} 1.0' in lines
    assert 'leadrank_jobs{kind="leads.upload",status="failed"} 0.0' in lines
    assert 'leadrank_job_rows_last_hour{kind="leads.upload"} 3.0' in lines
    assert any(line.startswith('leadrank_job_rows_per_second{kind="leads.upload"}') for line in lines)
    assert "leadrank_metrics_database_up 1.0" in lines
    upload_count = [line for line in lines if line.startswith("leadrank_http_request_duration_seconds_count")
                    and 'route="/api/v1/leads/upload"' in line and 'status="202"' in line]
    assert upload_count and float(upload_count[0].rsplit(" ", 1)[1]) >= 1


def test_metrics_count_chunk_failures(env, tenant, client, fresh_metrics):
    from leadrank.db import session_scope
    from leadrank.jobs.service import create_job, run_job

    import tests.jobs.test_leases  # noqa: F401 - registers the "test.chunks" kind

    with session_scope() as session:
        job_id = create_job(session, tenant.workspace_id, "test.chunks",
                            {"chunks": 3, "_test": {"fail_chunks": [1]}}).id
        session.info.pop("leadrank_jobs_to_enqueue", None)
    run_job(job_id)
    lines = _metric_lines(client)
    assert 'leadrank_job_chunks{kind="test.chunks",status="failed"} 1.0' in lines
    assert 'leadrank_job_chunks_failed{kind="test.chunks"} 1.0' in lines
    assert 'leadrank_job_chunk_retries{kind="test.chunks"} 2.0' in lines
    assert any(line.startswith('leadrank_worker_chunk_failures_total{kind="test.chunks",poisoned="true"}')
               for line in lines)


def test_json_logs_carry_the_structured_fields(sqlite_env, capsys, monkeypatch):
    from leadrank.ops.logging import setup_logging

    root = logging.getLogger()
    monkeypatch.setattr(root, "level", root.level)
    try:
        setup_logging("json", "INFO")
        logging.getLogger("leadrank.jobs").info("chunk done", extra={"job_id": "j1", "seq": 3, "rows": 250})
        line = capsys.readouterr().err.strip().splitlines()[-1]
        entry = json.loads(line)
        assert entry["msg"] == "chunk done" and entry["level"] == "info" and entry["logger"] == "leadrank.jobs"
        assert entry["job_id"] == "j1" and entry["seq"] == 3 and entry["rows"] == 250 and entry["pid"]
        setup_logging("text", "INFO")  # idempotent: replaces, never duplicates, its handler
        logging.getLogger("leadrank.jobs").info("chunk done", extra={"rows": 5})
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].endswith("chunk done rows=5")
    finally:
        for handler in list(root.handlers):
            if handler.get_name() == "leadrank":
                root.removeHandler(handler)


def test_log_format_setting_is_checked(sqlite_env):
    from leadrank.ops.logging import setup_logging

    with pytest.raises(ValueError, match="text or json"):
        setup_logging("xml")


def test_worker_command_needs_a_queue_url(sqlite_env):
    from typer.testing import CliRunner

    from leadrank.cli import app

    result = CliRunner().invoke(app, ["worker", "--threads", "2"])
    assert result.exit_code == 1 and "LEADRANK_QUEUE_URL" in result.output
