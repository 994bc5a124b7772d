from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import update
from sqlalchemy.orm import Session

from leadrank.models import Job
from leadrank.models.base import utcnow


class JobInterrupted(Exception):
    """Raised inside a handler to simulate or signal a stop between chunks (tests, shutdown)."""


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
    attempts: int = 1
    # Test hook: raise JobInterrupted after this many chunks (simulates a crash mid-job).
    stop_after_chunks: int | None = None
    _chunks: int = field(default=0, repr=False)

    def save(self, session: Session, *, checkpoint: dict | None = None, add: dict | None = None,
             set_: dict | None = None) -> None:
        """Record progress in the caller's transaction: new checkpoint, counters to add/set."""
        if checkpoint is not None:
            self.checkpoint = dict(checkpoint)
        for key, value in (add or {}).items():
            self.progress[key] = self.progress.get(key, 0) + value
        self.progress.update(set_ or {})
        session.execute(
            update(Job)
            .where(Job.id == self.job_id)
            .values(checkpoint=self.checkpoint, progress=dict(self.progress), heartbeat_at=utcnow())
        )

    def chunk_done(self) -> None:
        """Call after each committed chunk."""
        self._chunks += 1
        if self.stop_after_chunks is not None and self._chunks >= self.stop_after_chunks:
            raise JobInterrupted(f"stopped after {self._chunks} chunks")
