"""Schema management: Alembic migrations, run on SQLite and PostgreSQL alike."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from leadrank.db import get_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


# Every process that starts (the app, each worker) brings the schema up to date. On PostgreSQL
# they take turns under this advisory lock: two workers started together both ran the same
# migration, and the second failed ("expected to match one row ... in alembic_version").
MIGRATION_LOCK = 7_420_131_185


# A migration that rewrites the leads table sets this attribute: the rewritten pages are not
# marked all-visible, so index-only reads (the search walk, counts) would visit the table
# until a vacuum, which cannot run inside the migration's transaction.
VACUUM_LEADS_AFTER = "vacuum_leads_after"


def upgrade(revision: str = "head") -> None:
    engine = get_engine()
    cfg = alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)
    if cfg.attributes.get(VACUUM_LEADS_AFTER):
        from leadrank.leads.repository import refresh_lead_statistics

        refresh_lead_statistics(engine)


def head_revision() -> str:
    """The newest migration's revision id."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def revision(message: str) -> None:
    """Developer helper: autogenerate a new revision from the ORM models."""
    with get_engine().begin() as connection:
        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        command.revision(cfg, message=message, autogenerate=True)
