"""explanations stored as JSON text, not PostgreSQL's json type

``lead_explanations.explanation`` was a ``json`` column on PostgreSQL: the server parses every
document it stores to validate it, 32 µs of CPU for a typical 4.6 KB explanation, three
quarters of what storing it costs (with LZ4 compression). leadrank writes these documents
itself (orjson) and reads them whole, so the column becomes ``text`` with the same content
(``models.base.JSONDocumentType``); the one query that looks inside casts it. SQLite stored
the documents as text already: nothing to do there.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from leadrank.migrations.tuning import tune_postgres

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute(sa.text("ALTER TABLE lead_explanations ALTER COLUMN explanation TYPE text USING explanation::text"))
    tune_postgres(bind)  # keep LZ4 compression on the rewritten column


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute(sa.text("ALTER TABLE lead_explanations ALTER COLUMN explanation TYPE json USING explanation::json"))
    tune_postgres(bind)
