from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from leadrank.models.base import Base, JSONDocument, JSONType, UTCDateTime, new_id, utcnow

OUTCOMES = ("open", "converted", "lost")

# Columns a user can upload / edit (the seed's schema, extended). Order is the export order.
LEAD_FIELDS = (
    "external_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "company_name",
    "job_title",
    "industry",
    "company_size",
    "annual_revenue",
    "location",
    "country",
    "website",
    "lead_source",
    "campaign",
    "description",
    "outcome",
    "outcome_date",
    "last_activity_date",
    "created_at",
)


class Lead(Base):
    __tablename__ = "leads"
    __table_args__ = (
        UniqueConstraint("workspace_id", "dedupe_key"),
        # The prioritized list: score desc within a workspace, unscored last.
        # The prioritized list walks these backwards: sort_score desc, id desc.
        Index("ix_leads_ws_sort", "workspace_id", "sort_score", "id"),
        Index("ix_leads_ws_created", "workspace_id", "created_at", "id"),
        Index("ix_leads_ws_industry_sort", "workspace_id", "industry", "sort_score", "id"),
        Index("ix_leads_ws_source_sort", "workspace_id", "lead_source", "sort_score", "id"),
        Index("ix_leads_ws_grade_sort", "workspace_id", "grade", "sort_score", "id"),
        # Sorts on the other nullable columns: (column, score, id) over the leads with a value,
        # then the others (see LeadRepository._page); industry, source and grade use the above.
        # Each costs every upload and scoring a write per lead; without them, sorting 100,000
        # leads by company under 20 clients took 4 s per page (bench/scale.py).
        Index("ix_leads_ws_size_sort", "workspace_id", "company_size", "sort_score", "id"),
        Index("ix_leads_ws_company_sort", "workspace_id", "company_name", "sort_score", "id"),
        Index("ix_leads_ws_last_name_sort", "workspace_id", "last_name", "sort_score", "id"),
        Index("ix_leads_ws_title_sort", "workspace_id", "job_title", "sort_score", "id"),
        Index("ix_leads_ws_activity_sort", "workspace_id", "last_activity_date", "sort_score", "id"),
        # A rep's grade overrides (few), for the grade filter.
        Index("ix_leads_ws_override_sort", "workspace_id", "grade_override", "sort_score", "id",
              postgresql_where=text("grade_override IS NOT NULL"), sqlite_where=text("grade_override IS NOT NULL")),
        Index("ix_leads_ws_email", "workspace_id", "email"),
        Index("ix_leads_ws_external", "workspace_id", "external_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    # "ext:<id>", else "email:<address>", else "row:<hash>": what re-uploads match on.
    dedupe_key: Mapped[str] = mapped_column(String(400))
    content_hash: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str | None] = mapped_column(String(200))
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(60))
    company_name: Mapped[str | None] = mapped_column(String(300))
    job_title: Mapped[str | None] = mapped_column(String(300))
    industry: Mapped[str | None] = mapped_column(String(200))
    company_size: Mapped[int | None] = mapped_column(Integer)
    annual_revenue: Mapped[float | None] = mapped_column(Float)
    location: Mapped[str | None] = mapped_column(String(300))
    country: Mapped[str | None] = mapped_column(String(100))
    website: Mapped[str | None] = mapped_column(String(500))
    lead_source: Mapped[str | None] = mapped_column(String(200))
    campaign: Mapped[str | None] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    custom: Mapped[dict] = mapped_column(JSONType, default=dict)
    outcome: Mapped[str] = mapped_column(String(20), default="open")
    outcome_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_activity_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Consent for GDPR/CCPA: what the lead agreed to, and when.
    consent: Mapped[dict] = mapped_column(JSONType, default=dict)

    # The model's current score. A human override lives apart (grade_override) and is
    # never written over by scoring.
    score: Mapped[float | None] = mapped_column(Float)
    # score, or -1 while unscored: one non-null, indexable key that puts unscored leads last
    # on SQLite and PostgreSQL alike (neither indexes NULLS LAST the same way).
    sort_score: Mapped[float] = mapped_column(Float, default=-1.0, server_default="-1")
    conversion_probability: Mapped[float | None] = mapped_column(Float)
    grade: Mapped[str | None] = mapped_column(String(4))
    score_kind: Mapped[str | None] = mapped_column(String(20))  # model | cold_start
    model_version_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    scored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    grade_override: Mapped[str | None] = mapped_column(String(10))
    override_reason: Mapped[str | None] = mapped_column(Text)

    upload_job_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # Whatever explanation row the lead has; :attr:`explanation` says whether it is current.
    explained: Mapped[LeadExplanation | None] = relationship(
        lazy="select", uselist=False, cascade="all, delete-orphan", passive_deletes=True)

    @property
    def current_explanation(self) -> LeadExplanation | None:
        """The explanation row of the lead's current score, or None while its reasons are
        being written (or it is unscored)."""
        row = self.explained
        if row is None or self.scored_at is None or row.scored_at != self.scored_at:
            return None
        return row

    @property
    def explanation(self) -> dict | None:
        row = self.current_explanation
        return None if row is None else row.explanation

    @explanation.setter
    def explanation(self, value: dict | None) -> None:
        """Store ``value`` as the explanation of the lead's current score (set ``scored_at``
        first), with the list columns derived from it; None removes it."""
        from leadrank.leads.insights import list_columns

        if value is None:
            self.explained = None
            return
        row = self.explained or LeadExplanation()
        row.scored_at, row.explanation = self.scored_at, value
        cols = list_columns(value)
        row.top_reason, row.insights = cols["top_reason"], cols["insights"]
        self.explained = row

    @property
    def top_reason(self) -> str | None:
        row = self.current_explanation
        return None if row is None else row.top_reason

    @property
    def insights(self) -> str | None:
        row = self.current_explanation
        return None if row is None else row.insights


class LeadExplanation(Base):
    """A lead's explanation, kept apart from the lead. The scoring job writes scores first and
    explanations in a second pass; here that pass is a plain insert of a narrow row (``COPY``
    on PostgreSQL) instead of a rewrite of the wide lead row and its 14 indexes: ~110 µs per
    lead against 540–800 µs, measured on 20,000 scored leads (bench/score_db.py: the reasons
    pass of 100,000 leads went from 67 s to 39 s).

    A row belongs to one scoring, the one at ``scored_at``. A lead scored again since then
    (new data, another model) holds a newer ``scored_at``: readers join on both columns and
    treat the lead's reasons as still being written."""

    __tablename__ = "lead_explanations"

    lead_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("leads.id", ondelete="CASCADE"), primary_key=True)
    scored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What a list row shows of the explanation (leads.insights.list_columns), so that a page
    # of the list never parses explanations: the first reason, and the insights as JSON text.
    top_reason: Mapped[str | None] = mapped_column(Text)
    insights: Mapped[str | None] = mapped_column(Text)
    explanation: Mapped[dict | None] = mapped_column(JSONDocument)


class ScoreHistory(Base):
    """Every score a lead was given, with the model version that gave it."""

    __tablename__ = "score_history"
    __table_args__ = (Index("ix_score_history_lead", "lead_id", "scored_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    lead_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("leads.id", ondelete="CASCADE"))
    model_version_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    score_kind: Mapped[str | None] = mapped_column(String(20))
    probability: Mapped[float] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)
    grade: Mapped[str | None] = mapped_column(String(4))
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
