from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import update
from sqlalchemy.orm import Session

from leadrank.models import Job
from leadrank.models.base import utcnow


class JobInterrupted(Exception):
    """Raised inside a handler to simulate or signal a stop between chunks (tests, shutdown)."""


class LeaseLost(Exception):
    """This runner no longer holds its job (it was presumed dead and another runner claimed
    it): the current chunk's transaction rolls back and the runner stops."""


@dataclass
class JobContext:
    """What a handler knows about its job. Handlers own their transactions, one per chunk,
    and call :meth:`save` inside that transaction so progress and data commit together."""

    job_id: uuid.UUID
    workspace_id: uuid.UUID
    kind: str
    params: dict
    checkpoint: dict
    progress: dict
    # The lease token: the job's ``attempts`` when this runner claimed it.
    attempts: int = 1
    # Test hook: raise JobInterrupted after this many chunks (simulates a crash mid-job).
    stop_after_chunks: int | None = None
    # True for the runner that claimed the whole job: its saves are fenced by ``attempts``.
    fenced: bool = False
    lease_lost: bool = False
    _chunks: int = field(default=0, repr=False)

    def save(self, session: Session, *, checkpoint: dict | None = None, add: dict | None = None,
             set_: dict | None = None) -> None:
        """Record progress in the caller's transaction: new checkpoint, counters to add/set.

        Fenced: when another runner has claimed the job since, this raises
        :class:`LeaseLost`, so the caller's transaction (the chunk it just wrote) rolls back."""
        if self.lease_lost:
            raise LeaseLost(f"job {self.job_id} was claimed by another runner")
        checkpoint_ = dict(checkpoint) if checkpoint is not None else self.checkpoint
        progress = dict(self.progress)
        for key, value in (add or {}).items():
            progress[key] = progress.get(key, 0) + value
        progress.update(set_ or {})
        stmt = update(Job).where(Job.id == self.job_id)
        if self.fenced:
            stmt = stmt.where(Job.attempts == self.attempts, Job.status == "running")
        done = session.execute(stmt.values(checkpoint=checkpoint_, progress=progress, heartbeat_at=utcnow()))
        if self.fenced and not done.rowcount:
            self.lease_lost = True
            raise LeaseLost(f"job {self.job_id} was claimed by another runner")
        self.checkpoint, self.progress = checkpoint_, progress

    def chunk_done(self) -> None:
        """Call after each committed chunk."""
        self._chunks += 1
        if self.stop_after_chunks is not None and self._chunks >= self.stop_after_chunks:
            raise JobInterrupted(f"stopped after {self._chunks} chunks")


def rows_of(result: dict | None) -> int:
    """The rows a job (or chunk) processed, whatever its kind calls them."""
    result = result or {}
    for key in ("rows_read", "scored", "processed", "embedded"):
        if isinstance(result.get(key), int | float):
            return int(result[key])
    return 0
