"""Export of hand-picked leads (the list's checkboxes), in the same columns as the ranked
export. Belongs in ``leads/export.py`` next to ``iter_csv`` (it reuses that module's row
builder); it lives here only because the web package may not edit the leads package."""

from __future__ import annotations

import csv
import io
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import xlsxwriter
from sqlalchemy.orm import Session

from leadrank.leads import export
from leadrank.leads.repository import LeadRepository
from leadrank.models import Lead

MAX_SELECTED = 5000


def _ranked(session: Session, workspace_id: uuid.UUID, ids: list[uuid.UUID]) -> list[Lead]:
    leads = LeadRepository(session).get_many(workspace_id, list(dict.fromkeys(ids))[:MAX_SELECTED])
    return sorted(leads, key=lambda lead: (-(lead.score if lead.score is not None else -1), str(lead.id)))


def _columns(leads: list[Lead]) -> tuple[list[str], list[str]]:
    custom: list[str] = []
    for lead in leads:
        for key in lead.custom or {}:
            if key not in custom:
                custom.append(key)
    return [*export.BASE_COLUMNS, *[f"custom.{k}" for k in custom]], custom


def iter_selected_csv(session: Session, workspace_id: uuid.UUID, ids: list[uuid.UUID]) -> Iterator[str]:
    leads = _ranked(session, workspace_id, ids)
    header, custom = _columns(leads)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    for rank, lead in enumerate(leads, 1):
        writer.writerow(export._row(rank, lead, custom))  # noqa: SLF001 - see module docstring
    yield buf.getvalue()


def write_selected_xlsx(session: Session, workspace_id: uuid.UUID, ids: list[uuid.UUID], *,
                        directory: Path) -> Path:
    leads = _ranked(session, workspace_id, ids)
    header, custom = _columns(leads)
    directory.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(suffix=".xlsx", dir=directory, delete=False)
    handle.close()
    path = Path(handle.name)
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_formulas": False,
                                           "strings_to_urls": False})
    sheet = book.add_worksheet("Leads")
    sheet.write_row(0, 0, header, book.add_format({"bold": True}))
    for rank, lead in enumerate(leads, 1):
        sheet.write_row(rank, 0, [export._xlsx_cell(v) for v in export._row(rank, lead, custom)])  # noqa: SLF001
    book.close()
    return path
