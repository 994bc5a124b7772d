"""the list's search text as a stored column, carried by the score index (PostgreSQL)

A search for a common term (``q=garcia``: one lead in a hundred) walks the list in score
order until a page of matches is found: about 5,000 rows at a million leads. Each row read
the lead from the table and lowered four columns to test the term, 3 µs a row: 14 ms of
server CPU a request, and twenty clients on two cores queued behind it (p95 0.6–0.9 s).

``leads.search_text`` is that lowered text, computed by PostgreSQL when a lead is written
(``GENERATED ALWAYS … STORED``: nothing in the application writes it). The score index
carries it (``INCLUDE``), so the walk reads the index alone, and the trigram index of
migration 0002 is rebuilt on the column (same text, so the same matches).

Adding the column rewrites the leads table and its indexes once (a million leads: under 90 s
on 2 cores), during which the table is locked; ``leadrank.migrate`` then vacuums it, so that the
score index can be read without the table. SQLite searches the columns themselves: nothing to
do there.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 22:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from leadrank.migrate import VACUUM_LEADS_AFTER

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# The search text, as migration 0002 indexed it (a migration keeps its own copy: 0002's may not change).
EXPRESSION = ("lower(coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' ' || "
              "coalesce(email, '') || ' ' || coalesce(company_name, ''))")
TRIGRAM_INDEX = "ix_leads_search_trgm"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    had_trigram = _has_index(bind, TRIGRAM_INDEX)
    op.execute(sa.text(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}"))  # on the expression: rebuilt below
    op.execute(sa.text(f"ALTER TABLE leads ADD COLUMN search_text text GENERATED ALWAYS AS ({EXPRESSION}) STORED"))
    op.execute(sa.text("DROP INDEX ix_leads_ws_sort"))
    op.execute(sa.text("CREATE INDEX ix_leads_ws_sort ON leads (workspace_id, sort_score, id) INCLUDE (search_text)"))
    if had_trigram:
        op.execute(sa.text(f"CREATE INDEX {TRIGRAM_INDEX} ON leads USING gin (search_text gin_trgm_ops)"))
    op.get_context().config.attributes[VACUUM_LEADS_AFTER] = True  # leadrank.migrate vacuums after the commit


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    had_trigram = _has_index(bind, TRIGRAM_INDEX)
    op.execute(sa.text("DROP INDEX ix_leads_ws_sort"))
    op.execute(sa.text("ALTER TABLE leads DROP COLUMN search_text"))  # drops the trigram index with it
    op.execute(sa.text("CREATE INDEX ix_leads_ws_sort ON leads (workspace_id, sort_score, id)"))
    if had_trigram:
        op.execute(sa.text(f"CREATE INDEX {TRIGRAM_INDEX} ON leads USING gin (({EXPRESSION}) gin_trgm_ops)"))


def _has_index(bind: sa.engine.Connection, name: str) -> bool:
    return bind.execute(sa.text("SELECT 1 FROM pg_indexes WHERE indexname = :name"), {"name": name}).first() is not None
