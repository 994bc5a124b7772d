from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from leadrank.bulk import bulk_insert
from leadrank.models import Job, JobChunk, JobReject
from leadrank.models.base import utcnow


class JobRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, job_id: uuid.UUID, workspace_id: uuid.UUID | None = None) -> Job | None:
        stmt = select(Job).where(Job.id == job_id)
        if workspace_id is not None:
            stmt = stmt.where(Job.workspace_id == workspace_id)
        return self.session.scalars(stmt).first()

    def get_for_update(self, job_id: uuid.UUID) -> Job | None:
        return self.session.scalars(
            select(Job).where(Job.id == job_id).with_for_update()
        ).first()

    def list(self, workspace_id: uuid.UUID, *, kind: str | None = None, limit: int = 50) -> Sequence[Job]:
        stmt = select(Job).where(Job.workspace_id == workspace_id)
        if kind:
            stmt = stmt.where(Job.kind == kind)
        return self.session.scalars(stmt.order_by(Job.created_at.desc()).limit(limit)).all()

    def resumable(self, stale_before: datetime) -> Sequence[uuid.UUID]:
        """Jobs never started, or running but silent since ``stale_before`` (their worker
        died) or released by a runner that stopped (heartbeat cleared)."""
        stmt = select(Job.id).where(
            (Job.status == "queued")
            | ((Job.status == "running") & ((Job.heartbeat_at.is_(None)) | (Job.heartbeat_at < stale_before)))
        ).order_by(Job.created_at)
        return self.session.scalars(stmt).all()

    def heartbeat(self, job_id: uuid.UUID) -> None:
        """A chunk of a running job made progress (a queued job stays queued)."""
        self.session.execute(update(Job).where(Job.id == job_id, Job.status == "running")
                             .values(heartbeat_at=utcnow()))

    def add_rejects(self, job_id: uuid.UUID, rejects: list[dict]) -> None:
        bulk_insert(self.session, JobReject.__table__, [{"job_id": job_id, **r} for r in rejects],
                    ["job_id", "row_number", "field", "reason", "raw"])

    def delete_rejects_from(self, job_id: uuid.UUID, row_number: int) -> None:
        """A resumed run re-reads rows from ``row_number``: drop rejects it will report again."""
        self.session.execute(
            JobReject.__table__.delete().where(
                (JobReject.job_id == job_id) & (JobReject.row_number >= row_number)
            )
        )

    def rejects(self, job_id: uuid.UUID, *, limit: int | None = None) -> Sequence[JobReject]:
        stmt = select(JobReject).where(JobReject.job_id == job_id).order_by(JobReject.row_number, JobReject.id)
        if limit:
            stmt = stmt.limit(limit)
        return self.session.scalars(stmt).all()

    def count_rejects(self, job_id: uuid.UUID) -> int:
        return self.session.scalar(select(func.count()).where(JobReject.job_id == job_id)) or 0

    def counts_by_status(self) -> dict[str, int]:
        rows = self.session.execute(select(Job.status, func.count()).group_by(Job.status)).all()
        return {status: n for status, n in rows}

    def counts_by_kind_status(self) -> list[tuple[str, str, int]]:
        return [tuple(r) for r in self.session.execute(
            select(Job.kind, Job.status, func.count()).group_by(Job.kind, Job.status))]

    def chunk_counts_by_kind_status(self) -> list[tuple[str, str, int, int]]:
        """(kind, chunk status, chunks, attempts beyond the first) over every chunk."""
        stmt = (select(Job.kind, JobChunk.status, func.count(),
                       func.coalesce(func.sum(JobChunk.attempts - 1), 0))
                .join(Job, Job.id == JobChunk.job_id).where(JobChunk.attempts > 0)
                .group_by(Job.kind, JobChunk.status))
        return [tuple(r) for r in self.session.execute(stmt)]

    def finished_since(self, since: datetime, limit: int = 200) -> Sequence[Job]:
        return self.session.scalars(
            select(Job).where(Job.finished_at >= since, Job.status == "done")
            .order_by(Job.finished_at.desc()).limit(limit)).all()

    # --- chunks ---------------------------------------------------------------------------
    def add_chunks(self, job_id: uuid.UUID, params: list[dict]) -> None:
        if not params:
            return
        self.session.execute(JobChunk.__table__.insert(), [
            {"job_id": job_id, "seq": i, "params": p, "status": "queued", "attempts": 0, "result": {},
             "updated_at": utcnow()} for i, p in enumerate(params)
        ])

    def has_chunks(self, job_id: uuid.UUID) -> bool:
        return self.session.scalar(select(func.count()).where(JobChunk.job_id == job_id)) > 0

    def chunk(self, job_id: uuid.UUID, seq: int, *, lock: bool = False, wait: bool = False) -> JobChunk | None:
        """With ``lock``: the chunk row locked for this transaction; unless ``wait``, a row
        another transaction holds is skipped (``None``), never waited for (PostgreSQL;
        SQLite serialises writers anyway)."""
        stmt = select(JobChunk).where(JobChunk.job_id == job_id, JobChunk.seq == seq)
        if lock:
            stmt = stmt.with_for_update(skip_locked=not wait)
        return self.session.scalars(stmt).first()

    def chunk_exists(self, job_id: uuid.UUID, seq: int) -> bool:
        return self.session.scalar(
            select(func.count()).where(JobChunk.job_id == job_id, JobChunk.seq == seq)) > 0

    def unfinished_chunks(self, job_id: uuid.UUID) -> list[int]:
        return list(self.session.scalars(select(JobChunk.seq).where(
            JobChunk.job_id == job_id, JobChunk.status.in_(("queued", "running"))).order_by(JobChunk.seq)))

    def chunks(self, job_id: uuid.UUID) -> Sequence[JobChunk]:
        return self.session.scalars(select(JobChunk).where(JobChunk.job_id == job_id).order_by(JobChunk.seq)).all()

    def chunk_summary(self, job_id: uuid.UUID) -> dict | None:
        rows = self.session.execute(select(JobChunk.status, JobChunk.result).where(JobChunk.job_id == job_id)).all()
        if not rows:
            return None
        summary = {"chunks_total": len(rows), "chunks_done": 0, "chunks_failed": 0, "processed": 0}
        for status, result in rows:
            if status == "done":
                summary["chunks_done"] += 1
                summary["processed"] += int((result or {}).get("processed", 0))
            elif status == "failed":
                summary["chunks_failed"] += 1
        return summary
