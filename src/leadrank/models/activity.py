from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from leadrank.models.base import Base, UTCDateTime, new_id, utcnow

ACTIVITY_TYPES = (
    "website_visit",
    "email_open",
    "email_click",
    "download",
    "form_fill",
    "webinar",
    "demo_request",
    "meeting",
    "call",
    "other",
)


class Activity(Base):
    __tablename__ = "activities"
    __table_args__ = (
        UniqueConstraint("workspace_id", "dedupe_key"),
        Index("ix_activities_lead_date", "lead_id", "activity_date"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    lead_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("leads.id", ondelete="CASCADE"))
    activity_type: Mapped[str] = mapped_column(String(50))
    activity_date: Mapped[datetime] = mapped_column(UTCDateTime)
    description: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(100))
    # Hash of lead, type, date and description: re-uploading the same activities is a no-op.
    dedupe_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
