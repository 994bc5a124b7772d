"""Customizable scoring: versioned scoring configurations, the holdout a what-if is measured
on, the marker that tells the what-if cache the model's contributions changed, and the
history of human grade overrides."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from leadrank.models.base import Base, JSONType, UTCDateTime, new_id, utcnow


class ScoringConfigVersion(Base):
    """One saved scoring configuration (weights, rules, decay, bands). At most one per
    workspace is ``active``; the others are kept for comparison and rollback."""

    __tablename__ = "scoring_configs"
    __table_args__ = (UniqueConstraint("workspace_id", "version"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | archived
    config: Mapped[dict] = mapped_column(JSONType, default=dict)
    # What the what-if measured when it was saved (holdout metrics, leads moving in/out of the top 20%).
    figures: Mapped[dict] = mapped_column(JSONType, default=dict)
    # Thresholds of batch-relative bands, fixed over the whole workspace when it was applied.
    resolved_bands: Mapped[dict | None] = mapped_column(JSONType)
    model_version_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ScoringHoldout(Base):
    """A model version's holdout as the what-if needs it: per-group log-odds, labels, the lead
    fields rules test and the activities before each outcome — a NumPy ``.npz`` (no pickle)."""

    __tablename__ = "scoring_holdouts"

    model_version_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    n_rows: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(40))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ScoringState(Base):
    """Changes whenever the model's contributions of some lead were (re)computed, so the
    what-if cache of per-lead log-odds knows it is stale."""

    __tablename__ = "scoring_state"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True)
    stamp: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LeadOverride(Base):
    """A rep's grade override with its reason (the lead row holds the current one in
    ``grade_override`` / ``override_reason``; this is the history and the training signal)."""

    __tablename__ = "lead_overrides"
    __table_args__ = (Index("ix_lead_overrides_ws_lead", "workspace_id", "lead_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"))
    lead_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("leads.id", ondelete="CASCADE"))
    grade: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text)
    # junk | not_a_fit (→ lost) | converted (→ converted) | None (no outcome implied)
    label: Mapped[str | None] = mapped_column(String(20))
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
