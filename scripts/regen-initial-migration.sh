#!/usr/bin/env bash
# Development only, before the first release: rebuild migration 0001 from the ORM models.
# After a release, add new revisions with `python -c "from leadrank.migrate import revision; revision('msg')"`.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
rm -f src/leadrank/migrations/versions/0001_initial_schema.py
LEADRANK_DATA_DIR="$tmp" DATABASE_URL= .venv/bin/python -c "from leadrank.migrate import revision; revision('initial schema')"
f=$(ls src/leadrank/migrations/versions/*_initial_schema.py)
id=$(basename "$f" | cut -d_ -f1)
sed -i "s/^revision = '$id'/revision = '0001'/; s/Revision ID: $id/Revision ID: 0001/; s/^import sqlalchemy as sa$/import sqlalchemy as sa\nfrom sqlalchemy import Text/" "$f"
sed -i "/ForeignKeyConstraint(\['active_model_version_id'\]/d" "$f"
# Storage settings autogenerate cannot see (migrations/tuning.py).
sed -i "0,/^    # ### end Alembic commands ###$/s//    # ### end Alembic commands ###\n    tune_postgres(op.get_bind())/; 0,/^from alembic import op$/s//from alembic import op\n\nfrom leadrank.migrations.tuning import tune_postgres/" "$f"
mv "$f" src/leadrank/migrations/versions/0001_initial_schema.py
rm -rf "$tmp"
echo "regenerated 0001_initial_schema.py"
