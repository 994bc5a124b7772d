"""A whole file as a leads DataFrame (the ml/ data contract) without storing anything:
``leadrank evaluate`` and ``leadrank score`` read files this way."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from leadrank.errors import InvalidInput
from leadrank.ingest.mapping import apply_overrides, suggest_mapping
from leadrank.ingest.readers import open_table
from leadrank.ingest.validate import Reject, coerce_lead_rows

CHUNK = 50_000
ROW_ID = "__leadrank_row"


def read_leads_frame(path: Path, *, target: str | None = None, mapping: dict[str, str] | None = None,
                     sheet: str | None = None, keep_duplicates: bool = True
                     ) -> tuple[pd.DataFrame, list[Reject], dict[str, str]]:
    """Rows of a file as lead records. ``target`` names the column holding the outcome.

    Returns (frame, rejects, mapping used). Every row gets a ``lead_id`` of the form
    ``row-<n>`` (its row number in the file), so results can be joined back.
    """
    reader = open_table(path, filename=path.name, sheet=sheet)
    suggested = suggest_mapping(reader.headers)
    overrides = dict(mapping or {})
    if target is not None:
        if target not in reader.headers:
            raise InvalidInput(f"target column {target!r} is not in the file; columns: {', '.join(reader.headers)}")
        for header, field in suggested.items():
            if field == "outcome" and header != target:
                overrides.setdefault(header, f"custom:{header}")
        overrides[target] = "outcome"
    # Each row is its own lead here, identified by its row number (files like survey or
    # campaign exports have no email or id); a file's own id column stays as an attribute.
    for header, field in suggested.items():
        if field == "external_id":
            overrides.setdefault(header, f"custom:{header}")
    headers = [*reader.headers, ROW_ID]
    overrides[ROW_ID] = "external_id"
    resolved = apply_overrides({**suggested, ROW_ID: "external_id"}, overrides)
    records: list[dict] = []
    rejects: list[Reject] = []
    now = datetime.now(UTC)
    for chunk in reader.iter_chunks(CHUNK):
        tagged = [(n, [*cells, f"row-{n}"]) for n, cells in chunk]
        recs, rej = coerce_lead_rows(tagged, headers, resolved, default_created_at=now)
        records.extend(recs)
        rejects.extend(rej)
    if not records:
        raise InvalidInput("no usable rows in the file" + (f": first problem row {rejects[0].row_number}, "
                                                          f"{rejects[0].reason}" if rejects else ""))
    frame = pd.DataFrame.from_records(records)
    customs = frame.pop("custom") if "custom" in frame else None
    if customs is not None and customs.map(bool).any():
        flat = pd.DataFrame.from_records([c or {} for c in customs], index=frame.index)
        flat.columns = [f"custom.{c}" for c in flat.columns]
        frame = pd.concat([frame, flat], axis=1)
    frame.insert(0, "lead_id", frame["external_id"])
    frame = frame.drop(columns=[c for c in ("dedupe_key", "content_hash") if c in frame])
    resolved.pop(ROW_ID, None)
    return frame, rejects, resolved
