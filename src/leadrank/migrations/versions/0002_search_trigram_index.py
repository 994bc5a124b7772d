"""trigram index for the list's search (PostgreSQL with pg_trgm)

The list's ``q=`` looks for a term inside name, email and company. Without an index every
lead of the workspace is read for a term that matches few of them (a rare term at 100,000
leads: about 5 s a request under 20 clients). This GIN trigram index covers the expression
``LeadRepository`` filters on first (since migration 0004, the column ``leads.search_text``), so the planner
answers such a term from the index.

``pg_trgm`` ships with PostgreSQL (contrib) and is a trusted extension from PostgreSQL 13: a
database owner may create it. Where it is not available, or may not be created, the
migration still succeeds without the index, and search works as before (a scan). SQLite has
no such index: nothing to do there.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 19:45:00
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

log = logging.getLogger("leadrank.migrations")

INDEX = "ix_leads_search_trgm"
# The expression of the search text; migration 0004 moves it into the column leads.search_text.
EXPRESSION = ("lower(coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' ' || "
              "coalesce(email, '') || ' ' || coalesce(company_name, ''))")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    if not _has_trgm(bind):
        log.warning("pg_trgm is not available on this PostgreSQL server: the list's search works without "
                    "its index (a scan of the workspace's leads)")
        return
    op.execute(sa.text(f"CREATE INDEX IF NOT EXISTS {INDEX} ON leads USING gin (({EXPRESSION}) gin_trgm_ops)"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.text(f"DROP INDEX IF EXISTS {INDEX}"))


def _has_trgm(bind: sa.engine.Connection) -> bool:
    """Create pg_trgm if it is missing and may be created here; whether it is installed."""
    installed = "SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'"
    if bind.execute(sa.text(installed)).first():
        return True
    if not bind.execute(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")).first():
        return False
    try:
        with bind.begin_nested():  # a refusal (no privilege) rolls back to here, not the migration
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as exc:
        log.warning("could not create the pg_trgm extension (%s)", str(exc.orig).strip().splitlines()[0])
        return False
    return True
