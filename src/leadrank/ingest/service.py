"""Uploads: accept a file (or JSON leads), store it, start a job; the job reads it in chunks
and writes each chunk, its rejects and the job's checkpoint in one transaction."""

from __future__ import annotations

import csv
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.orm import Session

from leadrank.config import get_settings
from leadrank.errors import InvalidInput
from leadrank.ingest.mapping import (
    apply_activity_overrides,
    apply_overrides,
    suggest_activity_mapping,
    suggest_mapping,
)
from leadrank.ingest.readers import open_table
from leadrank.ingest.repository import advance_last_activity, lead_ids_by, store_activities
from leadrank.ingest.validate import LeadBatch
from leadrank.jobs.service import create_job
from leadrank.leads.repository import UPSERT_COLUMNS, LeadRepository
from leadrank.models import Job
from leadrank.models.base import utcnow

UPLOAD_KINDS = ("leads", "activities")
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class UploadPreview:
    headers: list[str]
    mapping: dict[str, str]
    rows: list[list[str]]
    format: str
    encoding: str | None
    delimiter: str | None


def upload_dir(job_key: str) -> Path:
    path = get_settings().data_dir / "uploads" / job_key
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_upload(stream: BinaryIO, filename: str) -> Path:
    """Copy an uploaded stream to disk in 1 MiB blocks (never the whole file in memory)."""
    settings = get_settings()
    limit = settings.max_upload_mb * 1024 * 1024
    name = SAFE_NAME.sub("_", Path(filename or "upload.csv").name)[:120] or "upload.csv"
    path = upload_dir(uuid.uuid4().hex) / name
    written = 0
    with path.open("wb") as out:
        while block := stream.read(1 << 20):
            written += len(block)
            if written > limit:
                out.close()
                path.unlink(missing_ok=True)
                raise InvalidInput(f"file is larger than the {settings.max_upload_mb} MB limit")
            out.write(block)
    if written == 0:
        path.unlink(missing_ok=True)
        raise InvalidInput("the uploaded file is empty")
    return path


def save_json_leads(leads: list[dict]) -> Path:
    """JSON uploads go through the same reader as files: write them as a UTF-8 CSV."""
    if not isinstance(leads, list) or not leads:
        raise InvalidInput('expected {"leads": [ {...}, ... ]} with at least one lead')
    headers: list[str] = []
    for i, lead in enumerate(leads, start=1):
        if not isinstance(lead, dict):
            raise InvalidInput(f"lead {i} is not an object")
        for key in lead:
            if key not in headers:
                headers.append(str(key))
    path = upload_dir(uuid.uuid4().hex) / "leads.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(headers)
        for lead in leads:
            writer.writerow([_json_cell(lead.get(h)) for h in headers])
    return path


def _json_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def resolve_mapping(headers: list[str], kind: str, overrides: dict[str, str] | None) -> dict[str, str]:
    if kind == "activities":
        suggested = suggest_activity_mapping(headers)
        return apply_activity_overrides(suggested, overrides) if overrides else suggested
    suggested = suggest_mapping(headers)
    return apply_overrides(suggested, overrides) if overrides else suggested


def preview_upload(path: Path, *, kind: str = "leads", sheet: str | None = None,
                   mapping: dict[str, str] | None = None, rows: int = 10) -> UploadPreview:
    reader = open_table(path, filename=path.name, sheet=sheet)
    return UploadPreview(
        headers=reader.headers,
        mapping=resolve_mapping(reader.headers, kind, mapping),
        rows=reader.preview(rows),
        format=reader.format,
        encoding=getattr(reader, "encoding", None),
        delimiter=getattr(reader, "delimiter", None),
    )


def start_upload(session: Session, workspace_id: uuid.UUID, path: Path, *, filename: str,
                 kind: str = "leads", sheet: str | None = None,
                 mapping: dict[str, str] | None = None) -> Job:
    """Check the file can be read and the mapping is valid now (so the user hears at once),
    then queue the job that does the work."""
    if kind not in UPLOAD_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(UPLOAD_KINDS)}")
    reader = open_table(path, filename=filename, sheet=sheet)
    resolved = resolve_mapping(reader.headers, kind, mapping)
    return create_job(session, workspace_id, "leads.upload", {
        "path": str(path), "filename": filename, "kind": kind, "sheet": sheet,
        "mapping": resolved, "headers": reader.headers,
    })


# --- the chunk writers (called by the job, inside its per-chunk transaction) ---------------

def write_lead_chunk(session: Session, workspace_id: uuid.UUID, job_id: uuid.UUID,
                     batch: LeadBatch, now: datetime, *, score_as_of: datetime | None = None) -> dict[str, int]:
    """Insert new leads, update changed ones, leave identical ones alone. Returns counts
    (``changed``: the leads inserted or updated, which need scoring). With ``score_as_of``
    new leads are stored scored (see :func:`leadrank.scoring.service.score_new_leads`)."""
    repo = LeadRepository(session)
    keys, hashes = batch.dedupe_key, batch.content_hash
    by_key = dict(zip(keys, range(len(keys))))  # key -> its last row: a later row in the file wins
    existing = repo.find_by_keys(workspace_id, by_key)
    inserts: list[int] | None = None  # row positions; None = every row
    updates: list[dict] = []
    unchanged = 0
    if existing or len(by_key) < len(keys):
        inserts = []
        for key, pos in by_key.items():
            found = existing.get(key)
            if found is None:
                inserts.append(pos)
            elif found[1] == hashes[pos]:
                unchanged += 1
            else:
                updates.append(_update_row(batch.record(pos), found[0], job_id, now))
    if updates:
        _merge_custom(repo, workspace_id, updates)
    created = _insert_new(repo, workspace_id, job_id, batch, inserts, now, score_as_of)
    repo.update_leads(updates)
    return {
        "created": created,
        "updated": len(updates),
        "unchanged": unchanged,
        "duplicates_in_file": len(keys) - len(by_key),
        "changed": created + len(updates),
    }


def _update_row(rec: dict, lead_id: uuid.UUID, job_id: uuid.UUID, now: datetime) -> dict:
    """The columns an upload sets on an existing lead: the values it provides."""
    row = {c: rec[c] for c in UPSERT_COLUMNS if rec.get(c) is not None}
    if rec.get("created_at") is not None:
        row["created_at"] = rec["created_at"]
    row.update(id=lead_id, content_hash=rec["content_hash"], updated_at=now, upload_job_id=job_id)
    if rec.get("custom"):
        row["custom"] = rec["custom"]
    return row


def _insert_new(repo: LeadRepository, workspace_id: uuid.UUID, job_id: uuid.UUID, batch: LeadBatch,
                positions: list[int] | None, now: datetime, score_as_of: datetime | None) -> int:
    """Insert the batch's rows at ``positions`` (None: all) as new leads; with ``score_as_of``,
    already scored by the active model when it can (one write per lead instead of two)."""
    from leadrank.scoring.repository import ScoringRepository
    from leadrank.scoring.service import score_new_leads

    columns, constants = new_lead_columns(workspace_id, job_id, batch, positions, now)
    if not columns["dedupe_key"]:
        return 0
    scored = score_as_of is not None and score_new_leads(repo.session, workspace_id, columns, constants,
                                                         as_of=score_as_of)
    ids = repo.insert_lead_columns(columns, constants)
    if scored:
        ScoringRepository(repo.session).record_new_scores(workspace_id, ids, columns, constants)
    return len(columns["dedupe_key"])


def new_lead_columns(workspace_id: uuid.UUID, job_id: uuid.UUID, batch: LeadBatch,
                     positions: list[int] | None, now: datetime
                     ) -> tuple[dict[str, list], dict[str, object]]:
    """The columns of new leads for the batch's rows at ``positions`` (None: all), and the
    values every one of them shares. Fields the file does not map are left out (NULL); a
    missing outcome is "open"."""

    def take(col: list) -> list:
        return col if positions is None else [col[i] for i in positions]

    columns: dict[str, list] = {}
    for name in UPSERT_COLUMNS:
        col = batch.column(name)
        if col is not None:
            columns[name] = take(col)
    constants: dict[str, object] = {
        "workspace_id": workspace_id, "consent": {}, "updated_at": now, "upload_job_id": job_id,
        "sort_score": -1.0,
    }
    if "outcome" in columns:
        columns["outcome"] = [o or "open" for o in columns["outcome"]]
    else:
        constants["outcome"] = "open"
    created = batch.column("created_at") or [None] * len(batch)
    columns["created_at"] = [d or now for d in take(created)]
    columns["dedupe_key"] = take(batch.dedupe_key)
    columns["content_hash"] = take(batch.content_hash)
    columns["custom"] = take(batch.custom)
    return columns, constants


def _merge_custom(repo: LeadRepository, workspace_id: uuid.UUID, updates: list[dict]) -> None:
    """Custom attributes of a newer upload overwrite by key; keys it lacks are kept."""
    needing = [u for u in updates if "custom" in u]
    if not needing:
        return
    current = {lead.id: lead.custom or {} for lead in repo.get_many(workspace_id, [u["id"] for u in needing])}
    for row in needing:
        row["custom"] = {**current.get(row["id"], {}), **row["custom"]}
    repo.session.expunge_all()


def write_activity_chunk(session: Session, workspace_id: uuid.UUID, records: list[dict]
                         ) -> tuple[int, int, list[dict]]:
    """Attach activities to leads by id, external id or email. Returns (stored, skipped as
    already stored, rejects for unknown leads)."""
    repo = LeadRepository(session)
    by_email = lead_ids_by(session, workspace_id, "email", (r.get("lead_email") for r in records))
    by_ext = lead_ids_by(session, workspace_id, "external_id", (r.get("lead_external_id") for r in records))
    direct_ids: set[uuid.UUID] = set()
    raw_ids = [r.get("lead_id") for r in records if r.get("lead_id")]
    for lead in repo.get_many(workspace_id, [_as_uuid(i) for i in raw_ids if _as_uuid(i)]):
        direct_ids.add(lead.id)
    rows, rejects = [], []
    latest: dict[uuid.UUID, datetime] = {}
    for rec in records:
        lead_id = None
        if rec.get("lead_id") and _as_uuid(rec["lead_id"]) in direct_ids:
            lead_id = _as_uuid(rec["lead_id"])
        elif rec.get("lead_external_id") and rec["lead_external_id"] in by_ext:
            lead_id = by_ext[rec["lead_external_id"]]
        elif rec.get("lead_email") and rec["lead_email"] in by_email:
            lead_id = by_email[rec["lead_email"]]
        if lead_id is None:
            ref = rec.get("lead_id") or rec.get("lead_external_id") or rec.get("lead_email")
            rejects.append({"row_number": rec.get("row_number", 0), "field": "lead",
                            "reason": f"no lead {ref!r} in this workspace", "raw": rec.get("raw", {})})
            continue
        rows.append({
            "workspace_id": workspace_id, "lead_id": lead_id,
            "activity_type": rec["activity_type"], "activity_date": rec["activity_date"],
            "description": rec.get("description"), "source": rec.get("source"),
            "dedupe_key": rec["dedupe_key"], "created_at": utcnow(),
        })
        if rec["activity_date"] > latest.get(lead_id, rec["activity_date"]) or lead_id not in latest:
            latest[lead_id] = rec["activity_date"]
    stored = store_activities(session, rows)
    advance_last_activity(session, workspace_id, latest)
    return stored, len(rows) - stored, rejects


def _as_uuid(value: object) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        return None
