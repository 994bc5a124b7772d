"""The ``leads.upload`` job: read the stored file chunk by chunk, resumably."""

from __future__ import annotations

import dataclasses
import logging
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from leadrank.allocation import gc_paused
from leadrank.config import get_settings
from leadrank.db import session_scope
from leadrank.errors import InvalidInput
from leadrank.ingest.readers import open_table
from leadrank.ingest.validate import coerce_activity_rows, coerce_lead_batch
from leadrank.ingest.service import write_activity_chunk, write_lead_chunk
from leadrank.jobs import testing
from leadrank.jobs.context import JobContext
from leadrank.jobs.registry import job_handler
from leadrank.jobs.repository import JobRepository
from leadrank.models import Job
from leadrank.models.base import utcnow

log = logging.getLogger(__name__)

#: An upload that inserts or updates this many leads refreshes the table's statistics.
REFRESH_STATISTICS_AFTER = 10_000
COUNTERS = ("rows_read", "created", "updated", "unchanged", "duplicates_in_file", "rejected",
            "activities_stored", "activities_already_stored")


def estimate_rows(path: Path) -> int | None:
    """A quick line count (C speed) so the progress bar has a denominator."""
    if path.suffix.lower() in (".xlsx", ".xlsm", ".xls", ".ods"):
        return None
    newline = b"\n"
    with path.open("rb") as fh:
        head = fh.read(2)
        if head in (b"\xff\xfe", b"\xfe\xff"):
            newline = b"\n\x00" if head == b"\xff\xfe" else b"\x00\n"
        fh.seek(0)
        lines = sum(block.count(newline) for block in iter(lambda: fh.read(1 << 22), b""))
    return max(lines - 1, 0)


T = TypeVar("T")


@contextmanager
def read_ahead(chunks: Iterator[list], work: Callable[[list], T]
               ) -> Iterator[Iterator[tuple[list, T]]]:
    """``(chunk, work(chunk))`` for each non-empty chunk, the next one read and worked on in
    a background thread while the caller writes the current one. Reading and coercing is
    Python work; writing mostly waits on the database, which releases the GIL, so the two
    overlap. An error of the reader or of ``work`` surfaces in the caller at the chunk it
    belongs to (after the chunks before it were written); leaving early waits for the
    chunk in progress."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="upload-read-ahead")

    def produce() -> tuple[list, T] | None:
        for chunk in chunks:
            if chunk:
                return chunk, work(chunk)
        return None

    def results() -> Iterator[tuple[list, T]]:
        future = pool.submit(produce)
        while (item := future.result()) is not None:
            future = pool.submit(produce)
            yield item

    try:
        yield results()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@job_handler("leads.upload")
def run_upload(ctx: JobContext) -> dict:
    params = ctx.params
    path = Path(params["path"])
    if not path.exists():
        raise InvalidInput(f"the uploaded file {params.get('filename')!r} is no longer on disk")
    reader = open_table(path, filename=params.get("filename"), sheet=params.get("sheet"))
    headers, mapping, kind = reader.headers, params["mapping"], params.get("kind", "leads")
    start_row = int(ctx.checkpoint.get("next_row", 2))
    # ``chunk_rows`` in the params overrides the setting (the crash tests cut a small file
    # into many chunks without restarting their workers).
    chunk_rows = int(params.get("chunk_rows") or get_settings().upload_chunk_rows)
    with session_scope() as session:
        job = session.get(Job, ctx.job_id)
        started = job.created_at if job else utcnow()
        if start_row > 2:
            # Resuming: rejects past the checkpoint belong to a chunk that never committed.
            JobRepository(session).delete_rejects_from(ctx.job_id, start_row)
        for key in COUNTERS:
            ctx.progress.setdefault(key, 0)
        ctx.save(session, set_={"rows_total_estimate": estimate_rows(path), "kind": kind})

    def coerce(chunk: list) -> tuple[object, list]:  # runs in the read-ahead thread
        if kind == "activities":
            return coerce_activity_rows(chunk, headers, mapping)
        return coerce_lead_batch(chunk, headers, mapping, default_created_at=started)

    def write(chunk: list, coerced: object, rejects: list, before: Future | None = None) -> int:
        """Write one chunk in its own transaction, committed after the chunk ``before`` it
        (whose failure rolls this one back). Returns the leads it inserted or updated."""
        changed = 0
        with session_scope() as session:
            add = {"rows_read": len(chunk)}
            if kind == "activities":
                stored, skipped, lead_rejects = write_activity_chunk(session, ctx.workspace_id, coerced)
                reject_rows = [_reject_row(r) for r in rejects] + lead_rejects
                add.update(activities_stored=stored, activities_already_stored=skipped)
            else:
                counts = write_lead_chunk(session, ctx.workspace_id, ctx.job_id, coerced, utcnow(),
                                          score_as_of=started)
                changed = counts.pop("changed")
                reject_rows = [_reject_row(r) for r in rejects]
                add.update(counts)
            if before is not None:
                before.result()  # the checkpoint only moves forward, chunk by chunk in file order
            add["rejected"] = len(reject_rows)
            JobRepository(session).add_rejects(ctx.job_id, reject_rows)
            ctx.save(session, checkpoint={"next_row": chunk[-1][0] + 1}, add=add)
            testing.after_chunk_writes(params, (chunk[0][0] - 2) // chunk_rows)  # no-op outside tests
        ctx.chunk_done()
        return changed

    chunks = reader.iter_chunks(chunk_rows, start_row=start_row)
    with gc_paused(), read_ahead(chunks, coerce) as ready:
        if kind == "leads" and _writers() > 1:
            changed = _write_overlapped(ready, write, _writers())
        else:
            changed = sum(write(chunk, coerced, rejects) for chunk, (coerced, rejects) in ready)

    result = {k: ctx.progress.get(k, 0) for k in COUNTERS}
    result["kind"] = kind
    if result["rows_read"] == 0 and start_row == 2:
        raise InvalidInput("the file has a header but no data rows")
    _after_upload(ctx, kind, changed, started)
    if changed >= REFRESH_STATISTICS_AFTER:
        _refresh_statistics(ctx)
    return result


def _writers() -> int:
    """Chunks of a lead upload written at once: on PostgreSQL a chunk's COPY (every index of
    every new lead) is the upload's bottleneck and runs in one server process; two chunks in
    flight keep a second one busy. SQLite has one writer."""
    from leadrank.db import get_engine

    return max(1, get_settings().upload_writers) if get_engine().dialect.name == "postgresql" else 1


def _write_overlapped(ready: Iterator[tuple[list, tuple[object, list]]],
                      write: Callable[..., int], writers: int) -> int:
    """Write chunks ``writers`` at a time, each in its own transaction, committed in file order.

    Chunks are independent unless they share a dedupe key (the same lead twice in the file,
    a later row winning): a chunk holding a key of a chunk still in flight waits for it to
    commit first, so it finds that lead stored and updates it. A chunk that fails rolls back
    every chunk after it; the checkpoint names the first row not committed, as when written
    one by one."""
    in_flight: deque[tuple[Future, set[str]]] = deque()
    changed = 0
    with ThreadPoolExecutor(max_workers=writers, thread_name_prefix="upload-writer") as pool:
        try:
            for chunk, (coerced, rejects) in ready:
                keys = set(coerced.dedupe_key)
                while in_flight and (len(in_flight) >= writers
                                     or any(not keys.isdisjoint(k) for _, k in in_flight)):
                    changed += in_flight.popleft()[0].result()
                before = in_flight[-1][0] if in_flight else None
                in_flight.append((pool.submit(write, chunk, coerced, rejects, before), keys))
            while in_flight:
                changed += in_flight.popleft()[0].result()
        finally:
            for future, _ in in_flight:  # after an error: let the others roll back before leaving
                future.exception()
    return changed


def _refresh_statistics(ctx: JobContext) -> None:
    """Fresh planner statistics for the list once many leads arrived (see
    :func:`leadrank.leads.repository.refresh_lead_statistics`), while the follow-up jobs
    queued above already run. Only an optimisation: a failure is logged, not the job's."""
    from leadrank.db import get_engine
    from leadrank.leads.repository import refresh_lead_statistics

    try:
        refresh_lead_statistics(get_engine())
    except Exception as exc:  # noqa: BLE001 - the upload itself is committed and complete
        log.warning("could not refresh the leads table's statistics after upload %s: %s", ctx.job_id, exc,
                    extra={"job_id": str(ctx.job_id)})


def _reject_row(reject) -> dict:  # noqa: ANN001 - ingest.validate.Reject
    data = dataclasses.asdict(reject) if dataclasses.is_dataclass(reject) else dict(reject)
    return {"row_number": data["row_number"], "field": data.get("field"), "reason": data["reason"],
            "raw": data.get("raw") or {}}


def _after_upload(ctx: JobContext, kind: str, changed: int, started: datetime) -> None:
    """Changed leads get scored, new ones their reasons (they were stored scored when a model
    was active), and all are embedded, by follow-up jobs."""
    from leadrank.leads.repository import LeadRepository
    from leadrank.scoring.service import schedule_after_upload

    with session_scope() as session:
        schedule_after_upload(session, ctx.workspace_id, kind=kind, lead_count=changed,
                              upload_job_id=ctx.job_id, scored_as_of=started)
        LeadRepository(session).compact_counts(ctx.workspace_id)  # one row per chunk, folded into one
