"""Datasette's habit: a setting, command or endpoint a user can touch must be in the README."""

from __future__ import annotations

from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented():
    from leadrank.config import Settings

    missing = []
    for name, field in Settings.model_fields.items():
        names = [f"LEADRANK_{name.upper()}"]
        alias = field.validation_alias
        if alias is not None and hasattr(alias, "choices"):
            names += [str(c) for c in alias.choices]
        if not any(n in README for n in names):
            missing.append(names[0])
    assert not missing, f"settings missing from README: {missing}"


def _commands(app, prefix: str = "leadrank") -> list[str]:
    import typer.main

    group = typer.main.get_command(app)
    out = []

    def walk(cmd, path):  # noqa: ANN001
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                walk(sub, f"{path} {name}")
        else:
            out.append(path)

    walk(group, prefix)
    return out


def test_every_cli_command_is_documented():
    from leadrank.cli import app

    missing = [c for c in _commands(app) if c not in README]
    assert not missing, f"commands missing from README: {missing}"


@pytest.mark.usefixtures("sqlite_env")
def test_every_api_endpoint_is_documented():
    from leadrank.app import create_app

    app = create_app(run_migrations=False, resume_jobs=False)
    missing = []
    for route in app.routes:
        path = getattr(route, "path", "")
        if not path.startswith("/api/v1"):
            continue
        for method in sorted(getattr(route, "methods", set()) - {"HEAD", "OPTIONS"}):
            if f"{method} {path.removeprefix('/api/v1')}" not in README and f"{method} {path}" not in README:
                missing.append(f"{method} {path}")
    assert not missing, f"endpoints missing from README: {missing}"
