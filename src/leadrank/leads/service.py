"""Lead rules: what a lead looks like to users, the list, details, deletion, activities."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import orjson
from sqlalchemy.orm import Session

from leadrank.errors import InvalidInput, NotFound
from leadrank.leads import insights as lead_insights
from leadrank.leads.filters import LeadFilters, LeadSort
from leadrank.leads.repository import LeadRepository
from leadrank.models import ACTIVITY_TYPES, LEAD_FIELDS, Lead
from leadrank.models.base import utcnow
from leadrank.scoring import stored as stored_explanation

MAX_PAGE = 500
log = logging.getLogger(__name__)
T = TypeVar("T")


def lead_data(lead: Lead) -> dict:
    """Every field of a lead as plain JSON-able values (``lead_id`` included)."""
    data: dict = {"lead_id": str(lead.id)}
    for name in LEAD_FIELDS:
        value = getattr(lead, name)
        data[name] = value.isoformat() if isinstance(value, datetime) else value
    data.update(
        custom=lead.custom or {},
        updated_at=lead.updated_at.isoformat() if lead.updated_at else None,
        score=lead.score,
        conversion_probability=lead.conversion_probability,
        grade=lead.grade,
        grade_override=lead.grade_override,
        override_reason=lead.override_reason,
        score_kind=lead.score_kind,
        model_version_id=str(lead.model_version_id) if lead.model_version_id else None,
        scored_at=lead.scored_at.isoformat() if lead.scored_at else None,
    )
    return data


def insights(lead: Lead) -> list[dict]:
    """The reasons behind a score, strongest first, as ``{"text", "points", "direction"}``,
    and the suggested next step when the explanation has one."""
    return lead_insights.insights(lead.explanation)


def lead_view(lead: Lead, *, explain: bool = True) -> dict:
    """A lead for the API. Lists leave the full explanation out unless asked (it is most of
    the payload); the insights carry the same reasons."""
    return {"lead_data": lead_data(lead), "score": lead.score, "grade": lead.grade_override or lead.grade,
            "conversion_probability": lead.conversion_probability, "insights": insights(lead),
            "explanation": stored_explanation.expand(lead.explanation) if explain else None}


def get_lead(session: Session, workspace_id: uuid.UUID, lead_id: uuid.UUID) -> Lead:
    lead = LeadRepository(session).get(workspace_id, lead_id)
    if lead is None:
        # Same answer whether the lead is absent or another workspace's: never leak existence.
        raise NotFound(f"lead {lead_id} not found")
    return lead


def list_leads(session: Session, workspace_id: uuid.UUID, filters: LeadFilters, sort: LeadSort,
               *, limit: int = 50, cursor: str | None = None) -> tuple[list[Lead], str | None]:
    """One page of the list as ORM leads (every column, the explanation included)."""
    _check_limit(limit)
    return LeadRepository(session).page(workspace_id, filters, sort, limit=limit, cursor=cursor)


def list_rows(session: Session, workspace_id: uuid.UUID, filters: LeadFilters, sort: LeadSort,
              *, limit: int = 50, cursor: str | None = None) -> tuple[list, str | None]:
    """One page of the list as light rows for pages that render them (attribute access like
    a lead: every field and ``top_reason``, no explanation)."""
    _check_limit(limit)
    return LeadRepository(session).list_rows(workspace_id, filters, sort, limit=limit, cursor=cursor)


def list_views(session: Session, workspace_id: uuid.UUID, filters: LeadFilters, sort: LeadSort,
               *, limit: int = 50, cursor: str | None = None, explain: bool = False) -> tuple[list[dict], str | None]:
    """One page of the list as the API shows leads (:func:`lead_view`'s shape), built from
    plain rows, for ``orjson``: each lead's insights are the JSON text stored with its score
    (an ``orjson.Fragment``, passed through as it is). The explanation is read only with
    ``explain``."""
    _check_limit(limit)
    rows, next_cursor = LeadRepository(session).list_rows(workspace_id, filters, sort, limit=limit, cursor=cursor,
                                                          insights=True, explain=explain)
    return [_row_view(row, explain) for row in rows], next_cursor


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")


def _full_explanation(exp: dict | None) -> dict | None:
    return stored_explanation.expand(exp)


def _row_view(row, explain: bool) -> dict:  # noqa: ANN001 - a Row of LeadRepository.list_rows
    # Ids, datetimes and custom (JSON text) are left to orjson, which writes them as
    # lead_data does (canonical UUID text; ISO 8601 with the offset; the object as stored).
    m = row._mapping
    data: dict = {"lead_id": m["id"]}
    for name in LEAD_FIELDS:
        data[name] = m[name]
    custom = m["custom_json"]
    data.update(
        custom=orjson.Fragment(custom) if custom else {}, updated_at=m["updated_at"], score=m["score"],
        conversion_probability=m["conversion_probability"], grade=m["grade"], grade_override=m["grade_override"],
        override_reason=m["override_reason"], score_kind=m["score_kind"],
        model_version_id=m["model_version_id"], scored_at=m["scored_at"],
    )
    stored = m["explanation"]
    exp = orjson.loads(stored) if stored is not None else None
    insights = m["insights"]
    return {"lead_data": data, "score": m["score"], "grade": m["grade_override"] or m["grade"],
            "conversion_probability": m["conversion_probability"],
            "insights": orjson.Fragment(insights) if insights is not None else lead_insights.insights(exp),
            "explanation": _full_explanation(exp) if explain else None}


@dataclass(frozen=True)
class LeadCount:
    """How many leads match a list's filters. Up to :data:`EXACT_COUNT` they are counted for
    the request; above, the count is at most :data:`COUNT_TTL` seconds old (``as_of``: when
    it was counted), so that no request walks a million index entries to say "1,000,000"."""

    total: int
    as_of: datetime | None = None
    # True when ``total`` is only a lower bound: more than EXACT_COUNT match, and their count
    # is still being made (``count_leads(..., wait=False)``).
    at_least: bool = False


EXACT_COUNT = 10_000
COUNT_TTL = 60.0
FILTER_CHOICES = 300  # values a filter's select offers at most


class _Recent:
    """Values a process may reuse for ``ttl`` seconds. One thread computes a missing or stale
    value; meanwhile the others wanting a missing one wait for that computation rather than
    each doing it (twenty list pages opened together each read a million leads for the same
    figures), and those wanting a stale one are served the stale one. A value ``keep``
    refuses is only shared with the threads that waited for it."""

    def __init__(self, ttl: float, size: int = 1024) -> None:
        self.ttl, self.size = ttl, size
        self._values: dict[Hashable, tuple[float, object]] = {}
        self._computing: dict[Hashable, Future] = {}
        self._guard = threading.Lock()

    def known(self, key: Hashable) -> bool:
        return key in self._values

    def peek(self, key: Hashable) -> tuple[object, bool] | None:
        """The value kept for ``key`` and whether it is fresh, or None."""
        hit = self._values.get(key)
        return (hit[1], time.monotonic() - hit[0] < self.ttl) if hit else None

    def refresh_later(self, key: Hashable, compute: Callable[[], T]) -> None:
        """Compute ``key`` on a background thread, unless a thread is computing it already."""
        with self._guard:
            if key in self._computing:
                return
            computing = self._computing[key] = Future()

        def run() -> None:
            try:
                self._compute(key, computing, compute, keep=lambda _: True)
            except BaseException as exc:  # noqa: BLE001 - logged; the next request tries again
                log.warning("background count failed: %s", exc)

        _background.submit(run)

    def get(self, key: Hashable, compute: Callable[[], T], keep: Callable[[T], bool] = lambda _: True) -> T:
        hit = self._values.get(key)
        if hit and time.monotonic() - hit[0] < self.ttl:
            return hit[1]  # type: ignore[return-value]
        with self._guard:
            computing = self._computing.get(key)
            if computing is None:
                computing = self._computing[key] = Future()
                mine = True
            else:
                mine = False
        if not mine:
            return hit[1] if hit else computing.result()  # type: ignore[return-value]
        return self._compute(key, computing, compute, keep)

    def _compute(self, key: Hashable, computing: Future, compute: Callable[[], T], keep: Callable[[T], bool]) -> T:
        """Run ``compute`` for the thread that claimed ``key`` (``computing``): keep the value
        if ``keep`` says so, hand it (or the error) to the threads waiting, release the key."""
        try:
            value = compute()
        except BaseException as exc:
            computing.set_exception(exc)
            raise
        else:
            if keep(value):
                with self._guard:
                    if len(self._values) >= self.size:
                        self._values.clear()
                    self._values[key] = (time.monotonic(), value)
            computing.set_result(value)
            return value
        finally:
            with self._guard:
                del self._computing[key]


_counts = _Recent(COUNT_TTL)
_bounded = _Recent(COUNT_TTL)  # lists known to hold more than EXACT_COUNT leads (count_leads(wait=False))
# Counts no request waits for (count_leads(wait=False)), one at a time: each reads a big list.
_background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="leadrank-count")
_choices = _Recent(60.0, size=256)


def count_leads(session: Session, workspace_id: uuid.UUID, filters: LeadFilters | None = None, *,
                wait: bool = True) -> LeadCount:
    """How many leads match ``filters`` (see :class:`LeadCount`). With ``wait=False`` (a web
    page) no request waits for a count above EXACT_COUNT: it gets the last count made, or
    "more than EXACT_COUNT" while a background thread counts for the requests after it."""
    repo = LeadRepository(session)
    filters = filters or LeadFilters()
    query = filters.as_query()
    if not query:  # every lead of the workspace: kept current by the database where it can
        total = repo.workspace_total(workspace_id)
        if total is not None:
            return LeadCount(total)
    key = _counts_key(workspace_id, query)

    def count() -> LeadCount:
        if not _counts.known(key):  # never above EXACT_COUNT: count up to it first
            small = repo.count_up_to(workspace_id, filters, EXACT_COUNT)
            if small <= EXACT_COUNT:
                return LeadCount(small)
        return LeadCount(repo.count(workspace_id, filters), as_of=utcnow())

    if not wait:
        kept = _counts.peek(key)
        if kept is not None:
            if not kept[1]:
                _counts.refresh_later(key, lambda: _count_apart(workspace_id, filters))
            return kept[0]  # type: ignore[return-value]
        # The first page of this list: one bounded count, shared by the requests arriving
        # meanwhile and remembered when it says "big" (each page repeating it while the
        # background count ran cost 40 ms of server CPU a request, and starved that count).
        small = _bounded.get(key, lambda: repo.count_up_to(workspace_id, filters, EXACT_COUNT),
                             keep=lambda n: n > EXACT_COUNT)
        if small <= EXACT_COUNT:
            return LeadCount(small)
        _counts.refresh_later(key, lambda: _count_apart(workspace_id, filters))
        return LeadCount(EXACT_COUNT, at_least=True)

    # One request per process counts a list at a time, its first count of a big list included
    # (twenty requests at once each walked 10,000 leads before waiting for the full count).
    # An exact small count is shared with the requests that waited for it, and kept by none.
    return _counts.get(key, count, keep=lambda counted: counted.as_of is not None)


def _counts_key(workspace_id: uuid.UUID, query: dict[str, object]) -> tuple:
    """The cache key of a count: the workspace and the filters (``LeadFilters.as_query``)."""
    return workspace_id, tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in query.items())


def _count_apart(workspace_id: uuid.UUID, filters: LeadFilters) -> LeadCount:
    """A full count in its own session (a background thread: the request's is gone)."""
    from leadrank.db import session_scope

    with session_scope() as session:
        return LeadCount(LeadRepository(session).count(workspace_id, filters), as_of=utcnow())


def filter_choices(session: Session, workspace_id: uuid.UUID, column: str, lead_count: int) -> list[str]:
    """The values a list filter offers (``industry``, ``lead_source``), alphabetically: every
    value the workspace's leads have, or the :data:`FILTER_CHOICES` most common when they have
    more. Reused for a minute while the workspace's ``lead_count`` stays the same."""
    def compute() -> list[str]:
        repo = LeadRepository(session)
        values = repo.distinct_values(workspace_id, column, FILTER_CHOICES + 1)
        if len(values) > FILTER_CHOICES:  # messy data: the common ones (this reads every lead)
            values = repo.most_common_values(workspace_id, column, FILTER_CHOICES)
        return sorted(values, key=str.lower)

    return _choices.get((workspace_id, column, lead_count), compute)


def delete_lead(session: Session, workspace_id: uuid.UUID, lead_id: uuid.UUID) -> None:
    """Delete a lead everywhere it lives: row, activities, score history, embedding."""
    if not LeadRepository(session).delete(workspace_id, lead_id):
        raise NotFound(f"lead {lead_id} not found")
    from leadrank.similarity.service import forget_leads

    forget_leads(workspace_id, [lead_id])


def add_activity(session: Session, workspace_id: uuid.UUID, lead_id: uuid.UUID, *, activity_type: str,
                 activity_date: datetime | None, description: str | None, source: str | None) -> dict:
    lead = get_lead(session, workspace_id, lead_id)
    if activity_type not in ACTIVITY_TYPES:
        raise InvalidInput(f"activity_type {activity_type!r} is not one of {', '.join(ACTIVITY_TYPES)}",
                           details={"field": "activity_type"})
    when = activity_date or utcnow()
    if when.tzinfo is None:
        raise InvalidInput("activity_date must include a timezone (e.g. 2026-05-01T10:00:00Z)",
                           details={"field": "activity_date"})
    key = hashlib.sha1(f"{lead.id}|{activity_type}|{when.isoformat()}|{description or ''}".encode()).hexdigest()
    activity_id = uuid.uuid4()
    repo = LeadRepository(session)
    stored = repo.insert_activities([{
        "id": activity_id, "workspace_id": workspace_id, "lead_id": lead.id, "activity_type": activity_type,
        "activity_date": when, "description": description, "source": source or "api", "dedupe_key": key,
        "created_at": utcnow(),
    }])
    repo.bump_last_activity(workspace_id, {lead.id: when})
    return {"activity_id": str(activity_id) if stored else None, "lead_id": str(lead.id),
            "activity_type": activity_type, "activity_date": when.isoformat(), "description": description,
            "created": bool(stored)}
