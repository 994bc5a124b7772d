"""Lead rules: what a lead looks like to users, the list, details, deletion, activities."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from leadrank.errors import InvalidInput, NotFound
from leadrank.leads.filters import LeadFilters, LeadSort
from leadrank.leads.repository import LeadRepository
from leadrank.models import ACTIVITY_TYPES, LEAD_FIELDS, Lead
from leadrank.models.base import utcnow

MAX_PAGE = 500


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
    exp = lead.explanation or {}
    out: list[dict] = []
    for c in sorted(exp.get("contributions") or [], key=lambda c: -abs(c.get("points", 0))):
        out.append({"text": c.get("label") or c.get("group"), "points": round(c.get("points", 0.0), 2),
                    "group": c.get("group"), "direction": "up" if c.get("points", 0) >= 0 else "down"})
    if exp.get("next_action"):
        out.append({"text": exp["next_action"], "points": None, "group": "next_action", "direction": "action"})
    return out


def top_reason(lead: Lead) -> str | None:
    exp = lead.explanation or {}
    reasons = exp.get("reasons_up") or exp.get("reasons_down") or []
    return reasons[0] if reasons else None


def lead_view(lead: Lead, *, explain: bool = True) -> dict:
    """A lead for the API. Lists leave the full explanation out unless asked (it is most of
    the payload); the insights carry the same reasons."""
    return {"lead_data": lead_data(lead), "score": lead.score, "grade": lead.grade_override or lead.grade,
            "conversion_probability": lead.conversion_probability, "insights": insights(lead),
            "explanation": lead.explanation if explain else None}


def get_lead(session: Session, workspace_id: uuid.UUID, lead_id: uuid.UUID) -> Lead:
    lead = LeadRepository(session).get(workspace_id, lead_id)
    if lead is None:
        # Same answer whether the lead is absent or another workspace's: never leak existence.
        raise NotFound(f"lead {lead_id} not found")
    return lead


def list_leads(session: Session, workspace_id: uuid.UUID, filters: LeadFilters, sort: LeadSort,
               *, limit: int = 50, cursor: str | None = None) -> tuple[list[Lead], str | None]:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")
    return LeadRepository(session).page(workspace_id, filters, sort, limit=limit, cursor=cursor)


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
