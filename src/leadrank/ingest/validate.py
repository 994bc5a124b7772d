"""Turn string rows into typed lead / activity records, or rejects that say why.

Each cell goes through a value parser of :mod:`leadrank.ingest.parsers` (cleaning, emails,
numbers, dates, outcome, website, names: the value rules live there). Rules for rows and
columns (the contract the upload job and the UI rely on):

* **Rows.** A row whose cells are all empty is skipped silently. A row with more
  non-empty cells than the header is rejected (``field=None``). A row with no email,
  external id, name or company is rejected (``field=None``). All field problems of a row
  are reported together in *one* reject: ``reason`` joins them with ``"; "`` and
  ``field`` is the failing field, or the failing fields joined with ``", "``. Field
  messages name the column they came from.
* **Date columns.** ``a/b/yyyy`` is month-first unless impossible — *and* when a chunk's
  column holds an impossible month-first value and no impossible day-first one, the whole
  column is read day-first (the decision sticks for later chunks that carry no
  evidence). ``date_order="mdy"`` or ``"dmy"`` pins it.
* **Outcome.** An empty outcome stays ``None`` (= "not provided": a re-upload without the
  column must not reset a lead the CRM marked converted).
* **full_name** fills ``first_name`` / ``last_name`` only where they are empty.
* **custom** values are kept as cleaned *strings* (never typed: zip codes and ids keep
  their zeros); empty custom cells are left out of the dict.
* **created_at** defaults to ``default_created_at`` when the file has none.
* **content_hash** = md5 of the typed record in ``LEAD_FIELDS`` order plus the sorted
  custom items, computed *before* ``created_at`` is defaulted, so re-uploading the same
  file gives the same hash whatever the column order. **dedupe_key** = ``ext:<id>``,
  else ``email:<email>``, else ``row:<sha1 of the same canonical text>[:32]``.
* Records are returned one per stored-able row, in row order; two rows of one file may
  share a ``dedupe_key`` (the writer decides: later row wins, and counts duplicates).
* Activity records also carry ``row_number`` and ``raw`` so the writer can reject a row
  whose lead does not exist with its true row number.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from itertools import repeat
from operator import attrgetter, itemgetter
from typing import Literal

from leadrank.errors import InvalidInput
from leadrank.ingest.mapping import ACTIVITY_TARGETS, CUSTOM_PREFIX, FULL_NAME, IGNORE, snake_name
from leadrank.ingest.parsers import (
    NULL_TOKENS,
    _one_line,
    clean_text,
    detect_day_first,
    normalize_activity_type,
    normalize_phone,
    normalize_website,
    parse_company_size,
    parse_datetime,
    parse_email,
    parse_outcome,
    parse_revenue,
    split_full_name,
)
from leadrank.models.activity import Activity
from leadrank.models.lead import LEAD_FIELDS, Lead

__all__ = [
    "ActivityCoercer",
    "LeadCoercer",
    "Reject",
    "coerce_activity_rows",
    "coerce_lead_rows",
]

DateOrder = Literal["auto", "mdy", "dmy"]


@dataclass(slots=True)
class Reject:
    """A row that was not stored: where (row, field) and why, with its raw cells."""

    row_number: int
    field: str | None
    reason: str
    raw: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        where = f"row {self.row_number}" + (f", {self.field}" if self.field else "")
        return f"{where}: {self.reason}"


# --------------------------------------------------------------------------------------
# Column plans. Coercion runs column by column over a chunk: each column's routine is
# chosen once, runs in a tight comprehension, and memoises low-cardinality columns by
# their raw cell text (sizes, stages, industries, dates, domains repeat a lot).
# --------------------------------------------------------------------------------------

_CACHE_LIMIT = 50_000
_NULLS = frozenset(
    form for t in NULL_TOKENS for form in (t, t.upper(), t.title(), t.capitalize())
)
_DATE_FIELDS = frozenset({"outcome_date", "last_activity_date", "created_at"})
# "%s" is unambiguous here: each position has one type, and no cleaned text is "None".
_CANON_FORMAT = "\x1f".join(["%s"] * len(LEAD_FIELDS))
_FIRST_AT, _LAST_AT = LEAD_FIELDS.index("first_name"), LEAD_FIELDS.index("last_name")
try:  # CPython's own MD5: much cheaper per call than OpenSSL 3's for short inputs
    from _md5 import md5 as _md5  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover
    _md5 = hashlib.md5
_CACHED_TEXT = frozenset({"industry", "country", "lead_source", "campaign", "job_title",
                          "location", "source"})


class _Err:
    """A field problem, returned (not raised) so columns can run in comprehensions."""

    __slots__ = ("field", "message")

    def __init__(self, field_name: str, message: str) -> None:
        self.field = field_name
        self.message = message


def _column_lengths(table: type) -> dict[str, int]:
    out: dict[str, int] = {}
    for col in table.__table__.columns:  # type: ignore[attr-defined]
        length = getattr(col.type, "length", None)
        if length:
            out[col.name] = int(length)
    return out


_LEAD_LENGTHS = _column_lengths(Lead)
_ACTIVITY_LENGTHS = _column_lengths(Activity)


def _label(field_name: str) -> str:
    return field_name.replace("_", " ")


def _text_routine(field_name: str, header: str, limit: int, one_line: bool = True):  # noqa: ANN202
    def run(v: str) -> object:
        if v.isascii():
            v = v.strip()
            if not v or (len(v) <= 9 and v in _NULLS):
                return None
        else:
            cleaned = clean_text(v)
            if cleaned is None:
                return None
            v = cleaned
        if one_line:
            if "  " in v or not v.isprintable():
                v = " ".join(v.split())
        elif "\r" in v:
            v = v.replace("\r\n", "\n")
        if limit and len(v) > limit:
            return _Err(field_name, f"{_label(field_name)} is {len(v)} characters long "
                                    f"(limit {limit}) (column '{header}')")
        return v

    return run


def _parse_routine(field_name: str, header: str, parse: Callable[[str], object],
                   limit: int = 0, prefix: str = ""):  # noqa: ANN202
    def run(v: str) -> object:
        c = clean_text(v)
        if c is None:
            return None
        try:
            out = parse(c)
        except ValueError as exc:
            return _Err(field_name, f"{prefix}{exc} (column '{header}')")
        if limit and len(out) > limit:  # type: ignore[arg-type]
            return _Err(field_name, f"{_label(field_name)} is longer than {limit} characters "
                                    f"(column '{header}')")
        return out

    return run


def _cached(routine: Callable[[str], object]) -> Callable[[str], object]:
    """Memoise a column routine by raw cell text (bounded)."""
    cache: dict[str, object] = {}
    get = cache.get
    miss = cache  # any unique object

    def run(v: str) -> object:
        r = get(v, miss)
        if r is miss:
            r = routine(v)
            if len(cache) < _CACHE_LIMIT:
                cache[v] = r
        return r

    return run


class _DateColumn:
    """A date column: two memoised parsers (month-first, day-first) and the decision
    between them, made per chunk and remembered for chunks without evidence."""

    def __init__(self, field_name: str, header: str, order: DateOrder, naive_tz: tzinfo) -> None:
        self.order = order
        self.sticky = order == "dmy"
        prefix = f"{_label(field_name)}: "

        def parser(dayfirst: bool) -> Callable[[str], object]:
            return _cached(_parse_routine(
                field_name, header,
                lambda v: parse_datetime(v, dayfirst=dayfirst, naive_tz=naive_tz),
                prefix=prefix))

        self._parsers = {False: parser(False), True: parser(True)}

    def for_chunk(self, values: list[str]) -> Callable[[str], object]:
        if self.order == "auto":
            first = next((v for v in values if v and not v.isspace()), "").strip()
            if not (first[:4].isdigit() and first[4:5] == "-"):
                found = detect_day_first(values)
                if found is not None:
                    self.sticky = found
        return self._parsers[self.sticky]


@dataclass(slots=True)
class _Column:
    index: int
    header: str
    target: str  # a field, "full_name", or the custom key
    custom: bool = False
    routine: Callable[[str], object] | None = None
    date: _DateColumn | None = None
    memo: Callable[[str], object] | None = None  # a memoised twin, for repetitive columns

    def routine_for(self, values: list[str]) -> Callable[[str], object]:
        if self.date is not None:
            return self.date.for_chunk(values)
        if self.memo is not None and len(set(values)) * 2 < len(values):
            return self.memo
        return self.routine  # type: ignore[return-value]


def _adaptive(col: _Column) -> _Column:
    """Memoise a text column only when a chunk shows it repeats (tiers, states, names)."""
    col.memo = _cached(col.routine)  # type: ignore[arg-type]
    return col


def _lead_column(i: int, header: str, target: str, order: DateOrder, tz: tzinfo) -> _Column:
    limit = _LEAD_LENGTHS.get(target, 0)
    if target.startswith(CUSTOM_PREFIX):
        return _adaptive(_Column(i, header, target[len(CUSTOM_PREFIX):], True,
                                 _text_routine(target, header, 0, one_line=False)))
    if target == FULL_NAME:
        return _Column(i, header, target, routine=_text_routine(target, header, 0))
    if target in _DATE_FIELDS:
        return _Column(i, header, target, date=_DateColumn(target, header, order, tz))
    if target in _CACHEABLE_PARSERS:
        return _Column(i, header, target, routine=_cached(_parse_routine(
            target, header, _CACHEABLE_PARSERS[target],
            limit=limit if target == "website" else 0)))
    if target == "email":
        return _Column(i, header, target, routine=_parse_routine(target, header, parse_email))
    if target == "phone":
        return _Column(i, header, target,
                       routine=_parse_routine(target, header, normalize_phone, limit=limit))
    if target == "description":
        return _Column(i, header, target, routine=_text_routine(target, header, 0, False))
    if target in LEAD_FIELDS:
        routine = _text_routine(target, header, limit)
        if target in _CACHED_TEXT:
            return _Column(i, header, target, routine=_cached(routine))
        return _adaptive(_Column(i, header, target, routine=routine))
    raise InvalidInput(f"Column '{header}' is mapped to unknown field '{target}'.")


_CACHEABLE_PARSERS: dict[str, Callable[[str], object]] = {
    "company_size": parse_company_size,
    "annual_revenue": parse_revenue,
    "outcome": parse_outcome,
    "website": normalize_website,
}


def _build_columns(
    headers: list[str], mapping: dict[str, str], *, lead: bool, order: DateOrder, tz: tzinfo
) -> list[_Column]:
    cols: list[_Column] = []
    seen: dict[str, str] = {}
    for i, header in enumerate(headers):
        target = mapping.get(header)
        if target is None:
            # Never drop a lead column the mapping forgot; activities have no custom fields.
            target = CUSTOM_PREFIX + (snake_name(header) or f"column_{i + 1}") if lead else IGNORE
        if target == IGNORE:
            continue
        if target in seen:
            raise InvalidInput(
                f"Columns '{seen[target]}' and '{header}' are both mapped to '{target}'; a "
                "field takes one column."
            )
        seen[target] = header
        cols.append(_lead_column(i, header, target, order, tz) if lead
                    else _activity_column(i, header, target, order, tz))
    return cols


def _raw(headers: list[str], cells: list[str]) -> dict[str, str]:
    raw = dict(zip(headers, cells, strict=False))
    for j in range(len(headers), len(cells)):
        raw[f"(extra cell {j + 1})"] = cells[j]
    return raw


def _reject_from(row_number: int, errors: list[_Err], raw: dict[str, str]) -> Reject:
    fields = list(dict.fromkeys(e.field for e in errors))
    field_name = ", ".join(fields)
    if len(field_name) > 200:
        field_name = fields[0]
    return Reject(row_number, field_name, "; ".join(e.message for e in errors), raw)


class _Coercer:
    """Shared chunk mechanics: width checks, running the columns, collecting errors."""

    headers: list[str]
    columns: list[_Column]

    def _run(
        self, rows: Sequence[tuple[int, list[str]]]
    ) -> tuple[list[int], list[list[str]], list[list[object]], dict[int, list[_Err]],
               list[Reject]]:
        headers = self.headers
        width = len(headers)
        numbers = [rn for rn, _ in rows]
        cells_list = [c for _, c in rows]
        rejects: list[Reject] = []
        if set(map(len, cells_list)) != {width} and cells_list:
            kept_n: list[int] = []
            kept_c: list[list[str]] = []
            for rn, cells in rows:
                n = len(cells)
                if n < width:
                    cells = cells + [""] * (width - n)
                elif n > width:
                    last = n
                    while last > width and not cells[last - 1].strip():
                        last -= 1
                    if last > width:
                        rejects.append(Reject(rn, None, f"row has {last} cells, header has "
                                              f"{width}", _raw(headers, cells)))
                        continue
                    cells = cells[:width]
                kept_n.append(rn)
                kept_c.append(cells)
            numbers, cells_list = kept_n, kept_c
        outs: list[list[object]] = []
        errors: dict[int, list[_Err]] = {}
        for col in self.columns:
            values = list(map(itemgetter(col.index), cells_list))
            run = col.routine_for(values)
            out = [run(v) if v else None for v in values]
            if _Err in set(map(type, out)):
                for pos, r in enumerate(out):
                    if type(r) is _Err:
                        errors.setdefault(pos, []).append(r)  # type: ignore[arg-type]
            outs.append(out)
        return numbers, cells_list, outs, errors, rejects


# --------------------------------------------------------------------------------------
# Leads
# --------------------------------------------------------------------------------------


class LeadCoercer(_Coercer):
    """Coerces the chunks of one upload. Keeps per-column value caches and the day-first
    decision of each date column from one chunk to the next."""

    def __init__(
        self,
        headers: list[str],
        mapping: dict[str, str],
        *,
        default_created_at: datetime,
        date_order: DateOrder = "auto",
        naive_tz: tzinfo = UTC,
    ) -> None:
        if date_order not in ("auto", "mdy", "dmy"):
            raise InvalidInput(f"date_order must be auto, mdy or dmy, not '{date_order}'.")
        self.headers = list(headers)
        self.columns = _build_columns(self.headers, mapping, lead=True, order=date_order,
                                      tz=naive_tz)
        self.set_default_created_at(default_created_at)

    def set_default_created_at(self, value: datetime) -> None:
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        self.default_created_at = value.astimezone(UTC)

    def __call__(self, rows: Sequence[tuple[int, list[str]]]) -> tuple[list[dict], list[Reject]]:
        numbers, cells_list, outs, errors, rejects = self._run(rows)
        columns = self.columns
        field_idx = [k for k, c in enumerate(columns) if not c.custom]
        # Custom columns sorted by key: the dict and the hash come out column-order free.
        custom_idx = sorted((k for k, c in enumerate(columns) if c.custom),
                            key=lambda k: columns[k].target)
        names = [columns[k].target for k in field_idx]
        custom_names = [columns[k].target for k in custom_idx]
        no_columns = repeat(())
        field_rows = zip(*[outs[k] for k in field_idx], strict=False) if field_idx else no_columns
        custom_rows = (zip(*[outs[k] for k in custom_idx], strict=False) if custom_idx
                       else repeat(()))
        # The canonical form: every lead field in LEAD_FIELDS order (None when unmapped),
        # datetimes as POSIX timestamps, built column-wise for speed.
        by_field = {columns[k].target: outs[k] for k in field_idx}
        canon_cols: list = []
        for f in LEAD_FIELDS:
            col = by_field.get(f)
            if col is None:
                canon_cols.append(repeat(None))
            elif f in _DATE_FIELDS:
                canon_cols.append([d.timestamp() if d.__class__ is datetime else None
                                   for d in col])
            else:
                canon_cols.append(col)
        canon_rows = zip(*canon_cols, strict=False)
        has_full_name = FULL_NAME in names
        n_fields, n_custom = len(names), len(custom_names)
        template = dict.fromkeys(LEAD_FIELDS)
        default_created_at = self.default_created_at
        md5, sha1, fmt = _md5, hashlib.sha1, _CANON_FORMAT
        records: list[dict] = []
        headers = self.headers

        for pos, (row_number, vals, cvals, canon) in enumerate(
            zip(numbers, field_rows, custom_rows, canon_rows, strict=False)
        ):
            if vals.count(None) == n_fields and cvals.count(None) == n_custom:
                continue  # blank (or placeholders only)
            if errors and pos in errors:
                rejects.append(_reject_from(row_number, errors[pos],
                                            _raw(headers, cells_list[pos])))
                continue
            rec = template.copy()
            rec.update(zip(names, vals, strict=False))
            if has_full_name:
                full_name = rec.pop(FULL_NAME)
                if full_name is not None and (rec["first_name"] is None
                                              or rec["last_name"] is None):
                    first, last = split_full_name(full_name)  # type: ignore[arg-type]
                    if rec["first_name"] is None:
                        rec["first_name"] = first
                    if rec["last_name"] is None:
                        rec["last_name"] = last
                    patched = list(canon)
                    patched[_FIRST_AT] = rec["first_name"]
                    patched[_LAST_AT] = rec["last_name"]
                    canon = tuple(patched)
            ext = rec["external_id"]
            email = rec["email"]
            if not (ext or email or rec["first_name"] or rec["last_name"]
                    or rec["company_name"]):
                rejects.append(Reject(
                    row_number, None,
                    "row has no email, external id, name or company to identify the lead",
                    _raw(headers, cells_list[pos])))
                continue
            canonical = fmt % canon
            if n_custom:
                custom = {k: v for k, v in zip(custom_names, cvals, strict=False) if v is not None}
                if custom:
                    canonical += "\x1e" + "\x1f".join(map("=".join, custom.items()))
            else:
                custom = {}
            data = canonical.encode("utf-8", "surrogatepass")
            if ext:
                key = f"ext:{ext}"
            elif email:
                key = f"email:{email}"
            else:
                key = "row:" + sha1(data).hexdigest()[:32]
            if rec["created_at"] is None:
                rec["created_at"] = default_created_at
            rec["custom"] = custom
            rec["dedupe_key"] = key
            rec["content_hash"] = md5(data).hexdigest()
            records.append(rec)
        if len(rejects) > 1:
            rejects.sort(key=attrgetter("row_number"))
        return records, rejects


_COERCERS: dict[tuple, tuple[list[str], _Coercer]] = {}


def _coercer_for(kind: str, headers: list[str], mapping: dict[str, str],
                 **kw: object) -> _Coercer:
    """One coercer per upload: keyed by the *identity* of the headers list (plus its
    content), so chunks of one upload share caches and date decisions while two uploads
    with the same columns do not share a day-first decision."""
    created = kw.pop("default_created_at", None)
    key = (kind, id(headers), tuple(headers), tuple(sorted(mapping.items())),
           tuple(sorted(kw.items())))
    hit = _COERCERS.get(key)
    if hit is not None and hit[0] is headers:
        if isinstance(hit[1], LeadCoercer) and isinstance(created, datetime):
            hit[1].set_default_created_at(created)
        return hit[1]
    if len(_COERCERS) >= 16:
        _COERCERS.pop(next(iter(_COERCERS)))
    coercer: _Coercer
    if kind == "lead":
        coercer = LeadCoercer(headers, mapping, default_created_at=created,  # type: ignore[arg-type]
                              **kw)  # type: ignore[arg-type]
    else:
        coercer = ActivityCoercer(headers, mapping, **kw)  # type: ignore[arg-type]
    _COERCERS[key] = (headers, coercer)  # holding headers keeps its id from being reused
    return coercer


def coerce_lead_rows(
    rows: Sequence[tuple[int, list[str]]],
    headers: list[str],
    mapping: dict[str, str],
    *,
    default_created_at: datetime,
    date_order: DateOrder = "auto",
    naive_tz: tzinfo = UTC,
) -> tuple[list[dict], list[Reject]]:
    """Coerce ``(row_number, cells)`` rows into lead records and rejects (module rules).

    Pass the same ``headers`` list object for every chunk of one upload (e.g. the
    reader's ``headers``) so caches and the day-first decision carry over between chunks,
    or hold a :class:`LeadCoercer` yourself. Rejects come back in row order.
    """
    coercer = _coercer_for("lead", headers, mapping, default_created_at=default_created_at,
                           date_order=date_order, naive_tz=naive_tz)
    return coercer(rows)  # type: ignore[operator]


# --------------------------------------------------------------------------------------
# Activities
# --------------------------------------------------------------------------------------



def _activity_type_routine(header: str) -> Callable[[str], object]:
    def run(v: str) -> object:
        c = clean_text(v)
        if c is None:
            return None
        kind, known = normalize_activity_type(c)
        return (kind, None if known else _one_line(c))

    return _cached(run)


def _activity_column(i: int, header: str, target: str, order: DateOrder, tz: tzinfo) -> _Column:
    if target not in ACTIVITY_TARGETS:
        raise InvalidInput(f"Column '{header}' is mapped to unknown field '{target}'.")
    if target == "activity_date":
        return _Column(i, header, target, date=_DateColumn(target, header, order, tz))
    if target == "lead_email":
        return _Column(i, header, target, routine=_parse_routine(target, header, parse_email))
    if target == "activity_type":
        return _Column(i, header, target, routine=_activity_type_routine(header))
    if target == "description":
        return _Column(i, header, target, routine=_text_routine(target, header, 0, False))
    if target == "lead_id":
        return _Column(i, header, target, routine=_text_routine(target, header, 200))
    limit = _ACTIVITY_LENGTHS.get(target, 0) if target == "source" else 200
    routine = _text_routine(target, header, limit)
    return _Column(i, header, target, routine=_cached(routine) if target == "source" else routine)


class ActivityCoercer(_Coercer):
    """Coerces the chunks of one activity upload (see :func:`coerce_activity_rows`)."""

    def __init__(
        self,
        headers: list[str],
        mapping: dict[str, str],
        *,
        date_order: DateOrder = "auto",
        naive_tz: tzinfo = UTC,
    ) -> None:
        if date_order not in ("auto", "mdy", "dmy"):
            raise InvalidInput(f"date_order must be auto, mdy or dmy, not '{date_order}'.")
        self.headers = list(headers)
        self.columns = _build_columns(self.headers, mapping, lead=False, order=date_order,
                                      tz=naive_tz)

    def __call__(self, rows: Sequence[tuple[int, list[str]]]) -> tuple[list[dict], list[Reject]]:
        numbers, cells_list, outs, errors, rejects = self._run(rows)
        names = [c.target for c in self.columns]
        template = dict.fromkeys(("lead_email", "lead_external_id", "lead_id", "activity_type",
                                  "activity_date", "description", "source"))
        records: list[dict] = []
        headers = self.headers
        sha1 = hashlib.sha1
        value_rows = zip(*outs, strict=False) if outs else repeat(())
        for pos, (row_number, vals) in enumerate(zip(numbers, value_rows, strict=False)):
            if vals.count(None) == len(vals):
                continue
            if errors and pos in errors:
                rejects.append(_reject_from(row_number, errors[pos],
                                            _raw(headers, cells_list[pos])))
                continue
            rec = template.copy()
            rec.update(zip(names, vals, strict=False))
            lead_id = rec["lead_id"]
            if lead_id is not None:
                try:
                    rec["lead_id"] = uuid.UUID(lead_id)  # type: ignore[arg-type]
                except ValueError:
                    if rec["lead_external_id"] is None:
                        rec["lead_external_id"] = lead_id
                    rec["lead_id"] = None
            problems: list[_Err] = []
            if not (rec["lead_email"] or rec["lead_external_id"] or rec["lead_id"]):
                problems.append(_Err("", "row has no lead email, external id or lead id"))
            if rec["activity_date"] is None:
                problems.append(_Err("activity_date", "activity date is empty"))
            if problems:
                reject = _reject_from(row_number, problems, _raw(headers, cells_list[pos]))
                reject.field = reject.field.strip(", ") or None
                rejects.append(reject)
                continue
            typed = rec["activity_type"]
            if typed is None:
                rec["activity_type"] = "other"
            else:
                rec["activity_type"], raw_type = typed  # type: ignore[misc]
                if raw_type is not None:
                    desc = rec["description"]
                    rec["description"] = f"{raw_type}: {desc}" if desc else raw_type
            if rec["lead_id"] is not None:
                ref = f"id:{rec['lead_id']}"
            elif rec["lead_external_id"] is not None:
                ref = f"ext:{rec['lead_external_id']}"
            else:
                ref = f"email:{rec['lead_email']}"
            src = "\x1f".join((ref, rec["activity_type"], rec["activity_date"].isoformat(),
                               rec["description"] or ""))
            rec["dedupe_key"] = sha1(src.encode("utf-8", "surrogatepass")).hexdigest()
            rec["row_number"] = row_number
            rec["raw"] = _raw(headers, cells_list[pos])
            records.append(rec)
        if len(rejects) > 1:
            rejects.sort(key=attrgetter("row_number"))
        return records, rejects


def coerce_activity_rows(
    rows: Sequence[tuple[int, list[str]]],
    headers: list[str],
    mapping: dict[str, str],
    *,
    date_order: DateOrder = "auto",
    naive_tz: tzinfo = UTC,
) -> tuple[list[dict], list[Reject]]:
    """Coerce activity rows. Each record has ``lead_email``, ``lead_external_id``,
    ``lead_id`` (a ``uuid.UUID``; a non-UUID value in the lead id column is treated as
    an external id), ``activity_type`` (one of ``ACTIVITY_TYPES``; an unknown type becomes
    ``other`` and its raw text is prefixed to the description), ``activity_date`` (aware
    UTC), ``description``, ``source`` and ``dedupe_key`` (sha1 hex of the lead reference,
    type, date and description), plus ``row_number`` and ``raw`` (header -> cell) for
    reporting. A row needs a lead reference and a date; an empty type is ``other``."""
    coercer = _coercer_for("activity", headers, mapping, date_order=date_order,
                           naive_tz=naive_tz)
    return coercer(rows)  # type: ignore[operator]
