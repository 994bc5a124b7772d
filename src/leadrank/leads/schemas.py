from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import BaseModel, Field

from leadrank.leads.filters import LeadFilters


class Insight(BaseModel):
    text: str | None
    points: float | None
    group: str | None = None
    direction: Literal["up", "down", "action"]


class LeadOut(BaseModel):
    lead_data: dict[str, Any]
    score: float | None = Field(description="0–100; 100 × the calibrated conversion probability")
    grade: str | None = None
    conversion_probability: float | None = None
    insights: list[Insight]
    explanation: dict[str, Any] | None = None


class LeadPage(BaseModel):
    leads: list[LeadOut]
    next_cursor: str | None = Field(None, description="Pass as ?cursor= for the next page")
    total: int | None = Field(None, description="Leads matching the filters (only with ?count=true). Exact up to "
                                                "10,000; above, counted at most a minute ago (see total_as_of)")
    total_as_of: datetime | None = Field(None, description="When a total above 10,000 was counted (it is cached "
                                                           "for a minute); null when counted for this request")


class JsonUpload(BaseModel):
    leads: list[dict[str, Any]]
    mapping: dict[str, str] | None = Field(None, description="Override header → field mapping")
    kind: Literal["leads", "activities"] = "leads"


class JobCreated(BaseModel):
    job_id: str
    status: str


class ActivityIn(BaseModel):
    activity_type: str = Field(examples=["demo_request"])
    activity_date: datetime | None = Field(None, description="ISO 8601 with timezone; default now")
    description: str | None = None
    source: str | None = None


async def filters_query(
    industry: Annotated[list[str] | None, Query(description="Exact industry; repeat for several")] = None,
    lead_source: Annotated[list[str] | None, Query()] = None,
    grade: Annotated[list[str] | None, Query(description="A, B, C or D (a rep's override counts)")] = None,
    outcome: Annotated[list[str] | None, Query(description="open, converted, lost")] = None,
    company_size_min: int | None = None,
    company_size_max: int | None = None,
    job_title: Annotated[str | None, Query(description="Job title contains (case-insensitive)")] = None,
    min_score: float | None = None,
    max_score: float | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    q: Annotated[str | None, Query(description="Search name, email or company")] = None,
) -> LeadFilters:
    # async: parsing needs no worker thread (a sync dependency would take one per request).
    return LeadFilters(
        industry=industry or [], lead_source=lead_source or [], grade=grade or [], outcome=outcome or [],
        company_size_min=company_size_min, company_size_max=company_size_max, job_title=job_title,
        min_score=min_score, max_score=max_score, created_from=created_from, created_to=created_to, q=q,
    )
