"""each workspace's number of leads, kept by PostgreSQL as leads come and go

The list's total (``count=true``, the web list's "N leads") counted a workspace's leads: at a
million leads 80–130 ms of server CPU, which the requests arriving meanwhile waited for. Here
triggers on ``leads`` append each statement's change (+ rows inserted, − rows deleted) per
workspace to ``lead_counts``, so the total is a sum of a few rows, exact and current in every
transaction. Appending, rather than updating one row per workspace, keeps concurrent upload
chunks from waiting on each other's commit; ``LeadRepository.compact_counts`` folds a
workspace's rows into one now and then. SQLite counts its leads as before: nothing to do there.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 23:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

STATEMENTS = (
    "CREATE TABLE lead_counts (workspace_id uuid NOT NULL, leads bigint NOT NULL)",
    "CREATE INDEX ix_lead_counts_ws ON lead_counts (workspace_id)",
    """CREATE FUNCTION leadrank_count_inserted_leads() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         INSERT INTO lead_counts (workspace_id, leads) SELECT workspace_id, count(*) FROM inserted GROUP BY 1;
         RETURN NULL;
       END $$""",
    # Leads deleted with their workspace (ON DELETE CASCADE) take the workspace's counts along.
    """CREATE FUNCTION leadrank_count_deleted_leads() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         INSERT INTO lead_counts (workspace_id, leads)
           SELECT d.workspace_id, -count(*) FROM deleted d
           WHERE EXISTS (SELECT 1 FROM workspaces w WHERE w.id = d.workspace_id) GROUP BY 1;
         DELETE FROM lead_counts c WHERE c.workspace_id IN (SELECT DISTINCT workspace_id FROM deleted)
           AND NOT EXISTS (SELECT 1 FROM workspaces w WHERE w.id = c.workspace_id);
         RETURN NULL;
       END $$""",
    """CREATE FUNCTION leadrank_count_truncated_leads() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         DELETE FROM lead_counts;
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER leads_counted_on_insert AFTER INSERT ON leads REFERENCING NEW TABLE AS inserted
       FOR EACH STATEMENT EXECUTE FUNCTION leadrank_count_inserted_leads()""",
    """CREATE TRIGGER leads_counted_on_delete AFTER DELETE ON leads REFERENCING OLD TABLE AS deleted
       FOR EACH STATEMENT EXECUTE FUNCTION leadrank_count_deleted_leads()""",
    """CREATE TRIGGER leads_counted_on_truncate AFTER TRUNCATE ON leads
       FOR EACH STATEMENT EXECUTE FUNCTION leadrank_count_truncated_leads()""",
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    # No lead may arrive between the count below and the triggers taking over.
    op.execute(sa.text("LOCK TABLE leads IN SHARE MODE"))
    for statement in STATEMENTS:
        op.execute(sa.text(statement))
    op.execute(sa.text("INSERT INTO lead_counts (workspace_id, leads) "
                       "SELECT workspace_id, count(*) FROM leads GROUP BY 1"))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for trigger in ("insert", "delete", "truncate"):
        op.execute(sa.text(f"DROP TRIGGER leads_counted_on_{trigger} ON leads"))
    for change in ("inserted", "deleted", "truncated"):
        op.execute(sa.text(f"DROP FUNCTION leadrank_count_{change}_leads()"))
    op.execute(sa.text("DROP TABLE lead_counts"))
