"""Exports of the ranked list: CSV (streamed) and XLSX (constant memory), formula-safe."""

from __future__ import annotations

import csv
import io
import math
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

import xlsxwriter
from sqlalchemy.orm import Session

from leadrank.errors import InvalidInput
from leadrank.leads.filters import LeadFilters
from leadrank.leads.repository import LeadRepository
from leadrank.models import LEAD_FIELDS, Lead

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
BASE_COLUMNS = ("rank", "lead_id", *LEAD_FIELDS, "score", "conversion_probability", "grade",
                "grade_override", "score_kind", "top_reasons", "next_action")


def neutralise(value: object) -> object:
    """Cells a spreadsheet would run as a formula get a leading apostrophe (OWASP advice).
    Only text is touched: real numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def resolve_limit(total: int, top: int | None, top_percent: float | None) -> int | None:
    if top is not None and top_percent is not None:
        raise InvalidInput("give either top or top_percent, not both")
    if top is not None:
        if top < 1:
            raise InvalidInput("top must be at least 1")
        return top
    if top_percent is not None:
        if not 0 < top_percent <= 100:
            raise InvalidInput("top_percent must be between 0 and 100")
        return math.ceil(total * top_percent / 100)
    return None


def _row(rank: int, lead: Lead, custom_keys: list[str]) -> list[object]:
    exp = lead.explanation or {}
    values: list[object] = [rank, str(lead.id)]
    for name in LEAD_FIELDS:
        v = getattr(lead, name)
        values.append(v.isoformat() if isinstance(v, datetime) else v)
    reasons = list(exp.get("reasons_up") or [])[:3] + list(exp.get("reasons_down") or [])[:2]
    values += [
        None if lead.score is None else round(lead.score, 2),
        None if lead.conversion_probability is None else round(lead.conversion_probability, 4),
        lead.grade, lead.grade_override, lead.score_kind, "; ".join(reasons), exp.get("next_action"),
    ]
    custom = lead.custom or {}
    values += [custom.get(k) for k in custom_keys]
    return [neutralise(v) for v in values]


MAX_SELECTED = 5000


def _custom_keys(leads: Iterable[Lead]) -> list[str]:
    keys: list[str] = []
    for lead in leads:
        for k in lead.custom or {}:
            if k not in keys:
                keys.append(k)
    return keys


def _ranked_sample_keys(session: Session, workspace_id: uuid.UUID, filters: LeadFilters,
                        limit: int | None) -> list[str]:
    """Custom columns of an export: those of its first 2,000 leads (exports stream, so the
    header is fixed before the rest is read)."""
    return _custom_keys(LeadRepository(session).iter_ranked(workspace_id, filters,
                                                            limit=min(limit or 2000, 2000)))


def selected_leads(session: Session, workspace_id: uuid.UUID, ids: list[uuid.UUID]) -> list[Lead]:
    """Hand-picked leads (the list's checkboxes), best score first, at most MAX_SELECTED."""
    leads = LeadRepository(session).get_many(workspace_id, list(dict.fromkeys(ids))[:MAX_SELECTED])
    return sorted(leads, key=lambda lead: (-(lead.score if lead.score is not None else -1), str(lead.id)))


def csv_blocks(leads: Iterable[Lead], custom_keys: list[str]) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([*BASE_COLUMNS, *[f"custom.{k}" for k in custom_keys]])
    for rank, lead in enumerate(leads, 1):
        writer.writerow(_row(rank, lead, custom_keys))
        if rank % 2000 == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def xlsx_file(leads: Iterable[Lead], custom_keys: list[str], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(suffix=".xlsx", dir=directory, delete=False)
    handle.close()
    path = Path(handle.name)
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_formulas": False,
                                           "strings_to_urls": False})
    sheet = book.add_worksheet("Leads")
    sheet.write_row(0, 0, [*BASE_COLUMNS, *[f"custom.{k}" for k in custom_keys]], book.add_format({"bold": True}))
    for rank, lead in enumerate(leads, 1):
        sheet.write_row(rank, 0, [_xlsx_cell(v) for v in _row(rank, lead, custom_keys)])
    book.close()
    return path


def iter_csv(session: Session, workspace_id: uuid.UUID, filters: LeadFilters, *, limit: int | None) -> Iterator[str]:
    keys = _ranked_sample_keys(session, workspace_id, filters, limit)
    return csv_blocks(LeadRepository(session).iter_ranked(workspace_id, filters, limit=limit), keys)


def write_xlsx(session: Session, workspace_id: uuid.UUID, filters: LeadFilters, *, limit: int | None,
               directory: Path) -> Path:
    keys = _ranked_sample_keys(session, workspace_id, filters, limit)
    return xlsx_file(LeadRepository(session).iter_ranked(workspace_id, filters, limit=limit), keys, directory)


def iter_selected_csv(session: Session, workspace_id: uuid.UUID, ids: list[uuid.UUID]) -> Iterator[str]:
    leads = selected_leads(session, workspace_id, ids)
    return csv_blocks(leads, _custom_keys(leads))


def write_selected_xlsx(session: Session, workspace_id: uuid.UUID, ids: list[uuid.UUID], *,
                        directory: Path) -> Path:
    leads = selected_leads(session, workspace_id, ids)
    return xlsx_file(leads, _custom_keys(leads), directory)


def _xlsx_cell(value: object) -> object:
    if isinstance(value, (dict, list)):
        return str(value)
    return value
