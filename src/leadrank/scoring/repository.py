"""Queries the scoring engine needs: leads and activities as frames, bulk score writes,
model versions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import pandas as pd
from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from leadrank.bulk import bulk_insert, bulk_update
from leadrank.models import LEAD_FIELDS, Activity, Lead, ModelVersion, ScoreHistory, Workspace

FRAME_COLUMNS = list(LEAD_FIELDS)
NON_TEXT = {"company_size", "annual_revenue", "outcome_date", "last_activity_date", "created_at"}
TEXT_COLUMNS = [c for c in FRAME_COLUMNS if c not in NON_TEXT]
SCORE_COLUMNS = ["score", "sort_score", "conversion_probability", "grade", "explanation", "model_version_id",
                 "score_kind", "scored_at"]
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

    def load_leads(self, workspace_id: uuid.UUID, *, lead_ids: Sequence[uuid.UUID] | None = None,
                   labelled_only: bool = False) -> pd.DataFrame:
        cols = [Lead.id.label("lead_id"), *[getattr(Lead, c) for c in FRAME_COLUMNS], Lead.custom]
        names = ["lead_id", *FRAME_COLUMNS, "custom"]
        base = select(*cols).where(Lead.workspace_id == workspace_id)
        if labelled_only:
            base = base.where(Lead.outcome.in_(("converted", "lost")))
        if lead_ids is None:
            rows = self.session.execute(base).all()
        else:
            rows = []
            for start in range(0, len(lead_ids), KEY_BATCH):
                rows.extend(self.session.execute(base.where(Lead.id.in_(lead_ids[start:start + KEY_BATCH]))).all())
        return leads_frame(rows, names)

    def load_activities(self, workspace_id: uuid.UUID, *, lead_ids: Sequence[uuid.UUID] | None = None
                        ) -> pd.DataFrame:
        """lead_id, activity_type, activity_date (UTC). Ids and dates come back as text and
        are converted column-wise: per-row type conversion was the cost at scale."""
        cols = [cast(Activity.lead_id, String), Activity.activity_type, cast(Activity.activity_date, String)]
        names = ["lead_id", "activity_type", "activity_date"]
        base = select(*cols).where(Activity.workspace_id == workspace_id)
        if lead_ids is None:
            rows = self.session.execute(base).all()
        else:
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

    def outcome_counts(self, workspace_id: uuid.UUID) -> dict[str, int]:
        rows = self.session.execute(
            select(Lead.outcome, func.count()).where(Lead.workspace_id == workspace_id).group_by(Lead.outcome)
        ).all()
        return {outcome: n for outcome, n in rows}

    # --- score writes ---------------------------------------------------------------------
    def write_scores(self, workspace_id: uuid.UUID, rows: list[dict]) -> None:
        """rows: id, score, conversion_probability, grade, explanation, model_version_id,
        score_kind, scored_at. Updates the lead and appends to its score history."""
        if not rows:
            return
        bulk_update(self.session, Lead.__table__, [{**r, "sort_score": r["score"]} for r in rows], SCORE_COLUMNS)
        bulk_insert(self.session, ScoreHistory.__table__, [
            {"workspace_id": workspace_id, "lead_id": r["id"], "model_version_id": r["model_version_id"],
             "score_kind": r["score_kind"], "probability": r["conversion_probability"], "score": r["score"],
             "grade": r["grade"], "scored_at": r["scored_at"]} for r in rows
        ])

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
