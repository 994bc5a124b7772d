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
mv "$f" src/leadrank/migrations/versions/0001_initial_schema.py
rm -rf "$tmp"
echo "regenerated 0001_initial_schema.py"
