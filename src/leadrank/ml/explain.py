"""Per-lead explanations: contributions in score points that add up to the score, plain
sentences a sales rep can use, and a suggested next action.

Arithmetic (decided for the product, implemented exactly):

* contributions ``phi`` live in *calibrated* log-odds space, so ``logit(p) = base_logit + sum(phi)``;
* they are summed per group (the user's column) and converted to score points by the mean slope of
  the sigmoid between the base and the lead::

      points_g = phi_g * (100 p - 100 p_base) / sum(phi)        (|sum(phi)| >= 1e-9)
      points_g = phi_g * 100 p (1 - p)                           (otherwise)

  so ``base_points + sum(points) == score`` exactly, signs are preserved and nothing blows up.

Everything is vectorised over leads; Python-level string work happens per *distinct* value.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.special import expit

from leadrank.allocation import gc_paused
from leadrank.ml import _parsing as P
from leadrank.ml.features import ActivityStats

MINUS = "\u2212"
log = logging.getLogger("leadrank.ml")

#: Contributions smaller than this many points are not worth a sentence.
MIN_REASON_POINTS = 0.05


def sigmoid(x: np.ndarray | float) -> np.ndarray:
    """Logistic function without overflow warnings for large |x|."""
    return expit(np.asarray(x, dtype=np.float64))


def points_from_log_odds(phi: np.ndarray, base_logit: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Group log-odds contributions (n x G) -> (points n x G, probability n, base_points)."""
    phi = np.asarray(phi, dtype=np.float64)
    total = phi.sum(axis=1)
    p = sigmoid(base_logit + total)
    p_base = float(sigmoid(base_logit))
    small = np.abs(total) < 1e-9
    safe = np.where(small, 1.0, total)
    scale = np.where(small, 100.0 * p * (1.0 - p), (100.0 * p - 100.0 * p_base) / safe)
    return phi * scale[:, None], p, 100.0 * p_base


def format_points(points: np.ndarray) -> np.ndarray:
    """Signed points as text: "+12", "−7", "+0.4" (vectorised through a small table)."""
    pts = np.asarray(points, dtype=np.float64)
    big = np.abs(pts) >= 0.95
    key = np.where(big, np.round(pts), np.round(pts, 1))
    return P.map_distinct(pd.Series(key), _fmt_one)


def format_points_coded(points: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """:func:`format_points` as (codes, distinct texts)."""
    pts = np.asarray(points, dtype=np.float64)
    big = np.abs(pts) >= 0.95
    key = np.where(big, np.round(pts), np.round(pts, 1))
    return P.map_distinct_codes(pd.Series(key), _fmt_one)


def _sentences(label_ids: np.ndarray, labels: list[str | None], point_codes: np.ndarray,
               point_texts: list[str]) -> np.ndarray:
    """``f"{label}: {points}"`` per row (None where the label is None), each distinct text built once."""
    m = max(len(point_texts), 1)
    key_codes, keys = pd.factorize(label_ids * m + point_codes)
    table = np.empty(len(keys), dtype=object)
    table[:] = [None if labels[k // m] is None else f"{labels[k // m]}: {point_texts[k % m]}" for k in keys.tolist()]
    return table[key_codes]


def _fmt_one(v: Any) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    v = float(v)
    txt = f"{abs(v):.0f}" if abs(v) >= 0.95 else f"{abs(v):.1f}"
    return ("+" if v >= 0 else MINUS) + txt


def _ago(days: Any) -> str:
    if days is None or (isinstance(days, float) and np.isnan(days)):
        return ""
    d = int(np.floor(float(days)))
    if d <= 0:
        return "today"
    if d == 1:
        return "yesterday"
    return f"{d} days ago"


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def display_name(group: str) -> str:
    name = group[len("custom."):] if group.startswith("custom.") else group
    name = name.replace("_", " ").replace(".", " ").strip()
    return name[:1].upper() + name[1:]


def _money(v: float) -> str:
    a = abs(v)
    if a >= 1e9:
        return f"${v / 1e9:.1f}B"
    if a >= 1e6:
        return f"${v / 1e6:.1f}M"
    if a >= 1e3:
        return f"${v / 1e3:.0f}k"
    return f"${v:.0f}"


@dataclass
class ExplainContext:
    """What the describers need: the raw leads, the activity aggregates and the column types."""

    leads: pd.DataFrame
    stats: ActivityStats | None
    column_types: dict[str, str]
    completeness_fields: list[str] = field(default_factory=list)


_ACT_PHRASES = {
    "website_visit": ("Visited the website {n}", "Never visited the website", "time"),
    "email_open": ("Opened {n}", "Never opened an email", "email"),
    "email_click": ("Clicked {n}", "Never clicked an email", "email link"),
    "download": ("Downloaded {n}", "No downloads", "resource"),
    "form_fill": ("Filled in {n}", "Never filled in a form", "form"),
    "webinar": ("Attended {n}", "No webinar attended", "webinar"),
    "call": ("Had {n}", "No calls yet", "call"),
    "other": ("{n}", "No other activity", "other activity"),
}


def _series(leads: pd.DataFrame, col: str, rows: np.ndarray) -> pd.Series:
    if col not in leads.columns:
        return pd.Series([None] * len(rows), dtype=object)
    s = leads[col]
    if len(rows) == len(s) and isinstance(s.index, pd.RangeIndex) and s.index.start == 0 and s.index.step == 1 \
            and np.array_equal(rows, np.arange(len(s))):
        return s  # every lead, in order (to_dicts): no copy
    return s.iloc[rows].reset_index(drop=True)


def describe(group: str, rows: np.ndarray, ctx: ExplainContext) -> tuple[np.ndarray, np.ndarray]:
    """(sentence labels, raw values) of one group for the given row positions.

    A column's wording must never cost a lead its score: when the vectorised wording fails
    on an odd batch (e.g. a column with no value at all), the group's plain name is used."""
    codes, table, values = describe_coded(group, rows, ctx)
    return np.asarray(table + [None], dtype=object)[codes], _objects(values)


def describe_coded(group: str, rows: np.ndarray, ctx: ExplainContext
                   ) -> tuple[np.ndarray, list[str], np.ndarray | pd.Series]:
    """:func:`describe` as (codes, distinct labels, raw values): row i's label is ``table[codes[i]]``.
    Labels are built once per distinct value, and callers can combine them by code. The raw values
    may still be the lead column (a Series): see ``_objects`` and ``_jsonable_values``."""
    try:
        return _describe(group, rows, ctx)
    except (AttributeError, TypeError, ValueError):
        log.warning("plain wording for %s (could not describe its values)", group, exc_info=True)
        n = len(np.asarray(rows))
        return np.zeros(n, dtype=np.int64), [display_name(group)], np.full(n, None, dtype=object)


_Coded = tuple[np.ndarray, list[str], np.ndarray | pd.Series]


def _objects(values: np.ndarray | pd.Series) -> np.ndarray:
    return values.to_numpy(dtype=object) if isinstance(values, pd.Series) else values


def _describe(group: str, rows: np.ndarray, ctx: ExplainContext) -> _Coded:
    leads, st = ctx.leads, ctx.stats
    rows = np.asarray(rows, dtype=np.int64)
    coded = P.map_distinct_codes
    if group.startswith("activities.") and st is not None:
        t = group.split(".", 1)[1]
        i = st.col(t)
        cnt = st.counts[rows, i].astype(np.int64)
        days = st.days_since[rows, i]
        if t == "demo_request":
            key = pd.Series(np.where(cnt > 0, np.floor(np.nan_to_num(days, nan=0)), -1))
            codes, table = coded(key, lambda d: "Never requested a demo" if d < 0 else f"Requested a demo {_ago(d)}")
        elif t == "meeting":
            key = pd.Series(np.where(cnt > 0, np.floor(np.nan_to_num(days, nan=0)), -1))
            codes, table = coded(key, lambda d: "No meeting yet" if d < 0 else f"Had a meeting {_ago(d)}")
        else:
            tmpl, none, unit = _ACT_PHRASES.get(t, _ACT_PHRASES["other"])

            def fmt(c: Any, tmpl: str = tmpl, none: str = none, unit: str = unit) -> str:
                c = int(c)
                if c <= 0:
                    return none
                return tmpl.format(n=_plural(c, unit) if unit != "time" else _plural(c, "time"))

            codes, table = coded(pd.Series(cnt), fmt)
        return codes, table, cnt.astype(object)
    if group == "activity_recency" and st is not None:
        d = st.days_since_last[rows]
        key = pd.Series(np.floor(d))
        codes, table = coded(key, lambda v: "No recorded activity" if v is None or np.isnan(v) else (
            f"No activity for {int(v)} days" if v >= 14 else f"Last activity {_ago(v)}"))
        return codes, table, d.astype(object)
    if group == "engagement" and st is not None:
        n30 = st.n_30d[rows].astype(np.int64)
        codes, table = coded(pd.Series(n30), lambda c: "No activity in the last 30 days" if int(c) == 0
                             else f"{_plural(int(c), 'activity', 'activities')} in the last 30 days")
        return codes, table, n30.astype(object)
    s = _series(leads, group, rows)
    if group == "job_title":
        def job(t: Any) -> str:
            if P.is_missing_scalar(t):
                return "No job title given"
            lvl = P.parse_seniority(t)
            return f"Title is {str(t).strip()} ({P.SENIORITY_LABELS[lvl]} level)"
        return (*coded(s, job), s)
    if group == "email":
        return (*_email_labels(s, _series(leads, "website", rows)), s)
    if group in ("website", "phone"):
        present = P.present_mask(s)
        word = "Website" if group == "website" else "Phone number"
        return np.where(present, 0, 1), [f"{word} given", f"No {word.lower()}"], s.to_numpy(dtype=object)
    if group == "completeness":
        miss = np.zeros(len(rows), dtype=np.int64)
        for f in ctx.completeness_fields:
            miss += ~P.present_mask(_series(leads, f, rows))
        return (*coded(pd.Series(miss), lambda k: "All key fields filled in" if int(k) == 0
                       else f"{_plural(int(k), 'key field')} missing"), miss.astype(object))
    if group == "company_size":
        x = P.to_numeric(s)
        return (*coded(pd.Series(x), lambda v: "Company size not given" if v is None or np.isnan(v)
                       else f"Company size {int(v):,} employees"), x.astype(object))
    if group == "annual_revenue":
        x = P.to_numeric(s)
        return (*coded(pd.Series(x), lambda v: "Annual revenue not given" if v is None or np.isnan(v)
                       else f"Annual revenue {_money(v)}"), x.astype(object))
    if group == "created_at":
        d = P.to_epoch_ns(s)
        wd = np.where(d == P.NAT_NS, -1, ((d // P.NS_PER_DAY) + 3) % 7)
        names = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
        return (*coded(pd.Series(wd), lambda k: "Creation date unknown" if k < 0
                       else f"Came in on a {names[int(k)]}"), s)
    if group == "last_activity_date":
        d = P.to_epoch_ns(s)
        now = pd.Timestamp.now(tz="UTC").value
        days = np.where(d == P.NAT_NS, np.nan, (now - d) / P.NS_PER_DAY)
        # a missing date is a NaN day count, which factorize hands to the wording as None
        return (*coded(pd.Series(np.floor(days)), lambda v: "No activity date" if v is None or np.isnan(v)
                       else f"Last activity {_ago(v)}"), s)
    kind = ctx.column_types.get(group, "categorical")
    name = display_name(group)
    if kind == "boolean":
        b = P.to_boolean(s)
        return (*coded(pd.Series(b), lambda v: f"{name} not given" if v is None or np.isnan(v)
                       else f"{name}: {'yes' if v else 'no'}"), s)
    if kind == "numeric":
        x = P.to_numeric(s)
        return (*coded(pd.Series(x), lambda v: f"{name} not given" if v is None or np.isnan(v)
                       else f"{name} is {v:,.4g}"), x.astype(object))
    if kind in ("text",):
        # Per distinct value in Python: an all-empty column has no string dtype for .str to work on.
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
        per_value = [len(v.split()) if isinstance(v, str) else 0 for v in P.distinct_list(uniques)]
        words = np.array(per_value + [0], dtype=np.float64)[codes]
        words[~P.present_mask(s)] = 0
        return (*coded(pd.Series(words), lambda k: f"No {name.lower()}" if k == 0
                       else f"{name} given ({int(k)} words)"), s)
    if kind == "date":
        d = P.to_epoch_ns(s)
        now = pd.Timestamp.now(tz="UTC").value
        days = np.where(d == P.NAT_NS, np.nan, (now - d) / P.NS_PER_DAY)
        return (*coded(pd.Series(np.floor(days)), lambda v: f"{name} not given" if v is None or np.isnan(v)
                       else f"{name} {_ago(v)}" if v >= 0 else f"{name} in {int(-v)} days"),
                s)
    verbs = {"lead_source": "Source is", "campaign": "Campaign is", "company_name": "Company is",
             "location": "Located in", "country": "Country is"}
    verb = verbs.get(group, f"{name} is")

    def cat(v: Any) -> str:
        if P.is_missing_scalar(v):
            return f"No {name.lower()} given"
        return f"{verb} {str(v).strip()}"
    return (*coded(s, cat), s)


#: What ``Series.str.match`` calls a valid address (run with Python's ``re``: it has ``\s``).
_EMAIL_RE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_NO_EMAIL = "No valid email address"


def _email_labels(s: pd.Series, web: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Wording of e-mail addresses: free-mail, generic mailbox, matching the website or not.

    Column-wise: the address is split once, and the domain-level work (registered domain, free-mail
    check, sentence) runs once per distinct domain, the website's once per distinct website."""
    n = len(s)
    x = pc.utf8_lower(pc.utf8_trim_whitespace(P.arrow_strings(s)))  # == .str.strip().str.lower()
    valid = P.python_match(x, _EMAIL_RE) & s.notna().to_numpy()
    rows = np.flatnonzero(valid)
    if len(rows) == 0:
        return np.zeros(n, dtype=np.int64), [_NO_EMAIL]
    x = x.combine_chunks() if isinstance(x, pa.ChunkedArray) else x
    local, domain = P.split_at(x.take(pa.array(rows)))
    generic = np.asarray(pc.is_in(local, value_set=pa.array(sorted(P.GENERIC_MAILBOXES), local.type))
                         .to_numpy(zero_copy_only=False), dtype=bool)
    enc = pc.dictionary_encode(domain)
    d_codes = np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    domains = enc.dictionary.to_pylist()
    rd = P.registered_domain_of_distinct(enc.dictionary)[d_codes]
    wd = P.map_registered_domain(web)
    # a website without a registered domain (missing, or a bare host name) matches no address,
    # whatever the other leads' websites are
    match = (rd == wd[rows]) & ~pd.isna(wd[rows])
    free = P.free_mail_of_distinct(enc.dictionary)
    kind = np.where(free[d_codes], 0, np.where(generic, 1, np.where(match, 2, 3)))
    key_codes, keys = pd.factorize(d_codes * 4 + kind)
    texts = ("Free-mail address ({})", "Generic mailbox address (@{})", "Company email matching the website ({})",
             "Company email address ({})")
    table = [texts[k % 4].format(domains[k // 4]) for k in keys.tolist()]
    codes = np.full(n, len(table), dtype=np.int64)
    codes[rows] = key_codes
    return codes, table + [_NO_EMAIL]


# --------------------------------------------------------------------------- next action

def next_actions(stats: ActivityStats | None, grades: np.ndarray) -> np.ndarray:
    """A suggested next step per lead where the data supports one (None otherwise)."""
    n = len(grades)
    out = np.full(n, None, dtype=object)
    todo = np.ones(n, dtype=bool)

    def put(mask: np.ndarray, texts: np.ndarray | str) -> None:
        nonlocal todo
        m = mask & todo
        if isinstance(texts, str):
            out[m] = texts
        else:
            out[m] = texts[m]
        todo &= ~m

    if stats is not None:
        st = stats
        demo_d = st.days_since[:, st.col("demo_request")]
        meet_d = st.days_since[:, st.col("meeting")]
        no_meeting_since = np.isnan(meet_d) | (meet_d > demo_d)
        m = (demo_d <= 14) & no_meeting_since
        put(m, P.map_distinct(pd.Series(np.floor(np.nan_to_num(demo_d, nan=0))),
                              lambda d: f"Asked for a demo {_ago(d)}, no meeting yet: call today"))
        m = meet_d <= 14
        put(m, P.map_distinct(pd.Series(np.floor(np.nan_to_num(meet_d, nan=0))),
                              lambda d: f"Met {_ago(d)}: send the proposal and agree next steps"))
        opens7 = st.count_7d[:, st.col("email_open")]
        visits = st.counts[:, st.col("website_visit")]
        m = (opens7 >= 2) & (visits == 0)
        put(m, P.map_distinct(pd.Series(opens7), lambda k: f"Opened {int(k)} emails this week but never "
                                                           "visited the site: send a case study"))
        v7 = st.count_7d[:, st.col("website_visit")]
        m = (v7 >= 3) & (st.counts[:, st.col("demo_request")] == 0)
        put(m, P.map_distinct(pd.Series(v7), lambda k: f"Visited the site {int(k)} times this week: offer a demo"))
        ff = np.fmin(st.days_since[:, st.col("form_fill")], st.days_since[:, st.col("download")])
        m = ff <= 3
        put(m, P.map_distinct(pd.Series(np.floor(np.nan_to_num(ff, nan=0))),
                              lambda d: f"Filled in a form or downloaded content {_ago(d)}: follow up within a day"))
        total = st.total
        m = (total > 0) & (st.days_since_last >= 90)
        put(m, "No engagement for 90+ days: re-engage or drop")
        m = (total == 0) & (grades == "A")
        put(m, "Strong fit but no engagement yet: reach out personally")
    else:
        put(grades == "A", "Top-grade lead: contact first")
    return out


# --------------------------------------------------------------------------- batches

@dataclass
class ExplanationBatch:
    """Columnar explanations for many leads (the fast path for scoring jobs)."""

    lead_ids: np.ndarray
    probability: np.ndarray
    score: np.ndarray
    grade: np.ndarray
    base_points: float
    base_logit: float
    groups: list[str]
    points: np.ndarray  # n x G
    log_odds: np.ndarray  # n x G
    reasons_up: np.ndarray  # n x top (object; None where no reason)
    reasons_down: np.ndarray
    next_action: np.ndarray
    ctx: ExplainContext | None = None
    feature_log_odds: np.ndarray | None = None  # n x F, only for small batches
    feature_names: list[str] | None = None
    feature_groups: dict[str, str] | None = None
    # _described per short_values: to_stored and list_columns describe the same cells.
    _described_cache: dict[bool, tuple] = field(default_factory=dict, init=False, repr=False)
    _lead_columns_cache: tuple | None = field(default=None, init=False, repr=False)

    def __len__(self) -> int:
        return len(self.score)

    def to_dicts(self) -> list[dict[str, Any]]:
        """One explanation dict per lead (scoring jobs store these). Work is done per group
        with numpy and converted to Python lists once; the per-lead loop only assembles."""
        n = len(self)
        if n == 0:
            return []
        G = len(self.groups)
        order, cells = self._cell_order()

        def in_order(mat: np.ndarray) -> list[Any]:
            return mat.ravel()[cells].tolist()

        if self.ctx is None:
            labels = values = texts = [None] * (n * G)
        else:
            label_ids, table, value_mat = self._described(short_values=False)
            labels, values = _labels_in_order(label_ids, table, cells), in_order(value_mat)
            point_codes, point_texts = format_points_coded(self.points.ravel())
            texts = _sentences(label_ids.ravel()[cells], table, point_codes[cells], point_texts).tolist()
        # The strongest single feature inside each group, per lead (one argmax per group).
        feature_mat = np.full((n, G), None, dtype=object)
        if self.feature_log_odds is not None and self.feature_names is not None and self.feature_groups:
            by_group: dict[str, list[int]] = {}
            for j, f in enumerate(self.feature_names):
                by_group.setdefault(self.feature_groups[f], []).append(j)
            names = np.asarray(self.feature_names, dtype=object)
            size = np.abs(self.feature_log_odds)
            for gi, g in enumerate(self.groups):
                idx = by_group.get(g)
                if idx:
                    contiguous = idx[-1] - idx[0] == len(idx) - 1  # then a view, not a copy
                    cols = size[:, idx[0]:idx[-1] + 1] if contiguous else size[:, idx]
                    feature_mat[:, gi] = names[np.asarray(idx)[np.argmax(cols, axis=1)]]
        lead_ids = _jsonable_list(self.lead_ids)
        group_names = self._group_names(order)
        scores, probs, grades, ups, downs, actions = self._lead_columns()
        base_points = float(self.base_points)
        with gc_paused():
            contributions = [
                {"group": g, "feature": f, "label": lab, "value": v, "points": p, "log_odds": lo, "text": t}
                for g, f, lab, v, p, lo, t in zip(group_names, in_order(feature_mat), labels, values,
                                                   in_order(self.points), in_order(self.log_odds), texts)
            ]
            return [{
                "lead_id": lead_ids[i], "score": scores[i], "probability": probs[i], "grade": grades[i],
                "base_points": base_points, "contributions": contributions[i * G:(i + 1) * G],
                "reasons_up": ups[i], "reasons_down": downs[i], "next_action": actions[i],
            } for i in range(n)]

    def to_stored(self, model_version: str | None) -> list[dict[str, Any]]:
        """The stored form of each lead's explanation, built directly (no full dicts first).

        Equals ``scoring.stored.compact({**full, "score_kind": "model"})`` without its
        ``score_kind`` key, where ``full`` is :meth:`to_dicts`' dict plus the ``model`` block the
        customization hooks add when no configuration shapes the scores (``base_logit``, the
        group names, their log-odds and ``model_version``): contributions keep group, label,
        value (floats to 4 decimals) and points (5 decimals), in the same order; the model block
        keeps the base logit, the version and each group's log-odds (6 decimals); no lead id,
        sentence, per-contribution log-odds or strongest feature (``keep_features`` is not needed).
        Rounding is Python's ``round``, done column-wise (see :func:`_round_like_python`)."""
        n = len(self)
        if n == 0:
            return []
        G = len(self.groups)
        order, cells = self._cell_order()
        if self.ctx is None:
            labels = values = [None] * (n * G)
        else:
            label_ids, table, value_mat = self._described(short_values=True)
            labels, values = _labels_in_order(label_ids, table, cells), value_mat.ravel()[cells].tolist()
        points = _round_like_python(self.points, 5).ravel()[cells].tolist()
        log_odds = _round_like_python(self.log_odds, 6).tolist()
        groups, group_names = list(self.groups), self._group_names(order)
        base_logit = float(self.base_logit)
        scores, probs, grades, ups, downs, actions = self._lead_columns()
        base_points = float(self.base_points)
        with gc_paused():
            contributions = [{"group": g, "label": lab, "value": v, "points": p}
                             for g, lab, v, p in zip(group_names, labels, values, points)]
            return [{
                "score": scores[i], "probability": probs[i], "grade": grades[i], "base_points": base_points,
                "reasons_up": ups[i], "reasons_down": downs[i], "next_action": actions[i],
                "contributions": contributions[i * G:(i + 1) * G],
                "model": {"base_logit": base_logit, "version": model_version,
                          "log_odds": dict(zip(groups, log_odds[i]))},
                "stored": STORED_FORM,
            } for i in range(n)]

    @gc_paused()  # the texts hold no cycles; the collector would rescan the big arrays for nothing
    def to_stored_json(self, model_version: str | None, extra: dict[str, Any] | None = None) -> list[str]:
        """:meth:`to_stored` as JSON text, byte for byte ``orjson.dumps({**stored, **extra})``,
        written straight from the columns: a scoring job only stores explanations, so the
        ~30 dicts per lead it would build and then encode are never made. Every distinct
        label, group name and reason is encoded once, numbers a column at a time; each lead's
        text is then one ``str.join`` of its ~160 encoded pieces and the fixed text between."""
        n = len(self)
        if n == 0:
            return []
        G = len(self.groups)
        order, cells = self._cell_order()
        # One row of encoded pieces per lead: 6 lead fields, then (group, label, value, points)
        # of each contribution in the lead's order, then the G log-odds in group order.
        pieces = np.empty((n, 6 + 5 * G), dtype=object)
        scores, probs, grades, ups, downs, actions = self._lead_columns()
        pieces[:, 0] = _json_numbers(np.asarray(scores, dtype=np.float64))
        pieces[:, 1] = _json_numbers(np.asarray(probs, dtype=np.float64))
        pieces[:, 2] = _json_texts(grades)
        pieces[:, 3] = [_json(r) for r in ups]
        pieces[:, 4] = [_json(r) for r in downs]
        pieces[:, 5] = _json_texts(actions)
        contributions = np.empty((n * G, 4), dtype=object)
        group_json = np.empty(G, dtype=object)
        group_json[:] = [_json(g) for g in self.groups]
        contributions[:, 0] = group_json[order].ravel()
        if self.ctx is None:
            contributions[:, 1] = contributions[:, 2] = "null"
        else:
            label_ids, table, value_mat = self._described(short_values=True)
            encoded = np.empty(len(table), dtype=object)
            encoded[:] = [_json(x) for x in table]
            contributions[:, 1] = encoded[label_ids.ravel()[cells]]
            value_json = np.empty((n, G), dtype=object)
            for gi in range(G):
                value_json[:, gi] = _json_texts(value_mat[:, gi].tolist())
            contributions[:, 2] = value_json.ravel()[cells]
        contributions[:, 3] = _json_numbers(_round_like_python(self.points, 5).ravel()[cells])
        pieces[:, 6:6 + 4 * G] = contributions.reshape(n, 4 * G)
        pieces[:, 6 + 4 * G:] = np.asarray(_json_numbers(_round_like_python(self.log_odds, 6).ravel()),
                                           dtype=object).reshape(n, G)
        extra_json = "".join(f",{_json(k)}:{_json(v)}" for k, v in (extra or {}).items())
        # The fixed text before each piece, and after the last one.
        names = group_json.tolist()
        literals = ['{"score":', ',"probability":', ',"grade":',
                    f',"base_points":{_json(float(self.base_points))},"reasons_up":', ',"reasons_down":',
                    ',"next_action":']
        model_head = f'"model":{{"base_logit":{_json(float(self.base_logit))},"version":{_json(model_version)},'
        tail = f'}}}},"stored":{STORED_FORM}{extra_json}}}'
        if G == 0:  # a model without columns: nothing between the lead fields and the tail
            literals.append(f',"contributions":[],{model_head}"log_odds":{{' + tail)
        else:
            literals += [',"contributions":[{"group":', ',"label":', ',"value":', ',"points":'] + [
                '},{"group":', ',"label":', ',"value":', ',"points":'] * (G - 1)
            literals += [f'}}],{model_head}"log_odds":{{{names[0]}:'] + [f",{g}:" for g in names[1:]]
            literals.append(tail)
        # Literals and pieces interleaved, one row per lead: str.join copies each row in one go.
        rows = np.empty((n, 2 * pieces.shape[1] + 1), dtype=object)
        rows[:, 0::2] = np.asarray(literals, dtype=object)
        rows[:, 1::2] = pieces
        return list(map("".join, rows.tolist()))

    @gc_paused()  # the texts hold no cycles; the collector would rescan the big arrays for nothing
    def list_columns(self, top: int) -> tuple[list[str | None], list[str]]:
        """What a list row shows of each lead's explanation: (its first reason, the ``top``
        strongest insights and the next step as JSON text). Equals ``leads.insights.list_columns``
        of each :meth:`to_stored` explanation, built column-wise: the cells are already in
        each lead's order, so only the first ``top`` of every lead are touched."""
        n = len(self)
        if n == 0:
            return [], []
        G = len(self.groups)
        k = min(top, G)
        order, cells = self._cell_order()
        cells = cells.reshape(n, G)[:, :k].ravel()
        group_json = np.empty(G, dtype=object)
        group_json[:] = [_json(g) for g in self.groups]
        names = group_json[order[:, :k]].ravel().tolist()
        if self.ctx is None:
            texts = names  # no labels: the group names stand in
        else:
            label_ids, table, _ = self._described(short_values=True)
            encoded = np.empty(len(table), dtype=object)
            encoded[:] = [_json(x) if x else None for x in table]  # an empty label: the group name
            texts = [t or g for t, g in zip(encoded[label_ids.ravel()[cells]].tolist(), names, strict=True)]
        # round(round(p, 5), 2): the stored points, rounded as the insights show them.
        stored = _round_like_python(self.points, 5).ravel()[cells]
        points = _json_numbers(_round_like_python(stored, 2))
        directions = np.where(stored >= 0, "up", "down").tolist()
        _, _, _, ups, downs, actions = self._lead_columns()
        top_reasons = [u[0] if u else d[0] if d else None for u, d in zip(ups, downs, strict=True)]
        rows = [f'{{"text":{t},"points":{p},"group":{g},"direction":"{d}"}}'
                for t, p, g, d in zip(texts, points, names, directions, strict=True)]
        insights = []
        for i, action in enumerate(actions):
            lead_rows = rows[i * k:(i + 1) * k]
            if action:
                lead_rows.append(f'{{"text":{_json(action)},"points":null,"group":"next_action","direction":"action"}}')
            insights.append("[" + ",".join(lead_rows) + "]")
        return top_reasons, insights

    # ------------------------------------------------------------------ shared by to_dicts / to_stored
    def _cell_order(self) -> tuple[np.ndarray, np.ndarray]:
        """Every (lead, group) cell as an n x G matrix is put in each lead's order (largest
        |points| first, stable): (order n x G of group indices, flat cell indices in that order)."""
        n, G = len(self), len(self.groups)
        order = np.argsort(-np.abs(self.points), axis=1, kind="stable")
        return order, (order + (np.arange(n) * G)[:, None]).ravel()

    def _group_names(self, order: np.ndarray) -> list[str]:
        """Each cell's group name, in :meth:`_cell_order`'s order."""
        names = np.empty(len(self.groups), dtype=object)
        names[:] = list(self.groups)
        return names[order].ravel().tolist()

    def _described(self, *, short_values: bool) -> tuple[np.ndarray, list[str | None], np.ndarray]:
        """(label ids n x G into one table of labels, the table, JSON-ready values n x G); with
        ``short_values`` float values are rounded to 4 decimals as the stored form keeps them."""
        assert self.ctx is not None
        if short_values in self._described_cache:
            return self._described_cache[short_values]
        n, G = len(self), len(self.groups)
        all_rows = np.arange(n)
        label_ids = np.empty((n, G), dtype=np.int64)
        value_mat = np.empty((n, G), dtype=object)
        table: list[str | None] = []
        for gi, g in enumerate(self.groups):
            codes, tab, val = describe_coded(g, all_rows, self.ctx)
            label_ids[:, gi] = codes + len(table)
            table += [None if x is None else str(x) for x in tab]
            vals = _jsonable_values(val)
            value_mat[:, gi] = _short_values(vals) if short_values else vals
        self._described_cache[short_values] = (label_ids, table, value_mat)
        return label_ids, table, value_mat

    def _lead_columns(self) -> tuple[list[Any], ...]:
        """Score, probability, grade, reasons up and down, next action: one list each (built
        once: the stored form and the list columns both need them)."""
        if self._lead_columns_cache is None:
            with gc_paused():
                self._lead_columns_cache = (
                    self.score.tolist(), self.probability.tolist(), [str(g) for g in self.grade.tolist()],
                    [[r for r in rs if r is not None] for rs in self.reasons_up.tolist()],
                    [[r for r in rs if r is not None] for rs in self.reasons_down.tolist()],
                    self.next_action.tolist())
        return self._lead_columns_cache


#: ``scoring.stored.STORAGE_VERSION`` of the form :meth:`ExplanationBatch.to_stored` builds (``ml``
#: imports nothing from scoring; a test checks that the two agree).
STORED_FORM = 2


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


_NEEDS_ESCAPE = re.compile(r'[\x00-\x1f"\\]')


def _json_texts(values: list[Any]) -> list[str]:
    """``[_json(v) for v in values]`` for one column of JSON-ready values, the common columns
    without a call per value: floats (and None) encoded in one call, integers as ``str``
    writes them, plain ASCII strings that need no escape quoted as they are."""
    types = set(map(type, values))
    if types <= _NONE_OR_FLOAT:
        return _json_numbers(np.array([np.nan if v is None else v for v in values], dtype=np.float64))
    if types <= _NONE_OR_INT:  # bool is not int here: type(True) is bool
        return ["null" if v is None else str(v) for v in values]
    if types <= _NONE_OR_STR:
        joined = "".join(v for v in values if v is not None)
        if joined.isascii() and _NEEDS_ESCAPE.search(joined) is None:
            return ["null" if v is None else f'"{v}"' for v in values]
    return [_json(v) for v in values]


def _json_numbers(x: np.ndarray) -> list[str]:
    """Each float as orjson writes it (the shortest text that reads back the same double;
    non-finite values as null), encoded in one call: numbers hold no comma to split on."""
    if len(x) == 0:
        return []
    # orjson writes a float64 array as it writes the same Python floats, without making them.
    return orjson.dumps(np.ascontiguousarray(x, dtype=np.float64), option=orjson.OPT_SERIALIZE_NUMPY
                        ).decode()[1:-1].split(",")


def _labels_in_order(label_ids: np.ndarray, table: list[str | None], cells: np.ndarray) -> list[str | None]:
    table_arr = np.empty(len(table), dtype=object)
    table_arr[:] = table
    return table_arr[label_ids.ravel()[cells]].tolist()


def _round_like_python(x: np.ndarray, digits: int) -> np.ndarray:
    """``round(v, digits)`` of every value (float64 array of the same shape), column-wise.

    Python rounds the exact binary value half-to-even and returns the double nearest to that
    decimal; ``rint(x * 10**digits) / 10**digits`` gives the same double whenever the scaled
    value is exact enough to pick the same integer (the division by an exact power of ten is
    correctly rounded). Values whose scaled form lies within 1e-3 of a half (the product's error
    is below 2**-13 there) or is large or not finite are rounded by Python itself."""
    x = np.asarray(x, dtype=np.float64)
    scale = 10.0 ** digits
    with np.errstate(over="ignore", invalid="ignore"):  # huge or infinite values: Python's turn
        y = x * scale
        r = np.rint(y)
        out = r / scale
        risky = ~(np.abs(y) < 2.0 ** 40) | (np.abs(np.abs(y - r) - 0.5) < 1e-3)
    if risky.any():
        out[risky] = [round(v, digits) for v in x[risky].tolist()]
    return out


_NONE_OR_FLOAT = frozenset({float, type(None)})
_NONE_OR_STR = frozenset({str, type(None)})
_NONE_OR_INT = frozenset({int, type(None)})


def _short_values(values: list[Any]) -> list[Any]:
    """``[round(v, 4) if isinstance(v, float) else v for v in values]`` (how the stored form keeps
    values): columns of floats and None are rounded column-wise."""
    types = set(map(type, values))
    if float not in types:
        return values
    if types <= _NONE_OR_FLOAT:
        x = np.array(values, dtype=np.float64)  # None -> NaN (there is no NaN among JSON-ready values)
        out = _round_like_python(x, 4).astype(object)
        out[np.isnan(x)] = None
        return out.tolist()
    return [round(v, 4) if isinstance(v, float) else v for v in values]


_PLAIN_JSON = frozenset({str, int, bool, type(None)})


def _jsonable_values(values: np.ndarray | pd.Series) -> list[Any]:
    """``[_jsonable(v) for v in values]``; date columns are written as ISO text column-wise."""
    if isinstance(values, pd.Series):
        iso = _isoformat(values)
        if iso is not None:
            return iso
    return _jsonable_list(_objects(values))


def _isoformat(s: pd.Series) -> list[str | None] | None:
    """``Timestamp.isoformat()`` of a naive or UTC date column (None where missing), for the usual
    whole-second values; None when the column is anything else."""
    dt = s.dtype
    if isinstance(dt, pd.DatetimeTZDtype) and str(dt.tz) == "UTC":
        suffix = "+00:00"
    elif isinstance(dt, np.dtype) and dt.kind == "M":
        suffix = ""
    else:
        return None
    unit = dt.unit if isinstance(dt, pd.DatetimeTZDtype) else np.datetime_data(dt)[0]
    per_second = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}.get(unit)
    if per_second is None:
        return None
    v = s.to_numpy(dtype=f"datetime64[{unit}]")
    ticks = v.view(np.int64)
    missing = ticks == P.NAT_NS
    present = v[~missing].astype("datetime64[s]")
    if (ticks[~missing] % per_second).any() or (len(present) and (
            present.min() < np.datetime64("1000-01-01T00:00:00")
            or present.max() > np.datetime64("9999-12-31T23:59:59"))):
        return None  # fractions of a second or unusual years: Timestamp's own rules
    out = np.char.add(np.datetime_as_string(v, unit="s"), suffix).astype(object)
    out[missing] = None
    return out.tolist()


def _jsonable_list(values: Any) -> list[Any]:
    """``[_jsonable(v) for v in values]``, without a call per value for the usual types."""
    lst = np.asarray(values, dtype=object).tolist()
    types = set(map(type, lst))
    if types <= _PLAIN_JSON:
        return lst
    if types <= _PLAIN_JSON | {float}:
        return [None if v != v else v for v in lst]  # NaN -> None
    return [_jsonable(v) for v in lst]


def _jsonable(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, (np.floating, float)):
        return None if np.isnan(v) else float(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if v is pd.NA or v is pd.NaT:
        return None
    return v if isinstance(v, (str, int, bool)) else str(v)


def top_reasons(points: np.ndarray, groups: list[str], ctx: ExplainContext, top: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """Sentences for the ``top`` largest positive and negative group contributions per lead."""
    n, g_count = points.shape
    top = max(0, min(top, g_count))
    up = np.full((n, top), None, dtype=object)
    down = np.full((n, top), None, dtype=object)
    if n == 0 or top == 0:
        return up, down
    order_up, order_dn = _top_orders(points, top)
    pts_up = np.take_along_axis(points, order_up, axis=1)
    pts_dn = np.take_along_axis(points, order_dn, axis=1)
    ok_up = pts_up >= MIN_REASON_POINTS
    ok_dn = pts_dn <= -MIN_REASON_POINTS
    needed = np.zeros((n, g_count), dtype=bool)
    r = np.arange(n)[:, None]
    needed[np.broadcast_to(r, order_up.shape)[ok_up], order_up[ok_up]] = True
    needed[np.broadcast_to(r, order_dn.shape)[ok_dn], order_dn[ok_dn]] = True
    # label ids into one table of all groups' distinct labels (-1 where not needed)
    label_ids = np.full((n, g_count), -1, dtype=np.int64)
    table: list[str | None] = []
    for gi in range(g_count):
        rows = np.flatnonzero(needed[:, gi])
        if len(rows):
            codes, tab, _ = describe_coded(groups[gi], rows, ctx)
            label_ids[rows, gi] = codes + len(table)
            table += tab
    for order, pts, ok, dest in ((order_up, pts_up, ok_up, up), (order_dn, pts_dn, ok_dn, down)):
        if ok.any():
            point_codes, point_texts = format_points_coded(pts[ok])
            dest[ok] = _sentences(np.take_along_axis(label_ids, order, axis=1)[ok], table, point_codes, point_texts)
    return up, down


def _top_orders(points: np.ndarray, top: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``top`` columns of ``argsort(-points)`` and ``argsort(points)`` (stable) per row.

    For a few out of many columns, repeated argmax / argmin (first of equal values, as a stable
    sort) is much cheaper than sorting every row."""
    n, g_count = points.shape
    if 3 * top >= g_count or not np.isfinite(points).all():
        return (np.argsort(-points, axis=1, kind="stable")[:, :top],
                np.argsort(points, axis=1, kind="stable")[:, :top])
    rows = np.arange(n)
    out = []
    for pick, used in ((np.argmax, -np.inf), (np.argmin, np.inf)):
        work = points.copy()
        order = np.empty((n, top), dtype=np.int64)
        for k in range(top):
            j = pick(work, axis=1)
            order[:, k] = j
            work[rows, j] = used
        out.append(order)
    return out[0], out[1]
