"""Read the list page's query string into filters and a sort, forgivingly: an HTML form
sends empty strings for untouched inputs, and a typo in one box should not cost the page."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from starlette.datastructures import QueryParams

from leadrank.leads.filters import SORTABLE, LeadFilters, LeadSort

GRADES = ("A", "B", "C", "D")
PAGE_SIZES = (25, 50, 100)
# Query keys that describe the list (kept across sorting, paging and exports).
LIST_KEYS = ("q", "industry", "lead_source", "grade", "job_title", "size_min", "size_max", "score_min",
             "score_max", "created_from", "created_to", "outcome")


@dataclass
class ListQuery:
    filters: LeadFilters
    sort: LeadSort
    limit: int
    cursor: str | None
    page: int
    params: dict[str, object]            # the filter params as given (to rebuild links)
    errors: list[str] = field(default_factory=list)

    @property
    def active_filters(self) -> int:
        return sum(1 for k in LIST_KEYS if k != "q" and self.params.get(k) not in (None, "", []))


def _int(raw: str | None, name: str, errors: list[str]) -> int | None:
    if raw is None or raw.strip() == "":
        return None
    try:
        return int(float(raw.replace(",", "").strip()))
    except ValueError:
        errors.append(f"{name} must be a number (got “{raw}”).")
        return None


def _date(raw: str | None, name: str, errors: list[str], *, end: bool = False) -> datetime | None:
    if raw is None or raw.strip() == "":
        return None
    try:
        d = datetime.fromisoformat(raw.strip())
    except ValueError:
        errors.append(f"{name} must be a date like 2026-03-01 (got “{raw}”).")
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=UTC)
    if end and len(raw.strip()) <= 10:  # a whole day: include all of it
        d = datetime.combine(d.date(), time.min, tzinfo=UTC) + timedelta(days=1) - timedelta(microseconds=1)
    return d


def parse_list_query(qp: QueryParams) -> ListQuery:
    errors: list[str] = []
    industry = [v for v in qp.getlist("industry") if v.strip()]
    sources = [v for v in qp.getlist("lead_source") if v.strip()]
    grades = [g.upper() for g in qp.getlist("grade") if g.upper() in GRADES]
    outcome = [o for o in qp.getlist("outcome") if o in ("open", "converted", "lost")]
    size_min, size_max = _int(qp.get("size_min"), "Company size (from)", errors), \
        _int(qp.get("size_max"), "Company size (to)", errors)
    score_min, score_max = _int(qp.get("score_min"), "Score (from)", errors), \
        _int(qp.get("score_max"), "Score (to)", errors)
    created_from = _date(qp.get("created_from"), "Created from", errors)
    created_to = _date(qp.get("created_to"), "Created to", errors, end=True)
    job_title = (qp.get("job_title") or "").strip() or None
    q = (qp.get("q") or "").strip() or None
    filters = LeadFilters(industry=industry, lead_source=sources, grade=grades, outcome=outcome,
                          company_size_min=size_min, company_size_max=size_max, job_title=job_title,
                          min_score=score_min, max_score=score_max, created_from=created_from,
                          created_to=created_to, q=q)
    sort_by = qp.get("sort") or "score"
    if sort_by not in SORTABLE:
        errors.append(f"Cannot sort by “{sort_by}”; sorted by score instead.")
        sort_by = "score"
    descending = (qp.get("order") or ("desc" if sort_by in ("score", "probability", "created_at",
                                                              "company_size", "last_activity_date", "grade")
                                      else "asc")) != "asc"
    if sort_by == "grade":  # A is "high": descending grade means A first, i.e. ascending letters
        descending = not descending
    limit = _int(qp.get("limit"), "Page size", errors) or 50
    if limit not in PAGE_SIZES:
        limit = 50
    page = max(1, _int(qp.get("page"), "Page", errors) or 1)
    params: dict[str, object] = {
        "q": q or "", "industry": industry, "lead_source": sources, "grade": grades, "outcome": outcome,
        "job_title": job_title or "", "size_min": qp.get("size_min") or "", "size_max": qp.get("size_max") or "",
        "score_min": qp.get("score_min") or "", "score_max": qp.get("score_max") or "",
        "created_from": qp.get("created_from") or "", "created_to": qp.get("created_to") or "",
    }
    return ListQuery(filters=filters, sort=LeadSort(sort_by, descending), limit=limit,
                     cursor=qp.get("cursor") or None, page=page, params=params, errors=errors)


def display_order(sort: LeadSort) -> str:
    """The order as the user sees it in the column header ("desc" = best/biggest first)."""
    descending = not sort.descending if sort.by == "grade" else sort.descending
    return "desc" if descending else "asc"
