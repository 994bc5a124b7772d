"""Value parsers for uploads: each takes one cell's text and returns the typed value or
raises ``ValueError`` whose message quotes the value (the row/column plumbing that turns
those into rejects lives in :mod:`leadrank.ingest.validate`).

* **Cleaning.** Every cell is stripped; NBSP and narrow spaces become spaces; zero-width
  characters, soft hyphens and BOMs are removed; text is NFC-normalised; runs of
  whitespace in one-line fields collapse to one space. Placeholder cells (``n/a``, ``-``,
  ``null``, ``none``, ``#N/A``, ``unknown`` …) count as empty. Empty -> ``None``.
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
  that is impossible (``a > 12``) or ``dayfirst`` is set (a column-level decision, see
  ``validate``). ``yyyymmdd``, Unix seconds/milliseconds and Excel serial numbers
  (10000–99999) are understood; anything else goes through ``dateutil``. Naive values are
  in ``naive_tz`` (UTC by default); every datetime returned is timezone-aware UTC.
  Years outside 1900–2200 reject.
* **Outcome** maps booleans, won/lost, CRM stages (``Closed Won``, ``Closed - Not
  Converted``, ``customer``, ``MQL``, ``Negotiation/Review`` …) to open/converted/lost;
  an unknown value rejects.
* **Website** -> ``scheme://host/path``: scheme kept if given else ``https``, host
  lower-cased with ``www.`` and default ports removed, fragment dropped, a bare ``/`` path
  dropped. Something that is not a host name rejects.
* **Full names** split as ``Last, First`` or first word = first name, the rest = last
  name, honorifics dropped.
* **Activity types** map free text (``Page View``, ``webinar attended`` …) to
  ``ACTIVITY_TYPES``.
"""

from __future__ import annotations

import math
import re
import unicodedata
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo

from leadrank.models.activity import ACTIVITY_TYPES

__all__ = [
    "NULL_TOKENS",
    "clean_text",
    "detect_day_first",
    "normalize_activity_type",
    "normalize_phone",
    "normalize_website",
    "parse_company_size",
    "parse_datetime",
    "parse_email",
    "parse_outcome",
    "parse_revenue",
    "split_full_name",
]

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




# Activity types ---------------------------------------------------------------------

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
