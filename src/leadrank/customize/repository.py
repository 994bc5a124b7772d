"""Queries of customizable scoring: configurations, holdouts, the contributions-changed stamp,
overrides, and the columnar reads the what-if cache and the rescoring job need."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import pandas as pd
from sqlalchemy import JSON, ColumnElement, and_, cast, event, func, select, type_coerce, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from leadrank.bulk import bulk_insert, bulk_update
from leadrank.models import (Activity, Lead, LeadExplanation, LeadOverride, ScoreHistory, ScoringConfigVersion,
                             ScoringHoldout, ScoringState)
from leadrank.models.base import utcnow
from leadrank.scoring.repository import store_explanations

KEY_BATCH = 2000
RULE_FIELDS = ("industry", "company_size", "job_title", "lead_source", "email", "website")
RESCORE_COLUMNS = ["score", "sort_score", "conversion_probability", "grade"]
# A lead's explanation row, where it explains the lead's current score.
CURRENT_EXPLANATION = and_(LeadExplanation.lead_id == Lead.id, LeadExplanation.scored_at == Lead.scored_at)
#: Override labels that are an outcome: a rep's "junk" is a lost lead for training.
OVERRIDE_OUTCOMES = {"junk": "lost", "not_a_fit": "lost", "converted": "converted"}
_STAMP_KEY = "leadrank.contributions_changed"


class CustomizeRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- configurations -------------------------------------------------------------------
    def active_config(self, workspace_id: uuid.UUID) -> ScoringConfigVersion | None:
        return self.session.scalars(select(ScoringConfigVersion).where(
            ScoringConfigVersion.workspace_id == workspace_id, ScoringConfigVersion.status == "active")
            .order_by(ScoringConfigVersion.version.desc())).first()

    def configs(self, workspace_id: uuid.UUID) -> list[ScoringConfigVersion]:
        return list(self.session.scalars(select(ScoringConfigVersion).where(
            ScoringConfigVersion.workspace_id == workspace_id).order_by(ScoringConfigVersion.version.desc())))

    def config(self, workspace_id: uuid.UUID, config_id: uuid.UUID) -> ScoringConfigVersion | None:
        return self.session.scalars(select(ScoringConfigVersion).where(
            ScoringConfigVersion.workspace_id == workspace_id, ScoringConfigVersion.id == config_id)).first()

    def next_config_version(self, workspace_id: uuid.UUID) -> int:
        current = self.session.scalar(select(func.max(ScoringConfigVersion.version)).where(
            ScoringConfigVersion.workspace_id == workspace_id))
        return (current or 0) + 1

    def archive_configs(self, workspace_id: uuid.UUID) -> None:
        self.session.execute(update(ScoringConfigVersion).where(
            ScoringConfigVersion.workspace_id == workspace_id, ScoringConfigVersion.status == "active")
            .values(status="archived"))

    # --- holdouts ---------------------------------------------------------------------------
    def holdout(self, model_version_id: uuid.UUID) -> ScoringHoldout | None:
        return self.session.get(ScoringHoldout, model_version_id)

    def save_holdout(self, holdout: ScoringHoldout) -> None:
        existing = self.session.get(ScoringHoldout, holdout.model_version_id)
        if existing is not None:
            self.session.delete(existing)
            self.session.flush()
        self.session.add(holdout)
        self.session.flush()

    # --- the contributions-changed stamp -------------------------------------------------------
    def bump_stamp(self, workspace_id: uuid.UUID) -> None:
        """Mark the workspace's contributions as changed when this transaction commits.

        The stamp is one row per workspace: updating it at once would hold that row's lock
        until commit, and every other transaction writing scores in the workspace (the other
        upload writer, the other worker's reasons chunk) would wait for the whole of this one.
        Written just before commit, it is held only while committing; a reader still never
        sees the new contributions under the old stamp."""
        self.session.info.setdefault(_STAMP_KEY, set()).add(workspace_id)

    def stamp(self, workspace_id: uuid.UUID) -> str:
        return self.session.scalar(select(ScoringState.stamp).where(ScoringState.workspace_id == workspace_id)) or ""

    def lead_count(self, workspace_id: uuid.UUID) -> int:
        return int(self.session.scalar(select(func.count()).select_from(Lead).where(
            Lead.workspace_id == workspace_id)) or 0)

    # --- columnar reads ------------------------------------------------------------------------
    def scored_rows(self, workspace_id: uuid.UUID, model_version_id: uuid.UUID | None) -> pd.DataFrame:
        """Every lead scored by this model version (or cold start when None): id, the raw model
        block of its explanation, its scoring time and the fields rules look at."""
        cols = [Lead.id, self._json_member(LeadExplanation.explanation, "model").label("raw"), Lead.scored_at,
                *[getattr(Lead, f) for f in RULE_FIELDS]]
        stmt = select(*cols).outerjoin(LeadExplanation, CURRENT_EXPLANATION).where(
            Lead.workspace_id == workspace_id, Lead.score.is_not(None))
        stmt = stmt.where(Lead.model_version_id == model_version_id) if model_version_id else \
            stmt.where(Lead.score_kind == "cold_start")
        rows = self.session.execute(stmt.order_by(Lead.id)).all()
        return pd.DataFrame.from_records(rows, columns=["id", "raw", "scored_at", *RULE_FIELDS])

    def _json_member(self, document: ColumnElement, key: str) -> ColumnElement:
        """``document[key]`` of a JSON document stored as text (models.base.JSONDocumentType),
        as JSON: PostgreSQL must cast the text first; SQLite's JSON functions read text."""
        if self.session.get_bind().dialect.name == "postgresql":
            return cast(document, JSON)[key]
        return type_coerce(document, JSON)[key]

    def explanations(self, workspace_id: uuid.UUID, lead_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, dict]:
        out: dict[uuid.UUID, dict] = {}
        for s in range(0, len(lead_ids), KEY_BATCH):
            for lid, exp in self.session.execute(select(Lead.id, LeadExplanation.explanation).outerjoin(
                    LeadExplanation, CURRENT_EXPLANATION).where(
                    Lead.workspace_id == workspace_id, Lead.id.in_(lead_ids[s:s + KEY_BATCH]))):
                out[lid] = exp or {}
        return out

    def rescore_rows(self, workspace_id: uuid.UUID, lead_ids: Sequence[uuid.UUID]) -> pd.DataFrame:
        cols = [Lead.id, LeadExplanation.explanation, Lead.scored_at, Lead.model_version_id, Lead.score_kind,
                *[getattr(Lead, f) for f in RULE_FIELDS]]
        rows = []
        for s in range(0, len(lead_ids), KEY_BATCH):
            rows.extend(self.session.execute(select(*cols).outerjoin(LeadExplanation, CURRENT_EXPLANATION).where(
                Lead.workspace_id == workspace_id, Lead.id.in_(lead_ids[s:s + KEY_BATCH]),
                Lead.score.is_not(None))).all())
        frame = pd.DataFrame.from_records(rows, columns=["id", "explanation", "scored_at", "model_version_id",
                                                          "score_kind", *RULE_FIELDS])
        return frame.sort_values("id", kind="stable").reset_index(drop=True) if len(frame) else frame

    def scored_lead_ids(self, workspace_id: uuid.UUID) -> list[uuid.UUID]:
        return list(self.session.scalars(select(Lead.id).where(
            Lead.workspace_id == workspace_id, Lead.score.is_not(None)).order_by(Lead.id)))

    def activities(self, workspace_id: uuid.UUID, lead_ids: Sequence[uuid.UUID] | None = None) -> pd.DataFrame:
        cols = [Activity.lead_id, Activity.activity_type, Activity.activity_date]
        base = select(*cols).where(Activity.workspace_id == workspace_id)
        if lead_ids is None:
            rows = self.session.execute(base).all()
        else:
            rows = []
            for s in range(0, len(lead_ids), KEY_BATCH):
                rows.extend(self.session.execute(base.where(Activity.lead_id.in_(lead_ids[s:s + KEY_BATCH]))).all())
        frame = pd.DataFrame.from_records(rows, columns=["lead_id", "activity_type", "activity_date"])
        frame["lead_id"] = frame["lead_id"].astype(str)
        return frame

    def current_scores(self, workspace_id: uuid.UUID) -> pd.DataFrame:
        rows = self.session.execute(select(Lead.id, Lead.score).where(
            Lead.workspace_id == workspace_id, Lead.score.is_not(None))).all()
        return pd.DataFrame.from_records(rows, columns=["id", "score"])

    def write_rescored(self, workspace_id: uuid.UUID, rows: list[dict], *, when: datetime) -> None:
        """Score, grade and explanation from a configuration; the model's scoring time and
        version stay (the contributions did not change), the score history gets a row."""
        if not rows:
            return
        bulk_update(self.session, Lead.__table__, [{**r, "sort_score": r["score"]} for r in rows], RESCORE_COLUMNS)
        store_explanations(self.session, [r["id"] for r in rows], [r["scored_at"] for r in rows],
                           [r["explanation"] for r in rows])
        bulk_insert(self.session, ScoreHistory.__table__, [
            {"workspace_id": workspace_id, "lead_id": r["id"], "model_version_id": r["model_version_id"],
             "score_kind": r["score_kind"], "probability": r["conversion_probability"], "score": r["score"],
             "grade": r["grade"], "scored_at": when} for r in rows])

    # --- overrides -------------------------------------------------------------------------------
    def lead(self, workspace_id: uuid.UUID, lead_id: uuid.UUID) -> Lead | None:
        return self.session.scalars(select(Lead).where(Lead.workspace_id == workspace_id, Lead.id == lead_id)).first()

    def add_override(self, override: LeadOverride) -> None:
        self.session.add(override)
        self.session.flush()

    def open_override(self, workspace_id: uuid.UUID, lead_id: uuid.UUID) -> LeadOverride | None:
        return self.session.scalars(select(LeadOverride).where(
            LeadOverride.workspace_id == workspace_id, LeadOverride.lead_id == lead_id,
            LeadOverride.cleared_at.is_(None)).order_by(LeadOverride.created_at.desc())).first()

    def override_history(self, workspace_id: uuid.UUID, lead_id: uuid.UUID) -> list[LeadOverride]:
        return list(self.session.scalars(select(LeadOverride).where(
            LeadOverride.workspace_id == workspace_id, LeadOverride.lead_id == lead_id)
            .order_by(LeadOverride.created_at.desc())))

    def labelled_overrides(self, workspace_id: uuid.UUID) -> list[tuple[uuid.UUID, str, datetime]]:
        """(lead id, outcome, when) of current overrides that are an outcome, on open leads."""
        rows = self.session.execute(select(LeadOverride.lead_id, LeadOverride.label, LeadOverride.created_at)
                                    .join(Lead, Lead.id == LeadOverride.lead_id)
                                    .where(LeadOverride.workspace_id == workspace_id,
                                           LeadOverride.cleared_at.is_(None),
                                           LeadOverride.label.in_(tuple(OVERRIDE_OUTCOMES)),
                                           Lead.outcome.not_in(("converted", "lost")))).all()
        return [(lid, OVERRIDE_OUTCOMES[label], when) for lid, label, when in rows]


@event.listens_for(Session, "before_commit")
def _write_stamps(session: Session) -> None:
    """The stamps :meth:`CustomizeRepository.bump_stamp` marked, written last in the
    transaction (the outermost one: a savepoint's commit leaves them for it)."""
    if session.in_nested_transaction():
        return
    workspaces = session.info.pop(_STAMP_KEY, None)
    if not workspaces:
        return
    table = ScoringState.__table__
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for workspace_id in sorted(workspaces, key=str):  # one order: two committers never deadlock
        values = {"workspace_id": workspace_id, "stamp": uuid.uuid4().hex, "updated_at": utcnow()}
        session.execute(insert(table).values(**values).on_conflict_do_update(
            index_elements=["workspace_id"], set_={"stamp": values["stamp"], "updated_at": values["updated_at"]}))


@event.listens_for(Session, "after_transaction_end")
def _forget_stamps(session: Session, transaction) -> None:  # noqa: ANN001 - SessionTransaction
    if transaction.parent is None:  # the outermost transaction ended without writing them: rolled back
        session.info.pop(_STAMP_KEY, None)
