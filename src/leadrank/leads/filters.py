"""The prioritized list's filters and sort, shared by the API, the web pages and exports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

SORTABLE = {
    "score": "sort_score",
    "probability": "sort_score",
    "created_at": "created_at",
    "company_size": "company_size",
    "company_name": "company_name",
    "last_name": "last_name",
    "job_title": "job_title",
    "industry": "industry",
    "lead_source": "lead_source",
    "last_activity_date": "last_activity_date",
    "grade": "grade",
}


@dataclass
class LeadFilters:
    industry: list[str] = field(default_factory=list)
    lead_source: list[str] = field(default_factory=list)
    grade: list[str] = field(default_factory=list)
    outcome: list[str] = field(default_factory=list)
    company_size_min: int | None = None
    company_size_max: int | None = None
    job_title: str | None = None
    min_score: float | None = None
    max_score: float | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    q: str | None = None

    def as_query(self) -> dict[str, object]:
        """The filters as query-string parameters (for links and 'next page')."""
        out: dict[str, object] = {}
        for name, value in self.__dict__.items():
            if value in (None, [], ""):
                continue
            out[name] = value.isoformat() if isinstance(value, datetime) else value
        return out


@dataclass
class LeadSort:
    by: str = "score"
    descending: bool = True

    def __post_init__(self) -> None:
        if self.by not in SORTABLE:
            from leadrank.errors import InvalidInput

            raise InvalidInput(f"cannot sort by {self.by!r}; choose one of {', '.join(sorted(SORTABLE))}")
