"""Small, vectorised parsers shared by the featurizer, the leakage guard and the explainer.

Everything here works on pandas Series and does its Python-level work once per *distinct*
value (``pd.factorize``), never once per row, so it stays fast on a million leads.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

NAT_NS = np.iinfo(np.int64).min
NS_PER_DAY = 86_400 * 1_000_000_000

# --------------------------------------------------------------------------- generic helpers


def distinct_list(uniques: Any) -> list[Any]:
    """The distinct values ``pd.factorize`` returned, as the very objects iterating them yields
    (Python scalars for numbers and strings), without pandas' slow element-wise iterator."""
    if isinstance(uniques, pd.Index):
        dt = uniques.dtype
        if isinstance(dt, pd.StringDtype) or (isinstance(dt, np.dtype) and dt.kind in "biufcO"):
            return uniques.tolist()
    return list(uniques)


def map_distinct(values: pd.Series, func: Callable[[Any], Any], dtype: Any = object) -> np.ndarray:
    """Apply ``func`` once per distinct value and broadcast back (missing -> ``func(None)``)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = [func(u) for u in distinct_list(uniques)]
    mapped.append(func(None) if (codes < 0).any() else None)
    table = np.empty(len(mapped), dtype=dtype)
    table[:] = mapped
    return table[codes]  # code -1 picks the last entry (missing)


def map_distinct_codes(values: pd.Series, func: Callable[[Any], Any]) -> tuple[np.ndarray, list[Any]]:
    """:func:`map_distinct` before broadcasting: (codes, table) with row i's result ``table[codes[i]]``."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    table = [func(u) for u in distinct_list(uniques)]
    missing = codes < 0
    if missing.any():
        codes[missing] = len(table)
        table.append(func(None))
    return codes, table


def factorize_clean(s: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Codes (int64, -1 = missing) and the distinct cleaned values (``clean_strings`` semantics:
    stripped, lower-cased, empty = missing), with string work done once per distinct raw value.
    Uniques keep first-appearance order."""
    if isinstance(s.dtype, pd.StringDtype):
        return _factorize_clean_arrow(arrow_strings(s))
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    cleaned = [_clean_one(u) for u in distinct_list(uniques)]
    # distinct cleaned values, in first-appearance order (None = missing -> -1)
    remap, out = pd.factorize(np.array(cleaned + [None], dtype=object), use_na_sentinel=True)
    return remap[codes], out.tolist()


#: What Python's ``str.strip()`` removes from ASCII text.
_ASCII_WHITESPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"


def _factorize_clean_arrow(arr: Any) -> tuple[np.ndarray, list[str]]:
    """:func:`factorize_clean` of a string column with Arrow: ASCII values (nearly all) are
    stripped and lower-cased by Arrow, exactly as Python does for ASCII; the others by Python."""
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    enc = pc.dictionary_encode(arr)  # first-appearance order, like pd.factorize
    codes = np.asarray(pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
    u = enc.dictionary
    cleaned = pc.ascii_lower(pc.utf8_trim(u, characters=_ASCII_WHITESPACE))
    odd = np.flatnonzero(~_null_to_false(pc.string_is_ascii(u)))
    if len(odd):
        fixed = [_clean_one(v) for v in u.take(pa.array(odd)).to_pylist()]
        mask = np.zeros(len(u), dtype=bool)
        mask[odd] = True
        cleaned = pc.replace_with_mask(cleaned, pa.array(mask), pa.array(fixed, type=cleaned.type))
    cleaned = pc.if_else(pc.equal(cleaned, ""), pa.scalar(None, cleaned.type), cleaned)  # blank = missing
    enc2 = pc.dictionary_encode(cleaned)
    remap = np.append(np.asarray(pc.fill_null(enc2.indices, -1).to_numpy(zero_copy_only=False), dtype=np.int64), -1)
    return remap[codes], enc2.dictionary.to_pylist()


def _clean_one(u: Any) -> str | None:
    """``clean_strings`` of one value (None where missing)."""
    if type(u) is str:
        c = u.strip()
        return c.lower() if c else None
    if is_missing_scalar(u):
        return None
    return str(u).strip().lower()


def lookup(codes: np.ndarray, uniques: list[Any], func: Callable[[Any], Any], missing: Any,
           dtype: Any = np.float64) -> np.ndarray:
    """``func`` applied to each distinct value, broadcast to rows through ``codes`` (-1 -> ``missing``)."""
    table = np.empty(len(uniques) + 1, dtype=dtype)
    table[:-1] = [func(u) for u in uniques] if len(uniques) else []
    table[-1] = missing
    return table[codes]


def lookup_map(codes: np.ndarray, uniques: list[Any], mapping: dict[Any, Any], default: Any, missing: Any,
               dtype: Any = np.float64) -> np.ndarray:
    """``lookup(codes, uniques, lambda u: mapping.get(u, default), missing)``, the lookups in one C loop."""
    table = np.empty(len(uniques) + 1, dtype=dtype)
    table[:-1] = list(map(mapping.get, uniques, repeat(default, len(uniques))))
    table[-1] = missing
    return table[codes]


def arrow_strings(s: pd.Series) -> pa.Array | pa.ChunkedArray:
    """A Series as an Arrow string array (missing values stay null)."""
    if not isinstance(s.dtype, pd.StringDtype):
        s = s.astype("str")
    return pa.array(s)


def _null_to_false(a: Any) -> np.ndarray:
    return np.asarray(pc.fill_null(a, False).to_numpy(zero_copy_only=False), dtype=bool)


def registered_domains(values: Any) -> pa.Array:
    """Vectorised :func:`registered_domain` over an Arrow string array (null where none); the
    regular expressions run once per distinct value."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    enc = pc.dictionary_encode(values)
    return pc.take(_registered_domains(enc.dictionary), enc.indices)


#: A plain host, optionally with an http(s) scheme and a trailing slash ("https://www.acme.com/"):
#: for these the clean-up of ``_clean_host`` reduces to dropping the scheme, the slash and a
#: leading "www.", which plain substring operations do much faster than regular expressions.
_PLAIN_HOST_RE = r"^(?:https?://)?[a-z0-9-]+(?:\.[a-z0-9-]+)+/?$"


def _plain_host(h: Any) -> Any:
    """``_clean_host`` of plain hosts (``_PLAIN_HOST_RE``; there "://" and "/" occur only once)."""
    h = pc.replace_substring(h, "https://", "", max_replacements=1)
    h = pc.replace_substring(h, "http://", "", max_replacements=1)
    h = pc.replace_substring(h, "/", "", max_replacements=1)
    return pc.if_else(pc.starts_with(h, "www."), pc.utf8_slice_codeunits(h, 4), h)


def _registered_domains(values: Any) -> pa.Array:
    h = pc.utf8_lower(pc.utf8_trim_whitespace(values))
    plain = pc.match_substring_regex(h, _PLAIN_HOST_RE)
    if plain.true_count == len(h) - h.null_count:
        h = _plain_host(h)
    else:  # the rest takes the general path
        null = pa.scalar(None, h.type)
        h = pc.coalesce(_plain_host(pc.if_else(plain, h, null)), _clean_host(pc.if_else(plain, null, h)))
    return _last_labels(h)


def _last_labels(h: Any) -> Any:
    """The registered domain of clean host names: the last three labels where the middle one is
    a second-level domain (co, com, ...) and the last has two letters, else the last two (null
    where there are not so many non-empty labels). Equal to the regular expressions
    ``[^.]+\\.(?:co|com|...)\\.[^.]{2}$`` then ``[^.]+\\.[^.]+$``, from one split on "." instead."""
    parts = pc.split_pattern(h, ".")
    offsets = np.asarray(parts.offsets)
    k = np.diff(offsets)  # labels per host (0 where null)
    end = offsets[1:]
    labels = parts.values

    def label(j: int, ok: np.ndarray) -> Any:  # the j-th label from the end (null where not ok)
        return pc.take(labels, pa.array(end - j, mask=~ok))

    def nonempty(a: Any) -> np.ndarray:
        return _null_to_false(pc.greater(pc.binary_length(a), 0))

    has2 = k >= 2
    last, second = label(1, has2), label(2, has2)
    ok2 = has2 & nonempty(last) & nonempty(second)
    dot = pa.scalar(".", h.type)
    two = pc.binary_join_element_wise(pc.if_else(pa.array(ok2), second, None), last, dot)
    ok3 = (k >= 3) & ok2 & _null_to_false(pc.is_in(second, value_set=pa.array(sorted(_SECOND_LEVEL), h.type)))
    ok3 &= _null_to_false(pc.equal(pc.utf8_length(last), 2))
    if not ok3.any():
        return two
    third = label(3, ok3)
    ok3 &= nonempty(third)
    three = pc.binary_join_element_wise(pc.if_else(pa.array(ok3), third, None), second, last, dot)
    return pc.coalesce(three, two)


def _clean_host(h: Any) -> Any:
    """Host names from lower-cased URLs / e-mail addresses (scheme, path, user, dots, "www." removed)."""
    h = pc.replace_substring_regex(h, r"^[a-z][a-z0-9+.-]*://", "", max_replacements=1)
    h = pc.replace_substring_regex(h, r"[/?#:].*$", "")
    h = pc.replace_substring_regex(h, r"^.*@", "")
    h = pc.replace_substring_regex(h, r"^\.+|\.+$", "")
    h = pc.replace_substring_regex(h, r"^www\.", "", max_replacements=1)
    return pc.replace_substring_regex(h, r"\.+", ".")


def email_features(emails: pd.Series, websites: pd.Series | None = None) -> dict[str, np.ndarray]:
    """Vectorised e-mail quality flags: present (valid), free_mail, generic, domain_matches_website."""
    x = pc.utf8_lower(pc.utf8_trim_whitespace(arrow_strings(emails)))
    if isinstance(x, pa.ChunkedArray):
        x = x.combine_chunks()
    valid = _null_to_false(pc.match_substring_regex(x, r"^[^@\s]+@[^@\s]+\.[^@\s]+$"))
    local, domain = split_at(x)
    enc = pc.dictionary_encode(domain)  # domain-level work once per distinct domain
    free = pc.is_in(enc.dictionary, value_set=pa.array(sorted(FREE_MAIL_DOMAINS), pa.large_string()))
    free = pc.or_(free, pc.match_substring_regex(enc.dictionary, "^(?:" + "|".join(
        p.replace(".", "\\.") for p in _FREE_MAIL_PREFIXES) + ")"))
    free = _null_to_false(pc.take(free, enc.indices))
    generic = _null_to_false(pc.is_in(local, value_set=pa.array(sorted(GENERIC_MAILBOXES), pa.large_string())))
    out = {"present": valid, "free_mail": free & valid, "generic": generic & valid, "domain": domain}
    if websites is not None:
        ed = pc.take(_registered_domains(enc.dictionary), enc.indices)
        wd = registered_domains(arrow_strings(websites))
        out["match"] = _null_to_false(pc.equal(ed, wd)) & valid
    return out


def python_match(x: Any, pattern: str) -> np.ndarray:
    """``re.match(pattern, v) is not None`` per value of an Arrow string array (False where null).

    For ``pattern`` written with ASCII classes, ``\\s`` and ``$`` only: RE2 agrees with Python's ``re``
    on ASCII text without control characters (where both ``\\s`` mean the space only and ``$`` has
    no newline to stop before), so only the other values go through ``re``."""
    x = x.combine_chunks() if isinstance(x, pa.ChunkedArray) else x
    out = _null_to_false(pc.match_substring_regex(x, pattern))
    odd = ~_null_to_false(pc.string_is_ascii(x)) | _null_to_false(pc.match_substring_regex(x, r"[\x00-\x1f\x7f]"))
    odd &= _null_to_false(pc.is_valid(x))
    idx = np.flatnonzero(odd)
    if len(idx):
        rx = re.compile(pattern)
        out[idx] = [rx.match(v) is not None for v in x.take(pa.array(idx)).to_pylist()]
    return out


def split_at(x: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(text before the first "@", text after it): the whole text where there is no "@", null
    where missing. One split instead of two regular-expression replacements."""
    parts = pc.split_pattern(x, "@", max_splits=1)
    offsets = np.asarray(parts.offsets)
    none = np.diff(offsets) == 0  # null rows (a present value always has at least one part)
    first = pa.array(offsets[:-1], mask=none)
    last = pa.array(offsets[1:] - 1, mask=none)
    return pc.take(parts.values, first), pc.take(parts.values, last)


def is_missing_scalar(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and np.isnan(v):
        return True
    if v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, str) and v.strip() == ""


def clean_strings(s: pd.Series) -> pd.Series:
    """Strings stripped and lower-cased; empty strings / None become NaN (object dtype)."""
    def norm(v: Any) -> Any:
        if is_missing_scalar(v):
            return np.nan
        return str(v).strip().lower()

    return pd.Series(map_distinct(s, norm), index=s.index, dtype=object)


def present_mask(s: pd.Series) -> np.ndarray:
    """True where a value is present (not None/NaN and not an empty string)."""
    if isinstance(s.dtype, pd.StringDtype):
        return _null_to_false(pc.not_equal(pc.utf8_trim_whitespace(arrow_strings(s)), ""))
    mask = s.notna().to_numpy().copy()
    if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
        stripped = s.astype("str").str.strip()
        mask &= (stripped != "").to_numpy(dtype=bool, na_value=False)
    return mask


def to_epoch_ns(s: pd.Series) -> np.ndarray:
    """Any date-like Series -> int64 nanoseconds since epoch in UTC (``NAT_NS`` for missing).

    Naive timestamps are taken to be UTC.
    """
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        d = s.dt.tz_convert("UTC").dt.tz_localize(None)
    elif pd.api.types.is_datetime64_dtype(s.dtype):
        d = s
    else:
        d = parse_dates(s)
        d = d.dt.tz_convert("UTC").dt.tz_localize(None)
    return d.to_numpy(dtype="datetime64[ns]").view(np.int64).copy()


def parse_dates(s: pd.Series) -> pd.Series:
    """Parse strings to tz-aware UTC datetimes, trying the fast path first."""
    if isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(s.dtype):
        return pd.to_datetime(s, utc=True)
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    u = pd.Series(uniques, dtype=object)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            parsed = pd.to_datetime(u, utc=True, errors="coerce")
    except (ValueError, TypeError):
        parsed = pd.Series(pd.NaT, index=u.index, dtype="datetime64[ns, UTC]")
    if len(u) and parsed.isna().mean() > 0.05:
        try:
            alt = pd.to_datetime(u, utc=True, errors="coerce", format="mixed")
            if alt.notna().sum() > parsed.notna().sum():
                parsed = alt
        except (ValueError, TypeError):
            pass
    table = pd.concat([parsed, pd.Series([pd.NaT], dtype=parsed.dtype)], ignore_index=True)
    out = table.iloc[codes].reset_index(drop=True)
    out.index = s.index
    return out


def to_numeric(s: pd.Series) -> np.ndarray:
    """Numbers, bools or numeric strings -> float64 (NaN where not a number)."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype(float).to_numpy()
    if pd.api.types.is_numeric_dtype(s.dtype):
        return s.astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)

    def conv(v: Any) -> float:
        if is_missing_scalar(v):
            return np.nan
        if isinstance(v, bool):
            return float(v)
        if isinstance(v, (int, float, np.integer, np.floating)):
            return float(v)
        txt = str(v).strip().replace(",", "").replace("$", "").replace("€", "").replace("%", "")
        try:
            return float(txt)
        except ValueError:
            return np.nan

    return map_distinct(s, conv, dtype=np.float64)


_TRUE = {"true", "yes", "y", "t", "1", "1.0", "ja", "oui", "si", "sí", "x", "checked"}
_FALSE = {"false", "no", "n", "f", "0", "0.0", "nein", "non", "unchecked"}


def to_boolean(s: pd.Series) -> np.ndarray:
    """Booleans in common spellings -> 1.0 / 0.0 / NaN."""
    def conv(v: Any) -> float:
        if is_missing_scalar(v):
            return np.nan
        if isinstance(v, (bool, np.bool_)):
            return float(v)
        txt = str(v).strip().lower()
        if txt in _TRUE:
            return 1.0
        if txt in _FALSE:
            return 0.0
        return np.nan

    return map_distinct(s, conv, dtype=np.float64)


# --------------------------------------------------------------------------- column typing

COLUMN_TYPES = ("empty", "boolean", "numeric", "date", "text", "categorical", "identifier")


def _mostly_dates(sample: pd.Series, share: float = 0.95, chunk: int = 200) -> bool:
    """``parse_dates(sample)`` parses at least ``share`` of the values. Small chunks are tried first
    so that a column that clearly is not a date (phone numbers...) is rejected after a few hundred
    values; chunks parse at least as many values as the whole, so the early exit is exact."""
    budget = (1.0 - share) * len(sample)
    failed = 0
    if len(sample) > 2 * chunk:
        for start in range(0, len(sample), chunk):
            failed += int(parse_dates(sample.iloc[start:start + chunk]).isna().sum())
            if failed > budget:
                return False
    return bool(parse_dates(sample).notna().mean() >= share)


def infer_column_type(s: pd.Series) -> str:
    """Guess what a user column holds: boolean, numeric, date, free text, categorical or id."""
    present = s[present_mask(s)]
    n = len(present)
    if n == 0:
        return "empty"
    if pd.api.types.is_bool_dtype(s.dtype):
        return "boolean"
    if isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(s.dtype):
        return "date"
    sample = present.sample(min(n, 2000), random_state=0) if n > 2000 else present
    if pd.api.types.is_numeric_dtype(s.dtype):
        uniq = pd.unique(sample)
        if len(uniq) <= 2 and set(np.asarray(uniq, dtype=float)).issubset({0.0, 1.0}):
            return "boolean"
        return "numeric"
    bools = to_boolean(sample)
    if np.mean(~np.isnan(bools)) >= 0.98:
        return "boolean"
    nums = to_numeric(sample)
    if np.mean(~np.isnan(nums)) >= 0.95:
        return "numeric"
    txt = sample.astype(str)
    if txt.str.contains(r"\d", regex=True).mean() > 0.95 and txt.str.len().between(6, 40).mean() > 0.95:
        if _mostly_dates(sample):
            return "date"
    n_unique = present.nunique()
    mean_len = txt.str.len().mean()
    mean_words = txt.str.count(r"\s+").mean() + 1
    if mean_len >= 30 and mean_words >= 4 and n_unique / n >= 0.2:
        return "text"
    if n >= 50 and n_unique / n > 0.9:
        return "identifier"
    return "categorical"


# --------------------------------------------------------------------------- job titles

SENIORITY_LEVELS = ("student", "ic", "senior_ic", "manager", "head", "director", "vp", "c_level")
SENIORITY_LABELS = {
    "student": "student/intern",
    "ic": "individual contributor",
    "senior_ic": "senior individual contributor",
    "manager": "manager",
    "head": "head-of",
    "director": "director",
    "vp": "VP",
    "c_level": "C-level",
    "unknown": "unknown",
}
_SENIORITY_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("vp", re.compile(r"\b(vp|svp|evp|avp|vice[\s-]*president|v\.\s?p\.?|vizepr[aä]sident|vicepresidente)\b")),
    (
        "c_level",
        re.compile(
            r"\b(ceo|cto|cfo|coo|cmo|cio|cro|cso|cpo|cdo|chro|ciso|chief|president|founder|co[\s-]?founder|"
            r"owner|co[\s-]?owner|proprietor|managing\s+director|managing\s+partner|partner|"
            r"gesch[aä]ftsf[uü]hrer(in)?|inhaber(in)?|pdg|directeur\s+g[eé]n[eé]ral|director\s+general|"
            r"executive\s+director|general\s+partner|board\s+member|chairman|chairwoman)\b"
        ),
    ),
    ("head", re.compile(r"\b(head|leiter(in)?|jefe|jefa|responsable)\b")),
    ("director", re.compile(r"\b(director|directeur|directrice|directora|dir\.?|direktor(in)?)\b")),
    (
        "manager",
        re.compile(
            r"\b(manager|mgr|management|supervisor|team\s*lead|lead|gerente|manag(e|ing)|foreman|"
            r"coordinator\s+lead|superintendent)\b"
        ),
    ),
    (
        "student",
        re.compile(
            r"\b(student|intern|internship|trainee|apprentice|werkstudent(in)?|praktikant(in)?|"
            r"stagiaire|[eé]tudiant(e)?|estudiante|becario|phd\s+candidate|graduate\s+student)\b"
        ),
    ),
    ("senior_ic", re.compile(r"\b(senior|sr\.?|principal|staff|expert|specialist\s+ii+|architect)\b")),
]
_ASSISTANT = re.compile(r"\b(assistant|assistent(in)?|secretary|pa)\s+(to|of)\b|\bexecutive\s+assistant\b")

DEPARTMENTS = (
    "sales", "marketing", "engineering_it", "product", "finance", "hr", "operations",
    "customer", "legal", "executive", "other",
)
DEPARTMENT_LABELS = {
    "sales": "sales", "marketing": "marketing", "engineering_it": "engineering/IT", "product": "product",
    "finance": "finance", "hr": "HR", "operations": "operations", "customer": "customer success",
    "legal": "legal", "executive": "executive", "other": "other", "unknown": "unknown",
}
_DEPARTMENT_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("sales", re.compile(r"\b(sales|business\s+development|bdr|sdr|account\s+(executive|manager)|ae|revenue|"
                         r"commercial|vertrieb|ventas|ventes|cro|partnerships?|channel)\b")),
    ("marketing", re.compile(r"\b(marketing|growth|brand|content|seo|sem|demand\s+gen(eration)?|communications?|"
                             r"pr|social\s+media|cmo|campaigns?|advertising|events?)\b")),
    ("engineering_it", re.compile(r"\b(engineer(ing)?|developer|software|it|information\s+technology|technology|"
                                  r"technical|cto|cio|ciso|devops|data|architect|programmer|security|systems?|"
                                  r"infrastructure|informatik|r&d|research)\b")),
    ("product", re.compile(r"\b(product|ux|ui|design(er)?|cpo)\b")),
    ("finance", re.compile(r"\b(finance|financial|cfo|accounting|accountant|controller|controlling|treasur(y|er)|"
                           r"audit(or)?|fp&a|bookkeep(er|ing)|tax|procurement|purchasing|buyer)\b")),
    ("hr", re.compile(r"\b(hr|human\s+resources|people|talent|recruit(er|ing|ment)?|chro|personal)\b")),
    ("operations", re.compile(r"\b(operations|ops|coo|supply\s+chain|logistics|facilities|production|"
                              r"manufacturing|plant|quality)\b")),
    ("customer", re.compile(r"\b(customer|client|support|service|success)\b")),
    ("legal", re.compile(r"\b(legal|counsel|compliance|attorney|lawyer|paralegal)\b")),
    ("executive", re.compile(r"\b(ceo|founder|co[\s-]?founder|owner|president|managing\s+director|"
                             r"general\s+manager|chief\s+executive|gesch[aä]ftsf[uü]hrer(in)?|pdg|partner|"
                             r"chairman)\b")),
]


def _prep_title(v: Any) -> str | None:
    if is_missing_scalar(v):
        return None
    t = str(v).lower()
    t = re.sub(r"[,/|()&+]", " ", t.replace("&", " & ")).replace(" & ", " & ")
    return re.sub(r"\s+", " ", t).strip()


def parse_seniority(title: Any) -> str:
    t = _prep_title(title)
    if not t:
        return "unknown"
    if _ASSISTANT.search(t):
        return "ic"
    for level, rx in _SENIORITY_RULES:
        if rx.search(t):
            return level
    return "ic"


def parse_department(title: Any) -> str:
    t = _prep_title(title)
    if not t:
        return "unknown"
    for dept, rx in _DEPARTMENT_RULES:
        if rx.search(t):
            return dept
    return "other"


# --------------------------------------------------------------------------- email / web

FREE_MAIL_DOMAINS = frozenset(
    """gmail.com googlemail.com yahoo.com ymail.com rocketmail.com hotmail.com outlook.com live.com msn.com
    aol.com icloud.com me.com mac.com protonmail.com proton.me pm.me gmx.com gmx.net gmx.de web.de mail.com
    mail.ru yandex.ru yandex.com qq.com 163.com 126.com sina.com zoho.com zohomail.com tutanota.com fastmail.com
    hushmail.com inbox.com btinternet.com sky.com virginmedia.com orange.fr wanadoo.fr free.fr laposte.net sfr.fr
    t-online.de freenet.de libero.it tiscali.it alice.it virgilio.it seznam.cz wp.pl o2.pl interia.pl onet.pl
    rediffmail.com uol.com.br bol.com.br terra.com.br ig.com.br naver.com daum.net hanmail.net yahoo.co.uk
    yahoo.fr yahoo.de yahoo.es yahoo.it yahoo.co.in yahoo.com.br hotmail.co.uk hotmail.fr hotmail.de hotmail.es
    hotmail.it live.co.uk live.fr outlook.fr outlook.de bluewin.ch telenet.be skynet.be ziggo.nl kpnmail.nl
    comcast.net verizon.net att.net sbcglobal.net cox.net charter.net earthlink.net juno.com
    """.split()
)
_FREE_MAIL_PREFIXES = ("yahoo.", "hotmail.", "outlook.", "live.", "gmx.", "yandex.", "aol.")
GENERIC_MAILBOXES = frozenset(
    "info sales contact admin office hello support team mail enquiries inquiries noreply no-reply marketing "
    "webmaster hr jobs careers billing accounts service kontakt".split()
)
_SECOND_LEVEL = frozenset("co com net org gov ac edu ltd plc or ne go".split())


def registered_domain(host: Any) -> str | None:
    """``https://www.shop.acme.co.uk/x`` -> ``acme.co.uk``; e-mail domains work too."""
    if is_missing_scalar(host):
        return None
    h = str(host).strip().lower()
    h = re.sub(r"^[a-z][a-z0-9+.-]*://", "", h)
    h = h.split("/")[0].split("?")[0].split("#")[0].split(":")[0]
    if "@" in h:
        h = h.rsplit("@", 1)[1]
    h = h.strip(".")
    if h.startswith("www."):
        h = h[4:]
    parts = [p for p in h.split(".") if p]
    if len(parts) < 2:
        return None
    if len(parts) >= 3 and parts[-2] in _SECOND_LEVEL and len(parts[-1]) == 2:
        return ".".join(parts[-3:])
    return ".".join(parts[-2:])


#: ``_PLAIN_HOST_RE`` before lower-casing (no surrounding white space either).
_PLAIN_HOST_ANY_CASE_RE = r"^(?:[hH][tT][tT][pP][sS]?://)?[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)+/?$"


def map_registered_domain(values: pd.Series) -> np.ndarray:
    """``map_distinct(values, registered_domain)``, with plain host names and URLs (nearly all)
    done by Arrow; for them both give the same result (ASCII, nothing to strip or split off but
    the scheme, a trailing slash and "www."). The others go through :func:`registered_domain`."""
    if isinstance(values.dtype, pd.StringDtype):
        arr = arrow_strings(values)
        enc = pc.dictionary_encode(arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr)
        codes = np.asarray(pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
        table = np.empty(len(enc.dictionary) + 1, dtype=object)
        table[:-1] = registered_domain_of_distinct(enc.dictionary)
        table[-1] = None  # registered_domain(missing)
        return table[codes]
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    vals = distinct_list(uniques)
    table = np.empty(len(vals) + 1, dtype=object)
    table[-1] = None  # registered_domain(missing)
    if vals:
        done = np.zeros(len(vals), dtype=bool)
        try:
            arr = pa.array([v if type(v) is str else None for v in vals], pa.large_string())
        except (pa.ArrowException, UnicodeError):
            arr = None
        if arr is not None:
            plain = np.flatnonzero(_null_to_false(pc.match_substring_regex(arr, _PLAIN_HOST_ANY_CASE_RE)))
            if len(plain):
                host = _plain_host(pc.ascii_lower(arr.take(pa.array(plain))))
                table[plain] = _last_labels(host).to_pylist()
                done[plain] = True
        for i in np.flatnonzero(~done):
            table[i] = registered_domain(vals[i])
    return table[codes]


def registered_domain_of_distinct(values: pa.Array) -> np.ndarray:
    """:func:`registered_domain` of each value of an Arrow string array (object array, None where
    there is none): plain hosts and URLs by Arrow (see :func:`map_registered_domain`), the rest
    one by one."""
    out = np.empty(len(values), dtype=object)
    plain = _null_to_false(pc.match_substring_regex(values, _PLAIN_HOST_ANY_CASE_RE))
    idx = np.flatnonzero(plain)
    if len(idx):
        out[idx] = _last_labels(_plain_host(pc.ascii_lower(values.take(pa.array(idx))))).to_pylist()
    rest = np.flatnonzero(~plain)
    if len(rest):
        out[rest] = [registered_domain(v) for v in values.take(pa.array(rest)).to_pylist()]
    return out


def free_mail_of_distinct(domains: pa.Array) -> np.ndarray:
    """:func:`is_free_mail` of each value of an Arrow string array: ASCII values (Python's
    lower() is Arrow's there) with Arrow, the others one by one."""
    low = pc.ascii_lower(domains)
    free = _null_to_false(pc.is_in(low, value_set=pa.array(sorted(FREE_MAIL_DOMAINS), low.type)))
    free |= _null_to_false(pc.match_substring_regex(low, "^(?:" + "|".join(
        p.replace(".", "\\.") for p in _FREE_MAIL_PREFIXES) + ")"))
    odd = np.flatnonzero(~_null_to_false(pc.string_is_ascii(domains)) | ~_null_to_false(pc.is_valid(domains)))
    if len(odd):
        free[odd] = [is_free_mail(v) for v in domains.take(pa.array(odd)).to_pylist()]
    return free


def is_free_mail(domain: Any) -> bool:
    if is_missing_scalar(domain):
        return False
    d = str(domain).lower()
    return d in FREE_MAIL_DOMAINS or d.startswith(_FREE_MAIL_PREFIXES)


def email_parts(emails: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Vectorised split of e-mail addresses into (local part, full domain), lower-cased; NaN if invalid."""
    s = emails.astype("str").str.strip().str.lower()
    valid = s.str.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$").to_numpy(dtype=bool, na_value=False)
    valid = valid & emails.notna().to_numpy()
    if not valid.any():  # nothing to split (and an all-missing column has no .str to use)
        empty = pd.Series(np.nan, index=emails.index, dtype=object)
        return empty, empty.copy()
    parts = s.str.split("@", n=1, expand=False)
    local = parts.str[0].astype(object)
    domain = parts.str[-1].astype(object)
    local[~valid] = np.nan
    domain[~valid] = np.nan
    return local, domain


# --------------------------------------------------------------------------- text

_STOPWORDS = frozenset(
    """a an the and or of to in on for with at by from is are was were be been it this that as we our you your
    i they them he she his her their not no but if so do does did have has had will would can could should may
    about into over more most very just also than then there here what which who when where how all any some
    per via de la le les des et en el los las y un une una der die das und mit""".split()
)


def tokenize(v: Any) -> list[str]:
    if is_missing_scalar(v):
        return []
    return [t for t in re.findall(r"[a-zà-ÿ][a-zà-ÿ0-9+#-]{2,}", str(v).lower()) if t not in _STOPWORDS]
