"""A serving app does at startup what its first requests would otherwise wait for."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient


def test_a_serving_app_builds_its_api_document_and_sets_startup_objects_aside(sqlite_env):
    from leadrank.app import create_app

    app = create_app(run_migrations=True, resume_jobs=False)  # as `leadrank serve` builds it
    assert app.openapi_schema is None
    frozen = gc.get_freeze_count()
    try:
        with TestClient(app) as client:
            # Built before the first request, and the document /openapi.json serves.
            assert app.openapi_schema is not None
            assert client.get("/openapi.json").json() == app.openapi_schema
            assert "/api/v1/leads/prioritized" in app.openapi_schema["paths"]
            # The modules and the app are out of the garbage collector's full passes.
            assert gc.get_freeze_count() > frozen + 10_000
    finally:
        gc.unfreeze()


def test_apps_built_for_tests_leave_the_collector_alone(sqlite_env):
    from leadrank.app import create_app

    frozen = gc.get_freeze_count()
    with TestClient(create_app(run_migrations=False, resume_jobs=False)):
        assert gc.get_freeze_count() == frozen
