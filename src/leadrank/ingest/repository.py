"""Set-based writes of an activity upload's chunk: store the new activities, move their
leads' last activity date forward. Neither reads the activities already stored first: the
unique (workspace, dedupe key) index decides what is new, whatever the planner knows about
the table (a first upload into an empty workspace has no statistics, and its per-chunk
lookups of stored keys grew with every chunk: 180,000 activities took minutes)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from leadrank.bulk import bulk_insert_columns, uuid_array
from leadrank.leads.repository import LeadRepository, leads_by_key
from leadrank.models import Activity

ACTIVITY_COLUMNS = ("workspace_id", "lead_id", "activity_type", "activity_date", "description", "source",
                    "dedupe_key", "created_at")
_STAGE = "_upload_activities"


def store_activities(session: Session, rows: Sequence[dict]) -> int:
    """Insert the activities whose dedupe key is not stored yet (of rows sharing a key, the
    first). Staged in a temporary table by the bulk path, then moved over in one statement
    that lets the unique index skip what is stored. Returns how many were inserted."""
    if not rows:
        return 0
    postgres = session.get_bind().dialect.name == "postgresql"
    session.execute(text(f'CREATE TEMP TABLE "{_STAGE}" (LIKE activities) ON COMMIT DROP' if postgres else
                         f'CREATE TEMP TABLE "{_STAGE}" AS SELECT * FROM activities WHERE 0'))
    # New ids are time-ordered (bulk.ordered_id_texts): appended to the primary key, and
    # far cheaper to make than one uuid4 each.
    bulk_insert_columns(session, Activity.__table__, {c: [r.get(c) for r in rows] for c in ACTIVITY_COLUMNS},
                        new_ids="id", into=_STAGE)
    names = ", ".join(f'"{c}"' for c in ("id", *ACTIVITY_COLUMNS))
    # "WHERE true": SQLite reads an ON CONFLICT right after a SELECT's FROM as a join clause.
    stored = session.execute(text(f'INSERT INTO activities ({names}) SELECT {names} FROM "{_STAGE}" WHERE true '
                                  "ON CONFLICT (workspace_id, dedupe_key) DO NOTHING")).rowcount
    session.execute(text(f'DROP TABLE "{_STAGE}"'))
    return stored


def advance_last_activity(session: Session, workspace_id: uuid.UUID, latest: dict[uuid.UUID, datetime]) -> None:
    """Move each lead's last_activity_date forward to ``latest[lead]`` (never back): one
    statement on PostgreSQL, the lead repository's executemany on SQLite."""
    if not latest:
        return
    if session.get_bind().dialect.name == "postgresql":
        with session.connection().connection.driver_connection.cursor() as cur:
            cur.execute(
                "UPDATE leads AS l SET last_activity_date = v.at "
                "FROM unnest(%s::uuid[], %s::timestamptz[]) AS v(id, at) "
                "WHERE l.id = v.id AND l.workspace_id = %s "
                "AND (l.last_activity_date IS NULL OR l.last_activity_date < v.at)",
                (uuid_array(latest), "{" + ",".join(f'"{at.isoformat()}"' for at in latest.values()) + "}",
                 workspace_id))
        return
    LeadRepository(session).bump_last_activity(workspace_id, latest)  # one executemany


def lead_ids_by(session: Session, workspace_id: uuid.UUID, column: str, values: Iterable[str | None]
                ) -> dict[str, uuid.UUID]:
    """``value -> lead id`` for the workspace's leads whose ``column`` (email, external id)
    is one of ``values`` (see :func:`leadrank.leads.repository.leads_by_key`)."""
    wanted = list({v for v in values if v})
    if not wanted:
        return {}
    return {str(value): lead_id for value, lead_id in leads_by_key(session, workspace_id, column, wanted, ("id",))}
