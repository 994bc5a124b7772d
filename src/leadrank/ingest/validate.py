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
import itertools
import re
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
    _ASCII_EMAIL_RE,
    _THREE_DIGITS,
    NULL_TOKENS,
    _to_utc,
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
    "LeadBatch",
    "LeadCoercer",
    "Reject",
    "coerce_activity_rows",
    "coerce_lead_batch",
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
# Column plans. Coercion runs column by column over a chunk, so the common case costs C
# loops rather than a Python call per cell: repetitive columns (sizes, stages, industries,
# dates) are parsed once per distinct value and mapped back with a dict lookup; plain
# text, emails and phones are checked for the whole column at once and only the cells
# that need real work go through the per-cell routine.
# --------------------------------------------------------------------------------------

_CACHE_LIMIT = 50_000
_BLOCK = 1024  # rows per column sweep (see LeadCoercer.batch)
_NULLS = frozenset(
    form for t in NULL_TOKENS for form in (t, t.upper(), t.title(), t.capitalize())
)
_DATE_FIELDS = frozenset({"outcome_date", "last_activity_date", "created_at"})
# The canonical text joins fields with \x1f as "%s" prints them: unambiguous, since each
# position has one type and no cleaned text is "None".
_IDENTITY = ("external_id", "email", "first_name", "last_name", "company_name")
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


def _plain(values: list[str], one_line: bool = True) -> str | None:
    """The column's cells joined, when every cell is ASCII and (one-line fields) has no
    control character or double space, or (multi-line) no carriage return: then cleaning a
    cell is just stripping it. None: some cell needs the per-cell routine. (A double space
    across two cells is a false alarm: it only costs the slower path.)"""
    joined = "".join(values)
    if not joined.isascii():
        return None
    if one_line:
        return joined if joined.isprintable() and "  " not in joined else None
    return joined if "\r" not in joined else None


def _plain_text(values: list[str], limit: int, one_line: bool) -> list | None:
    """``_text_routine`` for a whole column of plain cells that fit the limit (None: some
    cell needs the per-cell routine)."""
    if _plain(values, one_line) is None:
        return None
    if limit and max(map(len, values), default=0) > limit:
        return None
    nulls = _NULLS
    return [v if v and v not in nulls else None for v in map(str.strip, values)]


def _plain_emails(values: list[str], run: Callable[[str], object]) -> list:
    """Emails: lower-case and match the whole column at once; cells that do not match the
    plain ASCII form (empty, placeholders, wrappers, bad ones) go through ``run``."""
    if not "".join(values).isascii():
        return [run(v) if v else None for v in values]
    low = list(map(str.lower, map(str.strip, values)))
    ok = map(_ASCII_EMAIL_RE.match, low)
    return [v if m is not None and len(v) <= 254 else (run(raw) if raw else None)
            for v, m, raw in zip(low, ok, values, strict=True)]


def _plain_phones(values: list[str], run: Callable[[str], object], limit: int) -> list:
    """Phones with three digits, no quote/``tel:`` prefix and no odd whitespace are kept
    as cleaned; other cells go through ``run``."""
    joined = _plain(values)
    if (joined is None or "'" in joined or "tel:" in joined.lower()
            or (limit and max(map(len, values), default=0) > limit)):
        return [run(v) if v else None for v in values]
    cleaned = list(map(str.strip, values))
    ok = map(_THREE_DIGITS.search, cleaned)
    return [v if m is not None else (run(raw) if raw else None)
            for v, m, raw in zip(cleaned, ok, values, strict=True)]


class _Memo:
    """A column routine memoised by raw cell text: each distinct cell of a chunk is
    parsed once, then the column is mapped through the table. The cache carries over to
    later chunks up to ``_CACHE_LIMIT`` entries."""

    __slots__ = ("cache", "routine")

    def __init__(self, routine: Callable[[str], object]) -> None:
        self.routine = routine
        self.cache: dict[str, object] = {"": None}

    def __call__(self, values: list[str], distinct: set[str] | None = None) -> list:
        cache = self.cache
        if distinct is None:
            distinct = set(values)
        new = distinct.difference(cache)
        table = cache
        if new:
            routine = self.routine
            if len(cache) + len(new) <= _CACHE_LIMIT:
                for v in new:
                    cache[v] = routine(v)
            else:  # a high-cardinality column: this chunk gets its own table
                get = cache.get
                table = {v: get(v) if v not in new else routine(v) for v in distinct}
                table[""] = None
        return list(map(table.__getitem__, values))


class _DateColumn:
    """A date column: two memoised parsers (month-first, day-first) and the decision
    between them, made per chunk and remembered for chunks without evidence."""

    def __init__(self, field_name: str, header: str, order: DateOrder, naive_tz: tzinfo) -> None:
        self.order = order
        self.sticky = order == "dmy"
        self.naive_tz = naive_tz
        prefix = f"{_label(field_name)}: "

        def parser(dayfirst: bool) -> _Memo:
            return _Memo(_parse_routine(
                field_name, header,
                lambda v: parse_datetime(v, dayfirst=dayfirst, naive_tz=naive_tz),
                prefix=prefix))

        self._parsers = {False: parser(False), True: parser(True)}

    def decide(self, cells_list: Sequence[list[str]], index: int) -> None:
        """Month- or day-first for this chunk (the whole chunk's column is the evidence)."""
        if self.order != "auto":
            return
        first = next((c[index] for c in cells_list if c[index] and not c[index].isspace()), "")
        first = first.strip()
        if not (first[:4].isdigit() and first[4:5] == "-"):
            found = detect_day_first([c[index] for c in cells_list])
            if found is not None:
                self.sticky = found

    def __call__(self, values: list[str]) -> list:
        out = _iso_dates(values, self.naive_tz)
        return out if out is not None else self._parsers[self.sticky](values)


# The ISO 8601 forms datetime.fromisoformat reads, one cell per line. parse_datetime tries
# fromisoformat first on such cells, so a column of them needs no per-cell routine.
_ISO_DATE = r"\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:\.\d{1,6})?)?)?(?:Z|[+-]\d\d:\d\d)?"
_ISO_COLUMN = re.compile(f"(?:{_ISO_DATE})?(?:\n(?:{_ISO_DATE})?)*")


def _iso_dates(values: list[str], naive_tz: tzinfo) -> list | None:
    """A column of ISO dates (or empty cells) as parse_datetime would give them; None when
    some cell is anything else, out of range or invalid (the per-cell routine says why)."""
    if not _ISO_COLUMN.fullmatch("\n".join(values)):
        return None
    parse = datetime.fromisoformat
    try:
        dts = [parse(v) if v else None for v in values]
    except ValueError:
        return None
    if any(d is not None and not 1900 <= d.year <= 2200 for d in dts):
        return None
    return [d if d is None or d.tzinfo is UTC else _to_utc(d, naive_tz) for d in dts]


@dataclass(slots=True)
class _Column:
    """How one column of a chunk is coerced. ``apply`` picks the cheapest way that gives
    exactly what ``routine`` would give cell by cell."""

    index: int
    header: str
    target: str  # a field, "full_name", or the custom key
    routine: Callable[[str], object]
    custom: bool = False
    memo: _Memo | None = None  # every chunk goes through the memo (low-cardinality columns)
    adaptive: bool = False  # the memo only when a chunk shows the column repeats
    text: tuple[int, bool] | None = None  # (limit, one_line): plain text, vectorisable
    vector: Callable[[list[str]], list] | None = None  # whole-column twin of routine
    date: _DateColumn | None = None

    def apply(self, values: list[str]) -> list:
        if self.date is not None:
            return self.date(values)
        if self.memo is not None:
            if not self.adaptive:
                return self.memo(values)
            distinct = set(values)
            if len(distinct) * 2 < len(values):
                return self.memo(values, distinct)
        if self.text is not None:
            out = _plain_text(values, *self.text)
            if out is not None:
                return out
        if self.vector is not None:
            return self.vector(values)
        run = self.routine
        return [run(v) if v else None for v in values]


def _text_column(i: int, header: str, target: str, field_name: str, limit: int,
                 one_line: bool = True, *, custom: bool = False, memo: bool = False,
                 adaptive: bool = False) -> _Column:
    routine = _text_routine(field_name, header, limit, one_line)
    return _Column(i, header, target, routine, custom=custom,
                   memo=_Memo(routine) if memo or adaptive else None, adaptive=adaptive,
                   text=(limit, one_line))


def _lead_column(i: int, header: str, target: str, order: DateOrder, tz: tzinfo) -> _Column:
    limit = _LEAD_LENGTHS.get(target, 0)
    if target.startswith(CUSTOM_PREFIX):
        return _text_column(i, header, target[len(CUSTOM_PREFIX):], target, 0, False,
                            custom=True, adaptive=True)
    if target == FULL_NAME:
        return _text_column(i, header, target, target, 0)
    if target in _DATE_FIELDS:
        date = _DateColumn(target, header, order, tz)
        return _Column(i, header, target, date._parsers[False].routine, date=date)
    if target in _CACHEABLE_PARSERS:
        routine = _parse_routine(target, header, _CACHEABLE_PARSERS[target],
                                 limit=limit if target == "website" else 0)
        return _Column(i, header, target, routine, memo=_Memo(routine))
    if target == "email":
        routine = _parse_routine(target, header, parse_email)
        return _Column(i, header, target, routine,
                       vector=lambda values: _plain_emails(values, routine))
    if target == "phone":
        routine = _parse_routine(target, header, normalize_phone, limit=limit)
        return _Column(i, header, target, routine,
                       vector=lambda values: _plain_phones(values, routine, limit))
    if target == "description":
        return _text_column(i, header, target, target, 0, False)
    if target in LEAD_FIELDS:
        if target in _CACHED_TEXT:
            return _text_column(i, header, target, target, limit, memo=True)
        return _text_column(i, header, target, target, limit, adaptive=True)
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

    def _fit_width(self, rows: Sequence[tuple[int, list[str]]]
                   ) -> tuple[list[int], list[list[str]], list[Reject]]:
        """Row numbers and cells, every row padded or cut to the header's width (a row
        with extra non-empty cells is rejected)."""
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
        for col in self.columns:
            if col.date is not None:
                col.date.decide(cells_list, col.index)
        return numbers, cells_list, rejects

    def _apply(self, cells_list: list[list[str]]) -> tuple[list[list[object]], dict[int, list[_Err]]]:
        """Every column over some rows: the outputs, column by column, and the field
        problems by row position."""
        outs: list[list[object]] = []
        errors: dict[int, list[_Err]] = {}
        for col in self.columns:
            out = col.apply(list(map(itemgetter(col.index), cells_list)))
            if _Err in set(map(type, out)):
                for pos, r in enumerate(out):
                    if type(r) is _Err:
                        errors.setdefault(pos, []).append(r)  # type: ignore[arg-type]
            outs.append(out)
        return outs, errors

    def _run(
        self, rows: Sequence[tuple[int, list[str]]]
    ) -> tuple[list[int], list[list[str]], list[list[object]], dict[int, list[_Err]],
               list[Reject]]:
        numbers, cells_list, rejects = self._fit_width(rows)
        outs, errors = self._apply(cells_list)
        return numbers, cells_list, outs, errors, rejects


# --------------------------------------------------------------------------------------
# Leads
# --------------------------------------------------------------------------------------

_RECORD_KEYS = (*LEAD_FIELDS, "custom", "dedupe_key", "content_hash")


@dataclass(slots=True)
class LeadBatch:
    """The stored-able rows of a chunk, column by column (what the upload writer wants:
    no dict per row). ``fields`` holds the mapped lead fields (``created_at`` always, as
    defaulted); a field missing from it is ``None`` for every row."""

    fields: dict[str, list]
    custom: list[dict[str, str]]
    dedupe_key: list[str]
    content_hash: list[str]

    def __len__(self) -> int:
        return len(self.dedupe_key)

    def column(self, name: str) -> list | None:
        return self.fields.get(name)

    def records(self) -> list[dict]:
        """One dict per row: every lead field, then custom, dedupe_key, content_hash."""
        none = repeat(None)
        cols = [self.fields.get(f, none) for f in LEAD_FIELDS]
        return [dict(zip(_RECORD_KEYS, row, strict=False))
                for row in zip(*cols, self.custom, self.dedupe_key, self.content_hash)]

    def record(self, pos: int) -> dict:
        values = [col[pos] if (col := self.fields.get(f)) is not None else None
                  for f in LEAD_FIELDS]
        return dict(zip(_RECORD_KEYS, (*values, self.custom[pos], self.dedupe_key[pos],
                                       self.content_hash[pos]), strict=True))


def _fill_from_full_name(full: list, first: list | None, last: list | None, n: int
                         ) -> tuple[list, list]:
    """full_name fills first/last name only where they are empty."""
    first = list(first) if first is not None else [None] * n
    last = list(last) if last is not None else [None] * n
    for pos, name in enumerate(full):
        if name is not None and (first[pos] is None or last[pos] is None):
            f, s = split_full_name(name)  # type: ignore[arg-type]
            if first[pos] is None:
                first[pos] = f
            if last[pos] is None:
                last[pos] = s
    return first, last


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
        batch, rejects = self.batch(rows)
        return batch.records(), rejects

    def batch(self, rows: Sequence[tuple[int, list[str]]]) -> tuple[LeadBatch, list[Reject]]:
        numbers, cells_list, rejects = self._fit_width(rows)
        # Blocks of rows small enough to stay in the CPU cache while each column is
        # swept (a whole chunk's cells are far larger: column passes over them miss).
        parts = [self._block(numbers[i:i + _BLOCK], cells_list[i:i + _BLOCK], rejects)
                 for i in range(0, len(numbers), _BLOCK)]
        if len(rejects) > 1:
            rejects.sort(key=attrgetter("row_number"))
        if len(parts) == 1:
            return parts[0], rejects
        fields: dict[str, list] = {"created_at": []}
        for part in parts:
            for f, col in part.fields.items():
                fields.setdefault(f, []).extend(col)
        chain = itertools.chain.from_iterable
        return LeadBatch(fields, list(chain(p.custom for p in parts)),
                         list(chain(p.dedupe_key for p in parts)),
                         list(chain(p.content_hash for p in parts))), rejects

    def _block(self, numbers: list[int], cells_list: list[list[str]], rejects: list[Reject]
               ) -> LeadBatch:
        outs, errors = self._apply(cells_list)
        n = len(numbers)
        columns = self.columns
        by_field = {c.target: outs[k] for k, c in enumerate(columns) if not c.custom}
        # Custom columns sorted by key: the dict and the hash come out column-order free.
        custom_idx = sorted((k for k, c in enumerate(columns) if c.custom),
                            key=lambda k: columns[k].target)
        custom_names = [columns[k].target for k in custom_idx]
        custom_cols = [outs[k] for k in custom_idx]
        full = by_field.pop(FULL_NAME, None)
        if full is not None:
            by_field["first_name"], by_field["last_name"] = _fill_from_full_name(
                full, by_field.get("first_name"), by_field.get("last_name"), n)
        keep = self._kept(numbers, cells_list, by_field, custom_cols, full, errors, rejects)
        if keep is not None:
            by_field = {f: [col[i] for i in keep] for f, col in by_field.items()}
            custom_cols = [[col[i] for i in keep] for col in custom_cols]
            n = len(keep)
        default = self.default_created_at
        if n == 0:
            return LeadBatch({"created_at": []}, [], [], [])

        # The canonical text, column by column: every lead field in LEAD_FIELDS order as
        # "%s" would print it (None when unmapped), datetimes as POSIX timestamps.
        texts: list = []
        for f in LEAD_FIELDS:
            col = by_field.get(f)
            if col is None:
                texts.append(repeat("None"))
            elif f in _DATE_FIELDS:
                texts.append([str(d.timestamp()) if d is not None else "None" for d in col])
            else:
                texts.append(list(map(str, col)))
        canon = list(map("\x1f".join, zip(*texts)))
        if custom_cols:
            pairs = [[None if v is None else f"{name}={v}" for v in col]
                     for name, col in zip(custom_names, custom_cols, strict=True)]
            tails = ["\x1f".join(filter(None, t)) for t in zip(*pairs)]
            canon = [f"{c}\x1e{t}" if t else c for c, t in zip(canon, tails, strict=True)]
            customs = [{k: v for k, v in zip(custom_names, t) if v is not None}
                       for t in zip(*custom_cols)]
        else:
            customs = [{} for _ in range(n)]
        data = [c.encode("utf-8", "surrogatepass") for c in canon]
        md5, sha1 = _md5, hashlib.sha1
        hashes = [md5(d).hexdigest() for d in data]
        ext = by_field.get("external_id") or repeat(None)
        email = by_field.get("email") or repeat(None)
        keys = [f"ext:{e}" if e else f"email:{m}" if m else "row:" + sha1(d).hexdigest()[:32]
                for e, m, d in zip(ext, email, data)]
        fields = dict(by_field)
        created = fields.get("created_at")
        fields["created_at"] = ([default] * n if created is None
                                else [d if d is not None else default for d in created])
        return LeadBatch(fields, customs, keys, hashes)

    def _kept(self, numbers: list[int], cells_list: list[list[str]], by_field: dict[str, list],
              custom_cols: list[list], full: list | None, errors: dict[int, list[_Err]],
              rejects: list[Reject]) -> list[int] | None:
        """Positions of the rows to store (None: all of them); blank rows are skipped,
        rows with field errors or nothing to identify the lead are added to ``rejects``."""
        n = len(numbers)
        ident_cols = [by_field[f] for f in _IDENTITY if f in by_field]
        ident = list(map(any, zip(*ident_cols))) if ident_cols else [False] * n
        if not errors and all(ident):
            return None
        every = [*by_field.values(), *custom_cols, *([full] if full is not None else [])]
        headers = self.headers
        keep: list[int] = []
        for pos in range(n):
            identified = ident[pos]
            if not identified and all(col[pos] is None for col in every):
                continue  # blank (or placeholders only)
            if errors and pos in errors:
                rejects.append(_reject_from(numbers[pos], errors[pos],
                                            _raw(headers, cells_list[pos])))
            elif not identified:
                rejects.append(Reject(
                    numbers[pos], None,
                    "row has no email, external id, name or company to identify the lead",
                    _raw(headers, cells_list[pos])))
            else:
                keep.append(pos)
        return keep


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


def coerce_lead_batch(
    rows: Sequence[tuple[int, list[str]]],
    headers: list[str],
    mapping: dict[str, str],
    *,
    default_created_at: datetime,
    date_order: DateOrder = "auto",
    naive_tz: tzinfo = UTC,
) -> tuple[LeadBatch, list[Reject]]:
    """:func:`coerce_lead_rows`, with the records as one column-wise :class:`LeadBatch`."""
    coercer = _coercer_for("lead", headers, mapping, default_created_at=default_created_at,
                           date_order=date_order, naive_tz=naive_tz)
    return coercer.batch(rows)  # type: ignore[attr-defined]


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
    batch, rejects = coerce_lead_batch(rows, headers, mapping,
                                       default_created_at=default_created_at,
                                       date_order=date_order, naive_tz=naive_tz)
    return batch.records(), rejects


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

    return run


def _activity_column(i: int, header: str, target: str, order: DateOrder, tz: tzinfo) -> _Column:
    if target not in ACTIVITY_TARGETS:
        raise InvalidInput(f"Column '{header}' is mapped to unknown field '{target}'.")
    if target == "activity_date":
        date = _DateColumn(target, header, order, tz)
        return _Column(i, header, target, date._parsers[False].routine, date=date)
    if target == "lead_email":
        routine = _parse_routine(target, header, parse_email)
        return _Column(i, header, target, routine,
                       vector=lambda values: _plain_emails(values, routine))
    if target == "activity_type":
        routine = _activity_type_routine(header)
        return _Column(i, header, target, routine, memo=_Memo(routine))
    if target == "description":
        return _text_column(i, header, target, target, 0, False)
    if target == "lead_id":
        return _text_column(i, header, target, target, 200)
    if target == "source":
        return _text_column(i, header, target, target, _ACTIVITY_LENGTHS.get(target, 0),
                            memo=True)
    return _text_column(i, header, target, target, 200)


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
