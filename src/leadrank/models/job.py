from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from leadrank.models.base import Base, JSONType, UTCDateTime, new_id, utcnow

JOB_STATUSES = ("queued", "running", "done", "failed")


class Job(Base):
    """A unit of background work ("leads.upload", "scoring.score", "model.train", …).

    ``checkpoint`` is what a resumed run starts from (e.g. the next row number), written in
    the same transaction as the chunk it follows, so a crash never half-applies a chunk.
    """

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_ws_created", "workspace_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    params: Mapped[dict] = mapped_column(JSONType, default=dict)
    checkpoint: Mapped[dict] = mapped_column(JSONType, default=dict)
    progress: Mapped[dict] = mapped_column(JSONType, default=dict)
    result: Mapped[dict] = mapped_column(JSONType, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class JobReject(Base):
    """A row a job could not store, with where and why. Kept so rejects are never lost."""

    __tablename__ = "job_rejects"
    __table_args__ = (Index("ix_job_rejects_job_row", "job_id", "row_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("jobs.id", ondelete="CASCADE"))
    row_number: Mapped[int] = mapped_column(Integer)
    field: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[dict] = mapped_column(JSONType, default=dict)


class JobChunk(Base):
    """One independently committed piece of a large job. Workers process chunks in
    parallel; a chunk's writes and its ``done`` mark commit together, so a retried chunk
    never repeats or skips work. A chunk that keeps failing is marked ``failed`` (poisoned)
    and the rest of the job carries on."""

    __tablename__ = "job_chunks"
    __table_args__ = (Index("ix_job_chunks_job_status", "job_id", "status"),)

    job_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    params: Mapped[dict] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict] = mapped_column(JSONType, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
