"""Read-only aggregates of a workspace's leads (dashboard tiles, score distribution).

Both are full scans of a workspace's leads (seconds at a million), so they are cached per
workspace until a job of that workspace changes state: leads and scores change through jobs
(uploads, scoring, training). Edits through the API that bypass jobs (deleting a lead, adding
one activity) show up within ``CACHE_SECONDS``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from leadrank.models import Job, Lead

GRADES = ("A", "B", "C", "D")
CACHE_SECONDS = 120.0
T = TypeVar("T")
_cache: dict[tuple, tuple[float, object]] = {}
_lock = threading.Lock()


def _jobs_fingerprint(session: Session, workspace_id: uuid.UUID) -> tuple:
    rows = session.execute(select(Job.id, Job.status, Job.finished_at).where(Job.workspace_id == workspace_id)
                           .order_by(Job.created_at.desc()).limit(3)).all()
    return tuple((str(i), s, f.isoformat() if f else None) for i, s, f in rows)


def _cached(session: Session, workspace_id: uuid.UUID, name: str, compute: Callable[[], T]) -> T:
    key = (workspace_id, name, _jobs_fingerprint(session, workspace_id))
    with _lock:
        hit = _cache.get(key)
        if hit and time.monotonic() - hit[0] < CACHE_SECONDS:
            return hit[1]  # type: ignore[return-value]
    value = compute()
    with _lock:
        if len(_cache) > 512:
            _cache.clear()
        _cache[key] = (time.monotonic(), value)
    return value


@dataclass
class WorkspaceSummary:
    total: int = 0
    scored: int = 0
    cold_start: int = 0
    by_grade: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    # grade -> (converted, closed) among leads with a known outcome
    conversion_by_grade: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def unscored(self) -> int:
        return self.total - self.scored

    @property
    def closed(self) -> int:
        return self.outcomes.get("converted", 0) + self.outcomes.get("lost", 0)

    @property
    def conversion_rate(self) -> float | None:
        return self.outcomes.get("converted", 0) / self.closed if self.closed else None

    def grade_rate(self, grade: str) -> float | None:
        converted, closed = self.conversion_by_grade.get(grade, (0, 0))
        return converted / closed if closed else None


def workspace_summary(session: Session, workspace_id: uuid.UUID) -> WorkspaceSummary:
    return _cached(session, workspace_id, "summary", lambda: _workspace_summary(session, workspace_id))


def _workspace_summary(session: Session, workspace_id: uuid.UUID) -> WorkspaceSummary:
    grade = func.coalesce(Lead.grade_override, Lead.grade)
    stmt = (select(grade, Lead.outcome, Lead.score_kind, func.count(), func.count(Lead.score))
            .where(Lead.workspace_id == workspace_id)
            .group_by(grade, Lead.outcome, Lead.score_kind))
    out = WorkspaceSummary()
    for g, outcome, kind, n, n_scored in session.execute(stmt):
        out.total += n
        out.scored += n_scored
        if kind == "cold_start":
            out.cold_start += n_scored
        if g:
            out.by_grade[g] = out.by_grade.get(g, 0) + n
        outcome = outcome or "open"
        out.outcomes[outcome] = out.outcomes.get(outcome, 0) + n
        if g and outcome in ("converted", "lost"):
            conv, closed = out.conversion_by_grade.get(g, (0, 0))
            out.conversion_by_grade[g] = (conv + (n if outcome == "converted" else 0), closed + n)
    return out


def score_histogram(session: Session, workspace_id: uuid.UUID, width: int = 5) -> list[int]:
    """How many scored leads fall in each ``width``-point band of 0–100 (the last band holds 100)."""
    return list(_cached(session, workspace_id, f"hist{width}", lambda: _score_histogram(session, workspace_id, width)))


def _score_histogram(session: Session, workspace_id: uuid.UUID, width: int) -> list[int]:
    edges = list(range(width, 100, width))
    band = case(*[(Lead.score < e, i) for i, e in enumerate(edges)], else_=len(edges))
    stmt = (select(band, func.count()).where(Lead.workspace_id == workspace_id, Lead.score.is_not(None))
            .group_by(band))
    counts = [0] * (len(edges) + 1)
    for i, n in session.execute(stmt):
        counts[int(i)] += n
    return counts
