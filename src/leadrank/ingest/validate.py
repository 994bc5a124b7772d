"""Turn string rows into typed lead / activity records, or rejects that say why.

Rules (the contract the upload job and the UI rely on):

* **Cleaning.** Every cell is stripped; NBSP and narrow spaces become spaces; zero-width
  characters, soft hyphens and BOMs are removed; text is NFC-normalised; runs of
  whitespace in one-line fields collapse to one space. Placeholder cells (``n/a``, ``-``,
  ``null``, ``none``, ``#N/A``, ``unknown`` …) count as empty. Empty -> ``None``.
* **Rows.** A row whose cells are all empty is skipped silently. A row with more
  non-empty cells than the header is rejected (``field=None``). A row with no email,
  external id, name or company is rejected (``field=None``). All field problems of a row
  are reported together in *one* reject: ``reason`` joins them with ``"; "`` and
  ``field`` is the failing field, or the failing fields joined with ``", "``.
* **Emails** are lower-cased, ``mailto:`` and ``Name <addr>`` wrappers removed, then
  checked with a pragmatic regex.
* **Numbers.** ``1,200`` and ``1.200`` (a single group of exactly three digits after a
  non-zero lead) are thousands; ``1,5`` is a decimal comma; ``1.234,56`` / ``1,234.56``
  use the last separator as the decimal point. ``k/m/mm/mio/b/bn`` and
  ``thousand/million/billion`` multiply; currency symbols and codes are ignored.
  Ranges (``51-200``, ``$1M-$10M``, ``10 to 50``) give the midpoint rounded down for
  company size; open ranges (``500+``, ``>500``, ``<10``) give the stated bound.
  ``Self-employed``/``freelancer``/``just me`` -> 1 employee. Negative values reject.
* **Dates.** ISO 8601 first (fast path). ``a/b/yyyy`` (``/ . -``) is month-first unless
  that is impossible (``a > 12``) — *and* when a chunk's column holds an impossible
  month-first value and no impossible day-first one, the whole column is read day-first
  (the decision sticks for later chunks that carry no evidence). ``date_order="mdy"`` or
  ``"dmy"`` pins it. ``yyyymmdd``, Unix seconds/milliseconds and Excel serial numbers
  (10000–99999) are understood; anything else goes through ``dateutil``. Naive values are
  in ``naive_tz`` (UTC by default); every datetime returned is timezone-aware UTC.
  Years outside 1900–2200 reject.
* **Outcome** maps booleans, won/lost, CRM stages (``Closed Won``, ``Closed - Not
  Converted``, ``customer``, ``MQL``, ``Negotiation/Review`` …) to open/converted/lost;
  an unknown value rejects. An empty outcome stays ``None`` (= "not provided": a re-upload
  without the column must not reset a lead the CRM marked converted).
* **Website** -> ``scheme://host/path``: scheme kept if given else ``https``, host
  lower-cased with ``www.`` and default ports removed, fragment dropped, a bare ``/`` path
  dropped. Something that is not a host name rejects.
* **full_name** fills ``first_name`` / ``last_name`` only where they are empty: ``Last,
  First`` is understood, honorifics dropped, first word = first name, the rest = last name.
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
import math
import re
import unicodedata
import uuid
import warnings
from collections.abc import Callable, Sequence
from itertools import repeat
from operator import attrgetter, itemgetter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Literal

from leadrank.errors import InvalidInput
from leadrank.ingest.mapping import ACTIVITY_TARGETS, CUSTOM_PREFIX, FULL_NAME, IGNORE, snake_name
from leadrank.models.activity import ACTIVITY_TYPES, Activity
from leadrank.models.lead import LEAD_FIELDS, Lead

__all__ = [
    "ActivityCoercer",
    "LeadCoercer",
    "Reject",
    "detect_day_first",
    "coerce_activity_rows",
    "coerce_lead_rows",
    "normalize_activity_type",
    "normalize_phone",
    "parse_company_size",
    "parse_datetime",
    "parse_email",
    "parse_outcome",
    "parse_revenue",
    "normalize_website",
    "split_full_name",
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
# Cleaning
# --------------------------------------------------------------------------------------

_UNICODE_CLEAN = str.maketrans({
    "\xa0": " ", "\u202f": " ", "\u2007": " ", "\u2009": " ", "\u3000": " ",
    "\u200b": None, "\u200c": None, "\u200d": None, "\u2060": None, "\ufeff": None,
    "\xad": None,
})
NULL_TOKENS = frozenset({
    "-", "--", "---", "?", ".", "n/a", "na", "n.a.", "n.a", "#n/a", "null", "none", "nil",
    "nan", "unknown", "(blank)", "(none)", "undefined", "#value!", "#ref!", "tbd",
})


def clean_text(value: str) -> str | None:
    """Strip, remove invisible characters, NFC-normalise; placeholders -> None."""
    if value.isascii():
        v = value.strip()
    else:
        v = value.translate(_UNICODE_CLEAN).strip()
        if not unicodedata.is_normalized("NFC", v):
            v = unicodedata.normalize("NFC", v)
    if not v or (len(v) <= 9 and v.lower() in NULL_TOKENS):
        return None
    return v


def _one_line(v: str) -> str:
    if "  " in v or "\n" in v or "\t" in v or "\r" in v:
        return " ".join(v.split())
    return v


def _quote(value: str, limit: int = 80) -> str:
    value = value if len(value) <= limit else value[: limit - 1] + "…"
    return f"'{value}'"


# --------------------------------------------------------------------------------------
# Field parsers: take a cleaned, non-empty string; return the typed value or raise
# ValueError whose message names the value.
# --------------------------------------------------------------------------------------

_EMAIL_RE = re.compile(
    r"^[a-z0-9!#$%&'*+/=?^_`{|}~\-\u00a1-\uffff]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~\-\u00a1-\uffff]+)*"
    r"@(?:[a-z0-9\u00a1-\uffff](?:[a-z0-9\-\u00a1-\uffff]{0,61}[a-z0-9\u00a1-\uffff])?\.)+"
    r"(?:[a-z\u00a1-\uffff]{2,63}|xn--[a-z0-9\-]{1,59})$"
)
_ANGLE_EMAIL = re.compile(r"<([^<>\s]+@[^<>\s]+)>")


_ASCII_EMAIL_RE = re.compile(
    r"^[a-z0-9_%+'\-]+(?:\.[a-z0-9_%+'\-]+)*@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,63}$"
)


def parse_email(value: str) -> str:
    v = value.lower()
    if len(v) <= 254 and (_ASCII_EMAIL_RE.match(v) or _EMAIL_RE.match(v)):
        return v
    m = _ANGLE_EMAIL.search(v)
    if m:
        v = m.group(1)
    if v.startswith("mailto:"):
        v = v[7:]
    v = v.strip().strip("<>\"'").rstrip(".")
    if len(v) <= 320 and _EMAIL_RE.match(v):
        return v
    raise ValueError(f"bad email {_quote(value)}")


_SUFFIX_MULT = {
    "k": 1e3, "thousand": 1e3, "thousands": 1e3, "t": 1e3, "tsd": 1e3,
    "m": 1e6, "mm": 1e6, "mn": 1e6, "mio": 1e6, "million": 1e6, "millions": 1e6, "mil": 1e6,
    "b": 1e9, "bn": 1e9, "billion": 1e9, "billions": 1e9, "mrd": 1e9,
}
_CURRENCY_RE = re.compile(
    r"(?:us\$|usd|eur|gbp|chf|cad|aud|jpy|inr|sek|nok|dkk|pln|brl|[$€£¥₹₩₽])", re.IGNORECASE
)
_NUM_TOKEN = re.compile(
    r"^(?P<op>>=|<=|>|<|≥|≤|~|over|above|more than|greater than|at least|under|below|"
    r"less than|up to|fewer than|about|approx\.?|approximately|around|circa|ca\.?)?\s*"
    r"(?P<num>\d[\d.,'\u2019 ]*)\s*(?P<suf>[a-z]+)?\s*(?P<plus>\+)?$"
)
_RANGE_SPLIT = re.compile(r"\s*(?:-|–|—|\bto\b|\.\.)\s*")
_EU_GROUPS = re.compile(r"[1-9]\d{0,2}(?:\.\d{3})+")
_US_GROUPS = re.compile(r"[1-9]\d{0,2}(?:,\d{3})+")
_SIZE_WORDS = re.compile(
    r"\b(?:employees?|emps?|people|persons?|staff|ftes?|ppl|headcount|workers|members)\b"
)
_SELF_EMPLOYED = frozenset({
    "self employed", "selfemployed", "self-employed", "freelance", "freelancer", "sole trader",
    "sole proprietor", "sole proprietorship", "just me", "myself", "only me", "solo",
    "one person", "1 person", "independent", "solopreneur",
})


def _to_number(num: str, has_suffix: bool) -> float:
    s = num.replace(" ", "").replace("'", "").replace("\u2019", "")
    if "," in s and "." in s:
        if s.rfind(",") > s.rfind("."):
            s = s.replace(".", "").replace(",", ".")
        else:
            s = s.replace(",", "")
    elif "," in s:
        if not has_suffix and _US_GROUPS.fullmatch(s):
            s = s.replace(",", "")
        elif s.count(",") == 1:
            s = s.replace(",", ".")
        else:
            raise ValueError(num)
    elif ("." in s and s.count(".") > 1) or (not has_suffix and _EU_GROUPS.fullmatch(s)):
        if not _EU_GROUPS.fullmatch(s):
            raise ValueError(num)
        s = s.replace(".", "")
    return float(s)


def _parse_amount(text: str) -> tuple[float, str | None]:
    """One number with optional operator/suffix/plus -> (value, op) where op is
    'min' (500+, >500), 'max' (<10) or None."""
    m = _NUM_TOKEN.match(text)
    if not m:
        raise ValueError(text)
    suf = m.group("suf")
    mult = 1.0
    if suf:
        if suf not in _SUFFIX_MULT:
            raise ValueError(text)
        mult = _SUFFIX_MULT[suf]
    value = _to_number(m.group("num").strip(" '"), bool(suf)) * mult
    op = m.group("op") or ""
    if m.group("plus") or op in (">", ">=", "≥", "over", "above", "more than", "greater than",
                                 "at least"):
        return value, "min"
    if op in ("<", "<=", "≤", "under", "below", "less than", "up to", "fewer than"):
        return value, "max"
    return value, None


def _parse_quantity(text: str) -> float:
    """A number, a suffixed number, an open range or a range (-> midpoint)."""
    t = " ".join(_CURRENCY_RE.sub(" ", text.lower()).split())
    if not t:
        raise ValueError(text)
    try:
        return _parse_amount(t)[0]
    except ValueError:
        pass
    parts = _RANGE_SPLIT.split(t)
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise ValueError(text)
    hi, _ = _parse_amount(parts[1])
    lo_text = parts[0]
    right_suffix = _NUM_TOKEN.match(parts[1])
    suf = right_suffix.group("suf") if right_suffix else None
    if suf and lo_text[-1:].isdigit():  # "$1-10M" means 1M-10M
        lo_text = f"{lo_text}{suf}"
    lo, _ = _parse_amount(lo_text)
    if lo > hi:
        raise ValueError(text)
    return (lo + hi) / 2


def parse_company_size(value: str) -> int:
    if value.isdigit():
        return int(value)
    low = value.lower()
    norm = " ".join(low.replace("-", " ").split())
    if low in _SELF_EMPLOYED or norm in _SELF_EMPLOYED:
        return 1
    try:
        text = _SIZE_WORDS.sub(" ", low)
        n = _parse_quantity(text)
    except ValueError:
        raise ValueError(f"company size {_quote(value)} is not a number or range") from None
    if n < 0 or not math.isfinite(n):
        raise ValueError(f"company size {_quote(value)} is negative")
    if n >= 2_000_000_000:
        raise ValueError(f"company size {_quote(value)} is too large")
    return int(n)  # midpoints and fractions round down


def parse_revenue(value: str) -> float:
    if value.isdigit():
        return float(value)
    try:
        n = _parse_quantity(value)
    except ValueError:
        raise ValueError(f"annual revenue {_quote(value)} is not an amount") from None
    if n < 0 or not math.isfinite(n):
        raise ValueError(f"annual revenue {_quote(value)} is negative")
    return n


# Dates -------------------------------------------------------------------------------

_NUMERIC_DATE = re.compile(
    r"^(\d{1,4})[/.\-](\d{1,2})[/.\-](\d{1,4})"
    r"(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?\s*([ap])?\.?m?\.?)?"
    r"\s*(z|utc|gmt|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)
_HAS_YEAR = re.compile(r"\d{4}|\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2}\b|'\d{2}\b")
_MONTH_WORD = re.compile(r"[a-z]{3,}", re.IGNORECASE)
_EXCEL_EPOCH = datetime(1899, 12, 30)
_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TZINFOS: dict[str, int] = {
    "UTC": 0, "GMT": 0, "Z": 0, "BST": 3600, "CET": 3600, "CEST": 7200, "EET": 7200,
    "EEST": 10800, "WET": 0, "WEST": 3600, "EST": -18000, "EDT": -14400, "CST": -21600,
    "CDT": -18000, "MST": -25200, "MDT": -21600, "PST": -28800, "PDT": -25200,
    "IST": 19800, "JST": 32400, "AEST": 36000, "AEDT": 39600,
}


def _to_utc(dt: datetime, naive_tz: tzinfo) -> datetime:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=naive_tz)
        if naive_tz is UTC:
            return dt
    return dt.astimezone(UTC)


def _offset(text: str | None) -> tzinfo | None:
    if not text:
        return None
    t = text.upper()
    if t in ("Z", "UTC", "GMT"):
        return UTC
    from datetime import timezone

    sign = -1 if t[0] == "-" else 1
    digits = t[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4])))


def parse_datetime(value: str, *, dayfirst: bool = False, naive_tz: tzinfo = UTC) -> datetime:
    """Parse a date/time cell into an aware UTC datetime (see the module rules)."""
    v = value
    dt: datetime | None = None
    if len(v) >= 8 and v[:4].isdigit() and v[4:5] == "-":
        try:
            dt = datetime.fromisoformat(v)
        except ValueError:
            dt = None
    if dt is None:
        m = _NUMERIC_DATE.match(v)
        if m:
            dt = _from_numeric(m, value, dayfirst)
        elif v.replace(".", "", 1).isdigit():
            dt = _from_number(v, value)
        else:
            dt = _from_dateutil(v, value, dayfirst)
    if not 1900 <= dt.year <= 2200:
        raise ValueError(f"date {_quote(value)} is out of range")
    return _to_utc(dt, naive_tz)


def _from_numeric(m: re.Match[str], value: str, dayfirst: bool) -> datetime:
    a, b, c = m.group(1), m.group(2), m.group(3)
    try:
        if len(a) == 4:
            year, month, day = int(a), int(b), int(c)
        elif len(c) in (2, 4):
            x, y = int(a), int(b)
            if x > 12 or (dayfirst and y <= 12):
                day, month = x, y
            else:
                month, day = x, y
            year = int(c)
            if len(c) == 2:
                year += 2000 if year < 70 else 1900
        else:
            raise ValueError
        hour = int(m.group(4) or 0)
        if m.group(8):
            ampm = m.group(8).lower()
            if not 1 <= hour <= 12:
                raise ValueError
            hour = hour % 12 + (12 if ampm == "p" else 0)
        frac = (m.group(7) or "").ljust(6, "0")
        return datetime(year, month, day, hour, int(m.group(5) or 0), int(m.group(6) or 0),
                        int(frac or 0), tzinfo=_offset(m.group(9)))
    except ValueError:
        raise ValueError(f"{_quote(value)} is not a valid date") from None


def _from_number(v: str, value: str) -> datetime:
    if len(v) == 8 and v.isdigit() and v[:2] in ("19", "20", "21"):
        try:
            return datetime(int(v[:4]), int(v[4:6]), int(v[6:]))
        except ValueError:
            raise ValueError(f"{_quote(value)} is not a valid date") from None
    if v.isdigit() and len(v) == 10:
        return _UNIX_EPOCH + timedelta(seconds=int(v))
    if v.isdigit() and len(v) == 13:
        return _UNIX_EPOCH + timedelta(milliseconds=int(v))
    serial = float(v)
    if 10000 <= serial < 100000:
        return _EXCEL_EPOCH + timedelta(days=serial)
    raise ValueError(f"{_quote(value)} is not a date")


def _from_dateutil(v: str, value: str, dayfirst: bool) -> datetime:
    if not _HAS_YEAR.search(v) or not (_MONTH_WORD.search(v) or re.search(r"\d", v)):
        raise ValueError(f"{_quote(value)} is not a date")
    from dateutil import parser as dateutil_parser

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return dateutil_parser.parse(v, dayfirst=dayfirst, tzinfos=_TZINFOS)
    except (ValueError, OverflowError, TypeError):
        raise ValueError(f"{_quote(value)} is not a date") from None


_DAY_MONTH_PROBE = re.compile(r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-]\d{2,4}\b")


def detect_day_first(values: Sequence[str]) -> bool | None:
    """True if the values are day-first, False if month-first, None if no evidence."""
    dmy = mdy = False
    for v in values:
        m = _DAY_MONTH_PROBE.match(v) if v else None
        if m:
            a, b = int(m.group(1)), int(m.group(2))
            if a > 12 >= b:
                dmy = True
            elif b > 12 >= a:
                mdy = True
    if dmy and not mdy:
        return True
    if mdy and not dmy:
        return False
    return None


# Outcome ----------------------------------------------------------------------------

_CONVERTED = {
    "1", "yes", "y", "true", "t", "x", "won", "win", "closed won", "closedwon", "deal won",
    "converted", "is converted", "closed converted", "customer", "client", "paying customer",
    "paid", "purchased", "sold", "sale", "signed", "success", "successful", "evangelist",
    "active customer", "became customer", "closed won converted", "conversion", "ja", "oui",
    "si", "sí",
}
_LOST = {
    "0", "no", "n", "false", "f", "lost", "lose", "closed lost", "closedlost", "deal lost",
    "not converted", "unconverted", "closed not converted", "disqualified", "unqualified",
    "churned", "rejected", "dead", "junk", "failed", "bad fit", "not interested",
    "closed disqualified", "closed unqualified", "closed dead", "spam", "invalid", "deleted",
    "lost deal", "nein", "non",
}
_OPEN = {
    "open", "new", "working", "mql", "sql", "sal", "lead", "subscriber", "prospect",
    "marketing qualified lead", "sales qualified lead", "marketingqualifiedlead",
    "salesqualifiedlead", "opportunity", "in progress", "contacted", "attempted to contact",
    "connected", "qualified", "nurture", "nurturing", "engaged", "pending", "other",
    "open deal", "bad timing", "open not contacted", "working contacted", "not contacted",
    "prospecting", "qualification", "needs analysis", "value proposition",
    "id decision makers", "perception analysis", "proposal price quote", "proposal",
    "negotiation", "negotiation review", "appointment scheduled", "qualified to buy",
    "presentation scheduled", "decision maker bought in", "contract sent", "contact made",
    "demo scheduled", "proposal made", "negotiations started", "follow up", "recycled",
    "in discussion", "active", "trial", "meeting booked", "unresponsive",
}
_OUTCOME: dict[str, str] = {
    **{w: "converted" for w in _CONVERTED},
    **{w: "lost" for w in _LOST},
    **{w: "open" for w in _OPEN},
}
_OUTCOME_NORM = re.compile(r"[^0-9a-z\u00c0-\uffff]+")


def parse_outcome(value: str) -> str:
    v = value.lower()
    hit = _OUTCOME.get(v)
    if hit:
        return hit
    norm = " ".join(_OUTCOME_NORM.sub(" ", v).split())
    hit = _OUTCOME.get(norm)
    if hit:
        return hit
    if norm in ("1 0", "1 00") or norm.replace(" ", "") in ("10", "100"):
        return "converted"  # "1.0" written by pandas
    if norm.replace(" ", "") in ("00", "000"):
        return "lost"
    if "not converted" in norm or "closed lost" in norm or norm.endswith(" lost"):
        return "lost"
    if "closed won" in norm or norm.endswith(" won") or "converted" in norm:
        return "converted"
    if norm.startswith(("open ", "working ", "new ", "nurtur", "qualified ")):
        return "open"
    raise ValueError(
        f"outcome {_quote(value)} is not recognised (use converted, lost or open; yes/no, "
        "won/lost and CRM stages are understood)"
    )


# Website, phone, names --------------------------------------------------------------

_SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*)://", re.IGNORECASE)
_HOST = re.compile(
    r"^(?:[a-z0-9\u00a1-\uffff](?:[a-z0-9\-_\u00a1-\uffff]{0,61}[a-z0-9\u00a1-\uffff])?\.)+"
    r"(?:[a-z\u00a1-\uffff]{2,63}|xn--[a-z0-9\-]{1,59})$"
)


def normalize_website(value: str) -> str:
    v = value.strip()
    m = _SCHEME.match(v)
    if m:
        scheme = m.group(1).lower()
        rest = v[m.end():]
        if scheme not in ("http", "https"):
            raise ValueError(f"website {_quote(value)} is not a web address")
    else:
        scheme, rest = "https", v.lstrip("/")
    cut = len(rest)
    for sep in "/?#":
        i = rest.find(sep)
        if 0 <= i < cut:
            cut = i
    host, path = rest[:cut], rest[cut:]
    if "@" in host:
        raise ValueError(f"website {_quote(value)} is not a web address")
    host = host.lower().rstrip(".")
    if ":" in host:
        host, _, port = host.partition(":")
        if port not in ("80", "443", ""):
            host = f"{host}:{port}"
    if host.startswith("www."):
        host = host[4:]
    if not _HOST.match(host.split(":")[0]):
        raise ValueError(f"website {_quote(value)} is not a web address")
    path = path.split("#", 1)[0]
    if path in ("/", "/?"):
        path = ""
    return f"{scheme}://{host}{path}"


_THREE_DIGITS = re.compile(r"\d\D*\d\D*\d")


def normalize_phone(value: str) -> str:
    v = value.lstrip("'")
    if v[:4].lower() == "tel:":
        v = v[4:].strip()
    if "  " in v or not v.isprintable():
        v = " ".join(v.split())
    if not _THREE_DIGITS.search(v):
        raise ValueError(f"phone {_quote(value)} has too few digits")
    return v


_HONORIFICS = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "madam",
                         "herr", "frau", "mme", "mlle", "m"})
_NAME_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "phd", "md", "mba", "esq"})


def split_full_name(value: str) -> tuple[str | None, str | None]:
    """'Jane van der Berg' -> ('Jane', 'van der Berg'); 'Doe, Jane' -> ('Jane', 'Doe')."""
    v = " ".join(value.split())
    if v.count(",") == 1:
        left, right = (p.strip() for p in v.split(","))
        if right and right.lower().strip(".") not in _NAME_SUFFIXES:
            return (right or None), (left or None)
        v = left + (f" {right}" if right else "")
    words = v.split(" ")
    while len(words) > 1 and words[0].lower().rstrip(".") in _HONORIFICS:
        words.pop(0)
    if len(words) == 1:
        return words[0] or None, None
    return words[0], " ".join(words[1:])


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

_ACTIVITY_WORDS: dict[str, str] = {}
for _type, _words in {
    "website_visit": "website visit|visit|visits|page view|pageview|page views|web visit|"
                     "site visit|viewed page|page visit|visited page|visit webpage|"
                     "visited website|web page visit|session|web session|view",
    "email_open": "email open|opened email|email opened|open email|open|opened|email opens|"
                  "mail opened|opened mail",
    "email_click": "email click|clicked email|click email|email clicked|link click|"
                   "clicked link|click link|click|clicked|email link click|cta click",
    "download": "download|downloaded|whitepaper download|ebook download|content download|"
                "asset download|file download|downloaded content|downloaded asset",
    "form_fill": "form fill|form submission|form submitted|submitted form|fill out form|"
                 "filled out form|form|contact form|signup|sign up|signed up|"
                 "registration|registered|newsletter signup|subscribe|subscribed|"
                 "form fill out|contact us",
    "webinar": "webinar|webinar attended|attended webinar|webinar registration|"
               "registered for webinar|event|attend event|attended event|event attended|"
               "conference|trade show|tradeshow",
    "demo_request": "demo|demo request|requested demo|request demo|demo requested|"
                    "trial|free trial|trial signup|trial started|book a demo|demo booked",
    "meeting": "meeting|meeting booked|meeting held|meeting scheduled|appointment|"
               "video call|zoom|sales meeting",
    "call": "call|phone call|called|call made|logged call|outbound call|inbound call|"
            "phone|cold call|call logged",
    "other": "other|note|task",
}.items():
    for _w in _words.split("|"):
        _ACTIVITY_WORDS[_w] = _type
_ACTIVITY_KEYWORDS = (
    ("webinar", "webinar"), ("demo", "demo_request"), ("trial", "demo_request"),
    ("download", "download"), ("form", "form_fill"), ("meeting", "meeting"),
    ("click", "email_click"), ("open", "email_open"), ("call", "call"),
    ("visit", "website_visit"), ("page", "website_visit"),
)
_ACT_NORM = re.compile(r"[^0-9a-z]+")


def normalize_activity_type(value: str) -> tuple[str, bool]:
    """Return (activity type, recognised?). Unknown -> ("other", False)."""
    v = value.lower()
    if v in ACTIVITY_TYPES:
        return v, True
    norm = " ".join(_ACT_NORM.sub(" ", v).split())
    hit = _ACTIVITY_WORDS.get(norm) or _ACTIVITY_WORDS.get(norm.replace(" ", "_"))
    if hit:
        return hit, True
    if norm.replace(" ", "_") in ACTIVITY_TYPES:
        return norm.replace(" ", "_"), True
    for word, kind in _ACTIVITY_KEYWORDS:
        if word in norm.split() or (len(word) > 4 and word in norm):
            return kind, True
    return "other", False




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
