from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from leadrank.models.base import Base, JSONType, UTCDateTime, new_id, utcnow


class ModelVersion(Base):
    """One training run: its report, parameters and where its artefacts are stored.

    Artefacts are LightGBM text / JSON only (never pickle); ``artefact`` holds them inline
    so a version is complete inside the database and survives a lost data directory.
    """

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("workspace_id", "version"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="ready")  # ready|active|archived
    algorithm: Mapped[str] = mapped_column(String(50), default="")
    params: Mapped[dict] = mapped_column(JSONType, default=dict)
    report: Mapped[dict] = mapped_column(JSONType, default=dict)
    features: Mapped[list] = mapped_column(JSONType, default=list)
    data_summary: Mapped[dict] = mapped_column(JSONType, default=dict)
    artefact: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
