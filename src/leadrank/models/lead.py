from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

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
        # Room in each page for a row's next version: rewriting a lead's explanation (an
        # unindexed column) can then stay on its page without touching the indexes (HOT).
        {"postgresql_with": {"fillfactor": 85}},
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
    explanation: Mapped[dict | None] = mapped_column(JSONDocument)
    # What a list row shows of the explanation, written with it (leads.insights.list_columns),
    # so that lists never read explanations: the first reason, and the insights as JSON text.
    top_reason: Mapped[str | None] = mapped_column(Text)
    insights: Mapped[str | None] = mapped_column(Text)
    grade_override: Mapped[str | None] = mapped_column(String(10))
    override_reason: Mapped[str | None] = mapped_column(Text)

    upload_job_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


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
