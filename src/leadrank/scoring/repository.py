"""Queries the scoring engine needs: leads and activities as frames, bulk score writes,
model versions."""

from __future__ import annotations

import io
import uuid
from collections.abc import Sequence
from datetime import datetime

import orjson
import pandas as pd
from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from leadrank.bulk import bulk_insert, bulk_insert_columns, bulk_update, uuid_array
from leadrank.db import JSONTexts
from leadrank.leads.insights import list_columns
from leadrank.models import LEAD_FIELDS, Activity, Lead, LeadExplanation, ModelVersion, ScoreHistory, Workspace

FRAME_COLUMNS = list(LEAD_FIELDS)
NON_TEXT = {"company_size", "annual_revenue", "outcome_date", "last_activity_date", "created_at"}
TEXT_COLUMNS = [c for c in FRAME_COLUMNS if c not in NON_TEXT]
SCORE_COLUMNS = ["score", "sort_score", "conversion_probability", "grade", "model_version_id", "score_kind",
                 "scored_at"]
KEY_BATCH = 2000


def leads_frame(rows: Sequence, columns: list[str]) -> pd.DataFrame:
    """Leads as the ml/ data contract wants them: ``lead_id`` as text, custom attributes
    flattened to ``custom.<name>`` columns."""
    frame = pd.DataFrame.from_records(rows, columns=columns)
    if frame.empty:
        return pd.DataFrame(columns=["lead_id", *FRAME_COLUMNS])
    frame["lead_id"] = frame["lead_id"].astype(str)
    for col in TEXT_COLUMNS:
        # A small batch can have a column with no value at all; keep it text, not float NaN.
        if col in frame:
            frame[col] = frame[col].astype("string")
    customs = frame.pop("custom")
    if customs.map(bool).any():
        flat = pd.DataFrame.from_records([c or {} for c in customs], index=frame.index)
        flat.columns = [f"custom.{c}" for c in flat.columns]
        frame = pd.concat([frame, flat], axis=1)
    return frame


def canonical_uuid_text(ids: pd.Series) -> pd.Series:
    """UUIDs as text in the canonical dashed form (SQLite stores 32 hex digits)."""
    ids = ids.astype(str).str.lower()
    bare = ids.str.len() == 32
    if bare.any():
        b = ids[bare]
        ids = ids.copy()
        ids[bare] = b.str[0:8] + "-" + b.str[8:12] + "-" + b.str[12:16] + "-" + b.str[16:20] + "-" + b.str[20:32]
    return ids


class ScoringRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- frames ---------------------------------------------------------------------------
    def lead_ids(self, workspace_id: uuid.UUID, *, after: uuid.UUID | None = None, limit: int | None = None
                 ) -> list[uuid.UUID]:
        stmt = select(Lead.id).where(Lead.workspace_id == workspace_id)
        if after is not None:
            stmt = stmt.where(Lead.id > after)
        stmt = stmt.order_by(Lead.id)
        if limit:
            stmt = stmt.limit(limit)
        return list(self.session.scalars(stmt))

    def lead_ids_in_range(self, workspace_id: uuid.UUID, *, after: uuid.UUID | None, upto: uuid.UUID
                          ) -> list[uuid.UUID]:
        stmt = select(Lead.id).where(Lead.workspace_id == workspace_id, Lead.id <= upto)
        if after is not None:
            stmt = stmt.where(Lead.id > after)
        return list(self.session.scalars(stmt.order_by(Lead.id)))

    def load_leads(self, workspace_id: uuid.UUID, *, lead_ids: Sequence[uuid.UUID | str] | None = None,
                   labelled_only: bool = False, scored_by: tuple[uuid.UUID, datetime] | None = None,
                   id_range: dict[str, uuid.UUID | None] | None = None) -> pd.DataFrame:
        """Leads as a frame, ordered by id. ``scored_by`` (version id, scoring time) keeps only
        the leads whose current score that version gave at that time (the reasons pass);
        ``id_range`` (``after``, ``upto``) keeps ids in ``(after, upto]``."""
        if self._postgres():
            return self._copy_leads(workspace_id, lead_ids, labelled_only, scored_by, id_range)
        cols = [Lead.id.label("lead_id"), *[getattr(Lead, c) for c in FRAME_COLUMNS], Lead.custom]
        names = ["lead_id", *FRAME_COLUMNS, "custom"]
        base = select(*cols).where(Lead.workspace_id == workspace_id)
        if labelled_only:
            base = base.where(Lead.outcome.in_(("converted", "lost")))
        if scored_by is not None:
            base = base.where(Lead.model_version_id == scored_by[0], Lead.scored_at == scored_by[1])
        if id_range is not None:
            base = base.where(Lead.id <= id_range["upto"])
            if id_range.get("after") is not None:
                base = base.where(Lead.id > id_range["after"])
        if lead_ids is not None:
            lead_ids = [i if isinstance(i, uuid.UUID) else uuid.UUID(i) for i in lead_ids]
        if lead_ids is None:
            rows = self.session.execute(base).all()
        else:
            rows = []
            for start in range(0, len(lead_ids), KEY_BATCH):
                rows.extend(self.session.execute(base.where(Lead.id.in_(lead_ids[start:start + KEY_BATCH]))).all())
        return leads_frame(rows, names)

    def load_activities(self, workspace_id: uuid.UUID, *, lead_ids: Sequence[uuid.UUID | str] | None = None
                        ) -> pd.DataFrame:
        """lead_id, activity_type, activity_date (UTC). Ids and dates come back as text and
        are converted column-wise: per-row type conversion was the cost at scale."""
        if self._postgres():
            where, params = "workspace_id = %s", [workspace_id]
            if lead_ids is not None:
                where, params = where + " AND lead_id = ANY(%s::uuid[])", [workspace_id, uuid_array(lead_ids)]
            frame = self._copy_frame(
                f"SELECT lead_id::text, activity_type, activity_date FROM activities WHERE {where}", params,
                ["lead_id", "activity_type", "activity_date"], text=["lead_id", "activity_type"])
            frame["activity_date"] = pd.to_datetime(frame["activity_date"], utc=True, format="ISO8601")
            return frame
        cols = [cast(Activity.lead_id, String), Activity.activity_type, cast(Activity.activity_date, String)]
        names = ["lead_id", "activity_type", "activity_date"]
        base = select(*cols).where(Activity.workspace_id == workspace_id)
        if lead_ids is None:
            rows = self.session.execute(base).all()
        else:
            lead_ids = [i if isinstance(i, uuid.UUID) else uuid.UUID(i) for i in lead_ids]
            rows = []
            for start in range(0, len(lead_ids), KEY_BATCH):
                rows.extend(self.session.execute(
                    base.where(Activity.lead_id.in_(lead_ids[start:start + KEY_BATCH]))).all())
        frame = pd.DataFrame.from_records(rows, columns=names)
        if frame.empty:
            frame["activity_date"] = pd.to_datetime(frame["activity_date"], utc=True)
            return frame
        frame["lead_id"] = canonical_uuid_text(frame["lead_id"])
        frame["activity_date"] = pd.to_datetime(frame["activity_date"], utc=True, format="ISO8601")
        return frame

    # PostgreSQL: frames straight from ``COPY (SELECT …) TO STDOUT`` parsed by pandas' C reader
    # (row-by-row fetching through the ORM was most of a scoring chunk's time).
    def _postgres(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    def _copy_frame(self, query: str, params: list, names: list[str], *, text: Sequence[str] = (),
                    numeric: Sequence[str] = ()) -> pd.DataFrame:
        raw = self.session.connection().connection.driver_connection
        buf = io.BytesIO()
        with raw.cursor() as cur, cur.copy(f"COPY ({query}) TO STDOUT (FORMAT csv, NULL '\\N')", params) as copy:
            for data in copy:
                buf.write(data)
        if buf.tell() == 0:
            return pd.DataFrame({n: pd.Series([], dtype="string" if n in text else object) for n in names})
        buf.seek(0)
        # NULL is \N; an empty string stays one, and "NA" or "null" typed into a field stays text.
        frame = pd.read_csv(buf, header=None, names=names, dtype={n: "string" for n in text},
                            keep_default_na=False, na_values={n: ["\\N"] for n in names})
        for n in numeric:
            frame[n] = pd.to_numeric(frame[n], errors="coerce")
        return frame

    def _copy_leads(self, workspace_id: uuid.UUID, lead_ids: Sequence[uuid.UUID | str] | None, labelled_only: bool,
                    scored_by: tuple[uuid.UUID, datetime] | None = None,
                    id_range: dict[str, uuid.UUID | None] | None = None) -> pd.DataFrame:
        names = ["lead_id", *FRAME_COLUMNS, "custom"]
        where, params = ["workspace_id = %s"], [workspace_id]
        if labelled_only:
            where.append("outcome IN ('converted', 'lost')")
        if scored_by is not None:
            where.append("model_version_id = %s AND scored_at = %s")
            params.extend(scored_by)
        if lead_ids is not None:
            where.append("id = ANY(%s::uuid[])")
            params.append(uuid_array(lead_ids))
        if id_range is not None:
            where.append("id <= %s")
            params.append(id_range["upto"])
            if id_range.get("after") is not None:
                where.append("id > %s")
                params.append(id_range["after"])
        select_list = ", ".join(["id::text", *[f'"{c}"' for c in FRAME_COLUMNS], "custom::text"])
        frame = self._copy_frame(f"SELECT {select_list} FROM leads WHERE {' AND '.join(where)} ORDER BY id",
                                 params, names, text=["lead_id", *TEXT_COLUMNS, "custom"],
                                 numeric=["company_size", "annual_revenue"])
        if frame.empty:
            return pd.DataFrame(columns=["lead_id", *FRAME_COLUMNS])
        for col in ("outcome_date", "last_activity_date", "created_at"):
            frame[col] = pd.to_datetime(frame[col], utc=True, format="ISO8601")
        customs = frame.pop("custom")
        filled = customs.notna() & (customs != "{}")
        if filled.any():
            parsed = [orjson.loads(c) if f else {} for c, f in zip(customs.tolist(), filled.tolist(), strict=True)]
            flat = pd.DataFrame.from_records(parsed, index=frame.index)
            flat.columns = [f"custom.{c}" for c in flat.columns]
            frame = pd.concat([frame, flat], axis=1)
        return frame

    def outcome_counts(self, workspace_id: uuid.UUID) -> dict[str, int]:
        rows = self.session.execute(
            select(Lead.outcome, func.count()).where(Lead.workspace_id == workspace_id).group_by(Lead.outcome)
        ).all()
        return {outcome: n for outcome, n in rows}

    # --- score writes ---------------------------------------------------------------------
    def write_scores(self, workspace_id: uuid.UUID, rows: list[dict]) -> None:
        """rows: id, score, conversion_probability, grade, explanation (None: its reasons
        follow), model_version_id, score_kind, scored_at. Updates the lead, stores the
        explanation and appends to the score history."""
        if not rows:
            return
        bulk_update(self.session, Lead.__table__, [{**r, "sort_score": r["score"]} for r in rows], SCORE_COLUMNS)
        explained = [r for r in rows if r["explanation"] is not None]
        if explained:
            store_explanations(self.session, [r["id"] for r in explained], [r["scored_at"] for r in explained],
                               [r["explanation"] for r in explained])
        bulk_insert(self.session, ScoreHistory.__table__, [
            {"workspace_id": workspace_id, "lead_id": r["id"], "model_version_id": r["model_version_id"],
             "score_kind": r["score_kind"], "probability": r["conversion_probability"], "score": r["score"],
             "grade": r["grade"], "scored_at": r["scored_at"]} for r in rows
        ])

    def record_new_scores(self, workspace_id: uuid.UUID, lead_ids: Sequence[str], columns: dict[str, list],
                          constants: dict[str, object]) -> None:
        """Score history rows for leads inserted already scored (ids as 32 hex digits)."""
        bulk_insert_columns(self.session, ScoreHistory.__table__, {
            "lead_id": [uuid.UUID(i) for i in lead_ids], "probability": columns["conversion_probability"],
            "score": columns["score"], "grade": columns["grade"],
        }, {"workspace_id": workspace_id, "model_version_id": constants["model_version_id"],
            "score_kind": constants["score_kind"], "scored_at": constants["scored_at"]})

    def write_explanations(self, lead_ids: Sequence[uuid.UUID], explanations: Sequence[dict] | JSONTexts, *,
                           scored_at: datetime, columns: tuple[Sequence, Sequence] | None = None) -> None:
        """The explanations of the scoring at ``scored_at`` (pass only leads that still hold
        it: see ``load_leads(scored_by=…)``), as dicts or as a column of JSON texts; ``columns`` are their (top reasons, insights) when
        already built."""
        store_explanations(self.session, lead_ids, scored_at, explanations, columns)

    # --- model versions -------------------------------------------------------------------
    def versions(self, workspace_id: uuid.UUID) -> list[ModelVersion]:
        return list(self.session.scalars(
            select(ModelVersion).where(ModelVersion.workspace_id == workspace_id)
            .order_by(ModelVersion.version.desc())))

    def version(self, workspace_id: uuid.UUID, version_id: uuid.UUID) -> ModelVersion | None:
        return self.session.scalars(select(ModelVersion).where(
            ModelVersion.workspace_id == workspace_id, ModelVersion.id == version_id)).first()

    def next_version_number(self, workspace_id: uuid.UUID) -> int:
        current = self.session.scalar(
            select(func.max(ModelVersion.version)).where(ModelVersion.workspace_id == workspace_id))
        return (current or 0) + 1

    def workspace(self, workspace_id: uuid.UUID) -> Workspace:
        ws = self.session.get(Workspace, workspace_id)
        if ws is None:
            raise LookupError(f"workspace {workspace_id} is gone")
        return ws


def store_explanations(session: Session, lead_ids: Sequence[uuid.UUID], scored_at: datetime | Sequence[datetime],
                       explanations: Sequence[dict], columns: tuple[Sequence, Sequence] | None = None) -> None:
    """Replace these leads' explanation rows (one scoring time for all, or one each). The
    list columns are derived here unless given as (top reasons, insights JSON texts).

    Delete, then insert (``COPY`` on PostgreSQL): rows are only ever replaced whole, and a
    narrow insert is far cheaper than an upsert's update of the old row."""
    if not lead_ids:
        return
    if columns is None:
        derived = [list_columns(e) for e in explanations]
        columns = ([d["top_reason"] for d in derived], [d["insights"] for d in derived])
    ids = list(lead_ids)
    if session.get_bind().dialect.name == "postgresql":
        with session.connection().connection.driver_connection.cursor() as cur:
            cur.execute("DELETE FROM lead_explanations WHERE lead_id = ANY(%s::uuid[])", (uuid_array(ids),))
    else:
        table = LeadExplanation.__table__
        for start in range(0, len(ids), KEY_BATCH):
            session.execute(table.delete().where(table.c.lead_id.in_(ids[start:start + KEY_BATCH])))
    values = {"lead_id": ids, "top_reason": list(columns[0]), "insights": list(columns[1]),
              "explanation": explanations if isinstance(explanations, JSONTexts) else list(explanations)}
    if isinstance(scored_at, datetime):
        bulk_insert_columns(session, LeadExplanation.__table__, values, {"scored_at": scored_at})
    else:
        bulk_insert_columns(session, LeadExplanation.__table__, {**values, "scored_at": list(scored_at)})
