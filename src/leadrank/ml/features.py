"""Lead features: firmographics, role, contact quality, source, custom attributes and
point-in-time behaviour from activities.

``LeadFeaturizer`` follows the scikit-learn contract: ``__init__`` stores parameters, ``fit``
learns vocabularies and encodings (attributes ending in ``_``), ``transform`` refuses to run
unfitted. Its whole learned state is plain JSON (``get_state`` / ``from_state``).

Every engineered feature knows its *group*: the user column(s) it came from ("job_title",
"email", "activities.demo_request", "engagement", "custom.budget"...), so that per-feature
contributions can be summed back to something a user recognises.

Point-in-time: each lead has a cut-off (its outcome date for training rows, "now"/``as_of``
when scoring) and only activities strictly before it count.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.exceptions import NotFittedError

from leadrank.errors import InvalidInput
from leadrank.ml import _parsing as P

ACTIVITY_TYPES = (
    "website_visit", "email_open", "email_click", "download", "form_fill",
    "webinar", "demo_request", "meeting", "call", "other",
)
#: Prior weights for the decayed engagement score (the model learns its own weights on top).
ACTIVITY_WEIGHTS = {
    "website_visit": 1.0, "email_open": 0.5, "email_click": 1.5, "download": 2.0, "form_fill": 3.0,
    "webinar": 3.0, "demo_request": 6.0, "meeting": 6.0, "call": 2.0, "other": 1.0,
}
_ACTIVITY_ALIASES = {
    "visit": "website_visit", "page_view": "website_visit", "pageview": "website_visit", "web_visit": "website_visit",
    "site_visit": "website_visit", "open": "email_open", "opened": "email_open", "email_opened": "email_open",
    "click": "email_click", "clicked": "email_click", "email_clicked": "email_click", "form": "form_fill",
    "form_submission": "form_fill", "form_submit": "form_fill", "demo": "demo_request", "demo_requested": "demo_request",
    "phone_call": "call", "calls": "call", "meetings": "meeting", "downloads": "download",
}

#: Lead columns with a built-in meaning.
CATEGORICAL_COLUMNS = ("industry", "location", "country", "lead_source", "campaign", "company_name")
NUMERIC_COLUMNS = ("company_size", "annual_revenue")
KEY_FIELDS = ("first_name", "last_name", "email", "phone", "company_name", "job_title", "industry",
              "company_size", "website")
STANDARD_COLUMNS = frozenset(
    CATEGORICAL_COLUMNS + NUMERIC_COLUMNS
    + ("job_title", "email", "website", "phone", "description", "first_name", "last_name",
       "created_at", "last_activity_date")
)
#: Never features: identifiers, the label and its date, and what leadrank itself writes.
IGNORED_COLUMNS = frozenset(
    {"lead_id", "external_id", "outcome", "outcome_date", "score", "conversion_probability", "grade",
     "updated_at", "workspace_id", "id", "model_version", "scored_at", "cutoff"}
)

_GROUP_CATEGORY = {
    "industry": "fit", "company_size": "fit", "annual_revenue": "fit", "location": "fit", "country": "fit",
    "website": "fit", "company_name": "fit", "job_title": "fit", "email": "contact", "phone": "contact",
    "completeness": "contact", "lead_source": "source", "campaign": "source", "description": "profile",
    "created_at": "source", "activity_recency": "engagement", "engagement": "engagement",
    "last_activity_date": "engagement",
}


def group_category(group: str) -> str:
    """The coarse family of a group: fit, contact, source, engagement, profile or custom."""
    if group.startswith("activities."):
        return "engagement"
    return _GROUP_CATEGORY.get(group, "custom")


def _now_ns() -> int:
    return int(pd.Timestamp.now(tz="UTC").value)


def _ts_ns(ts: Any) -> int:
    t = pd.Timestamp(ts)
    if t.tzinfo is None:
        t = t.tz_localize("UTC")
    return int(t.tz_convert("UTC").as_unit("ns").value)


def day_end(cut_ns: np.ndarray) -> np.ndarray:
    """The end of each cut-off's UTC day (a cut-off at midnight is its own day end).

    Ages and recencies are measured to it, in training (cut-off = outcome date) and in scoring
    (cut-off = now) alike, so a lead's score is the score *of the day*: rescoring the same leads
    with the same model later that day (a rollback, a re-run job) gives exactly the same scores
    instead of drifting with every second of decay; new activities still count at once.
    """
    cut_ns = np.asarray(cut_ns, dtype=np.int64)
    return -((-cut_ns) // P.NS_PER_DAY) * P.NS_PER_DAY


def scoring_cutoffs(n: int, as_of: Any = None) -> np.ndarray:
    """One cut-off per lead for scoring: ``as_of`` or now."""
    return np.full(n, _ts_ns(as_of) if as_of is not None else _now_ns(), dtype=np.int64)


def training_cutoffs(leads: pd.DataFrame, as_of: Any = None) -> np.ndarray:
    """Cut-off per lead for training: its outcome date, capped at ``as_of`` (default now)."""
    cap = _ts_ns(as_of) if as_of is not None else _now_ns()
    cut = np.full(len(leads), cap, dtype=np.int64)
    if "outcome_date" in leads.columns:
        od = P.to_epoch_ns(leads["outcome_date"])
        ok = od != P.NAT_NS
        cut[ok] = np.minimum(od[ok], cap)
    return cut


def _resolve_cutoff(n: int, cutoff: Any, as_of: Any) -> np.ndarray:
    if cutoff is None:
        return scoring_cutoffs(n, as_of)
    if np.isscalar(cutoff) or isinstance(cutoff, (pd.Timestamp, np.datetime64)):
        return np.full(n, _ts_ns(cutoff), dtype=np.int64)
    arr = np.asarray(cutoff)
    if arr.dtype == np.int64:
        if len(arr) != n:
            raise InvalidInput("cutoff must have one value per lead")
        return arr
    ns = P.to_epoch_ns(pd.Series(arr))
    if len(ns) != n:
        raise InvalidInput("cutoff must have one value per lead")
    ns[ns == P.NAT_NS] = _now_ns()
    return ns


def _normalise_activity_type(v: Any) -> str:
    if P.is_missing_scalar(v):
        return "other"
    t = str(v).strip().lower().replace(" ", "_").replace("-", "_")
    t = _ACTIVITY_ALIASES.get(t, t)
    return t if t in ACTIVITY_TYPES else "other"


def normalise_activity_types(s: pd.Series) -> pd.Series:
    return pd.Series(P.map_distinct(s, _normalise_activity_type), index=s.index)


class ActivityStats:
    """Point-in-time activity aggregates for a set of leads (also used by the explainer)."""

    def __init__(self, n: int, types: tuple[str, ...]) -> None:
        t = len(types)
        self.types = types
        self.counts = np.zeros((n, t), dtype=np.float64)
        self.count_7d = np.zeros((n, t), dtype=np.float64)
        self.days_since = np.full((n, t), np.nan)
        self.days_since_last = np.full(n, np.nan)
        self.n_7d = np.zeros(n)
        self.n_30d = np.zeros(n)
        self.n_90d = np.zeros(n)
        self.engagement = np.zeros(n)

    def col(self, activity_type: str) -> int:
        return self.types.index(activity_type)

    def take(self, idx: np.ndarray) -> ActivityStats:
        """The aggregates of a subset of the leads (rows ``idx``)."""
        out = ActivityStats(0, self.types)
        for k in ("counts", "count_7d", "days_since", "days_since_last", "n_7d", "n_30d", "n_90d", "engagement"):
            setattr(out, k, getattr(self, k)[idx])
        return out

    @property
    def total(self) -> np.ndarray:
        return self.counts.sum(axis=1)


def _lead_codes(lead_ids: pd.Series, activity_lead_ids: pd.Series) -> np.ndarray:
    """Position of each activity's lead in ``lead_ids`` (-1 where none); the ids must be unique.

    One hash pass over leads and activities together: dictionary-encoding the concatenation gives
    the leads codes 0..n-1 exactly when their ids are distinct, and an activity the code of its lead.
    Activities usually come grouped by lead: then only the first of each run of equal ids is hashed.
    """
    n = len(lead_ids)
    ids = _combined(P.arrow_strings(pd.Series(lead_ids).reset_index(drop=True)))
    if ids.null_count:
        raise InvalidInput("lead_id must be unique")
    acts = _combined(P.arrow_strings(activity_lead_ids))
    if acts.type != ids.type:
        acts = acts.cast(ids.type)
    m = len(acts)
    starts = None
    if m > 1:
        change = pc.fill_null(pc.not_equal(acts.slice(1), acts.slice(0, m - 1)), True)
        starts = np.flatnonzero(np.concatenate([[True], change.to_numpy(zero_copy_only=False)]))
        if len(starts) > m // 2:
            starts = None  # not grouped: hash every row
        else:
            acts = acts.take(pa.array(starts))
    enc = pc.dictionary_encode(pa.chunked_array([ids, acts], type=ids.type).combine_chunks())
    idx = np.asarray(pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
    if not np.array_equal(idx[:n], np.arange(n)):
        raise InvalidInput("lead_id must be unique")
    codes = idx[n:]
    codes[codes >= n] = -1
    if starts is not None:
        codes = np.repeat(codes, np.diff(np.append(starts, m)))
    return codes


def _combined(a: Any) -> pa.Array:
    return a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a


def _activity_type_codes(col: pd.Series, types: tuple[str, ...]) -> np.ndarray:
    """Type index per activity row (unknown types -> "other"), normalising each distinct spelling
    once. Rows spelt exactly like one of ``types`` (nearly all) are matched in one pass first."""
    other = types.index("other") if "other" in types else 0
    pos = {t: i for i, t in enumerate(types)}
    out = np.empty(len(col), dtype=np.int64)
    rest = None
    if isinstance(col.dtype, pd.StringDtype) and len(col):
        arr = P.arrow_strings(col)
        spellings = list(types)
        hit = pc.index_in(arr, value_set=pa.array(spellings, type=arr.type))
        hit = np.asarray(pc.fill_null(hit, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
        table = np.array([pos.get(_normalise_activity_type(t), other) for t in spellings] + [0], dtype=np.int64)
        out[:] = table[hit]
        rest = np.flatnonzero(hit < 0)
        if len(rest) == 0:
            return out
        col = col.iloc[rest]
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    norm = normalise_activity_types(pd.Series(list(uniques) + [None], dtype=object))
    table = np.array([pos.get(t, other) for t in norm], dtype=np.int64)
    if rest is None:
        return table[codes]
    out[rest] = table[codes]
    return out


def _group_min(keys: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Minimum of ``values`` per key in ``range(size)`` (NaN where a key has none)."""
    out = np.full(size, np.inf)
    np.minimum.at(out, keys, values)
    out[np.isinf(out)] = np.nan
    return out


def activity_stats(
    lead_ids: pd.Series, cutoff_ns: np.ndarray, activities: pd.DataFrame | None, half_life_days: float,
    types: tuple[str, ...] = ACTIVITY_TYPES,
) -> ActivityStats:
    """Aggregate activities strictly before each lead's cut-off (vectorised, no per-row Python)."""
    n = len(lead_ids)
    st = ActivityStats(n, types)
    if activities is None or len(activities) == 0 or n == 0:
        return st
    for c in ("lead_id", "activity_type", "activity_date"):
        if c not in activities.columns:
            raise InvalidInput(f"activities need a {c!r} column")
    codes = _lead_codes(lead_ids, activities["lead_id"])
    t = P.to_epoch_ns(activities["activity_date"])
    cutoff_ns = np.asarray(cutoff_ns, dtype=np.int64)
    same_cut = bool(cutoff_ns.min() == cutoff_ns.max())  # scoring: one "now" for every lead
    if same_cut:
        keep = (codes >= 0) & (t != P.NAT_NS) & (t < cutoff_ns[0])  # strictly before the cut-off
    else:
        keep = (codes >= 0) & (t != P.NAT_NS)
        keep &= t < cutoff_ns[np.where(keep, codes, 0)]
    sel = np.flatnonzero(keep)
    codes = codes[sel]
    if len(codes) == 0:
        return st
    # ages count to the end of the cut-off's UTC day (see ``day_end``); only activities strictly
    # before the cut-off itself count
    end = day_end(cutoff_ns[:1])[0] if same_cut else day_end(cutoff_ns)[codes]
    age = (end - t[sel]).astype(np.float64) / P.NS_PER_DAY
    type_code = _activity_type_codes(activities["activity_type"], types)[sel]
    tcount = len(types)
    flat = codes * tcount + type_code
    in_7d = age < 7
    by_type = np.bincount(flat * 2 + in_7d, minlength=2 * n * tcount).reshape(n, tcount, 2)
    st.counts = (by_type[:, :, 0] + by_type[:, :, 1]).astype(np.float64)
    st.count_7d = by_type[:, :, 1].astype(np.float64)
    st.days_since = _group_min(flat, age, n * tcount).reshape(n, tcount)
    st.days_since_last = _group_min(codes, age, n)
    # per lead, activities by recency band: 0 = 90+ days, 1 = 30-90, 2 = 7-30, 3 = under 7 days
    band = in_7d.astype(np.int64) + (age < 30) + (age < 90)
    by_band = np.bincount(codes * 4 + band, minlength=4 * n).reshape(n, 4)
    st.n_7d = by_band[:, 3].astype(np.float64)
    st.n_30d = (by_band[:, 2] + by_band[:, 3]).astype(np.float64)
    st.n_90d = (by_band[:, 1] + by_band[:, 2] + by_band[:, 3]).astype(np.float64)
    w = np.array([ACTIVITY_WEIGHTS.get(tp, 1.0) for tp in types])[type_code]
    decay = np.exp(-math.log(2.0) * age / float(half_life_days))
    st.engagement = np.bincount(codes, weights=w * decay, minlength=n)
    return st


def _log1p_signed(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


class LeadFeaturizer:
    """Turn leads (+ activities) into a numeric matrix with named, grouped features.

    Parameters
    ----------
    half_life_days: half-life of the time-decayed engagement score.
    max_onehot: at most this many one-hot levels per categorical column; beyond that a
        smoothed target encoding (cross-fitted on training rows) and a frequency encoding.
    min_category_count: levels rarer than this fall into "other" (None: automatic).
    te_smoothing: pseudo-count pulling rare levels' target encoding towards the base rate.
    text_tokens: number of predictive words kept per free-text column.
    exclude_columns: user columns never used.
    te_folds, random_state: cross-fitting of the target encoding.
    """

    def __init__(
        self,
        *,
        half_life_days: float = 21.0,
        max_onehot: int = 12,
        min_category_count: int | None = None,
        te_smoothing: float = 20.0,
        text_tokens: int = 10,
        exclude_columns: tuple[str, ...] | list[str] = (),
        te_folds: int = 5,
        random_state: int = 0,
    ) -> None:
        self.half_life_days = half_life_days
        self.max_onehot = max_onehot
        self.min_category_count = min_category_count
        self.te_smoothing = te_smoothing
        self.text_tokens = text_tokens
        self.exclude_columns = exclude_columns
        self.te_folds = te_folds
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting
    def fit(self, leads: pd.DataFrame, activities: pd.DataFrame | None = None, y: Any = None,
            cutoff: Any = None) -> LeadFeaturizer:
        self._fit(leads, activities, y, _Columns(leads))
        return self

    def fit_transform(self, leads: pd.DataFrame, activities: pd.DataFrame | None = None, y: Any = None,
                      cutoff: Any = None, as_of: Any = None, folds: np.ndarray | None = None,
                      stats: ActivityStats | None = None) -> pd.DataFrame:
        """Fit, then transform the same rows with *cross-fitted* target encodings (no self-leak).

        ``folds`` (one fold id per row) makes the cross-fitting use the same folds as the model
        selection, so no row's encoding carries labels from its own validation fold.
        ``stats``: the activity aggregates of exactly these rows and cut-offs, when already computed.
        """
        X, _ = self.fit_transform_array(leads, activities, y, cutoff=cutoff, as_of=as_of, folds=folds, stats=stats)
        return pd.DataFrame(X, columns=self.feature_names_, index=leads.index)

    def fit_transform_array(self, leads: pd.DataFrame, activities: pd.DataFrame | None = None, y: Any = None,
                            cutoff: Any = None, as_of: Any = None, folds: np.ndarray | None = None,
                            stats: ActivityStats | None = None) -> tuple[np.ndarray, ActivityStats | None]:
        """:meth:`fit_transform` as a float32 matrix plus the activity aggregates (fast path)."""
        cols = _Columns(leads)
        self._fit(leads, activities, y, cols)
        return self._transform(leads, activities, _resolve_cutoff(len(leads), cutoff, as_of), crossfit_y=y,
                               folds=folds, cols=cols, stats=stats)

    def _fit(self, leads: pd.DataFrame, activities: pd.DataFrame | None, y: Any, cache: _Columns) -> None:
        if not isinstance(leads, pd.DataFrame) or len(leads) == 0:
            raise InvalidInput("need a non-empty leads DataFrame")
        n = len(leads)
        yv = None if y is None else np.asarray(y, dtype=np.float64)
        if yv is not None and len(yv) != n:
            raise InvalidInput("y must have one value per lead")
        min_count = self.min_category_count or int(max(5, min(30, 0.001 * n)))
        excluded = set(self.exclude_columns)
        cols = [c for c in leads.columns if c not in excluded]
        specs: list[dict[str, Any]] = []
        types: dict[str, str] = {}

        def has(c: str) -> bool:
            return c in cols and cache.present(c).any()

        if has("job_title"):
            specs.append(self._fit_job(cache, yv, min_count))
            types["job_title"] = "job_title"
        for c in CATEGORICAL_COLUMNS:
            if has(c):
                specs.append(self._fit_categorical(c, cache.clean(c), yv, min_count))
                types[c] = "categorical"
        for c in NUMERIC_COLUMNS:
            if has(c):
                specs.append(self._fit_numeric(c, leads[c]))
                types[c] = "numeric"
        if has("email"):
            specs.append({"kind": "email", "column": "email", "group": "email",
                          "website": "website" in cols})
            types["email"] = "email"
        if "website" in cols:
            specs.append({"kind": "present", "column": "website", "group": "website"})
            types["website"] = "url"
        if "phone" in cols:
            specs.append({"kind": "present", "column": "phone", "group": "phone"})
            types["phone"] = "phone"
        if has("description"):
            specs.append(self._fit_text("description", leads["description"], yv))
            types["description"] = "text"
        key = [c for c in KEY_FIELDS if c in cols]
        if key:
            specs.append({"kind": "completeness", "fields": key, "group": "completeness"})
        if has("created_at"):
            specs.append({"kind": "weekday", "column": "created_at", "group": "created_at"})
        use_acts = activities is not None and len(activities) > 0
        if use_acts:
            specs.append({"kind": "activities", "types": list(ACTIVITY_TYPES),
                          "half_life_days": float(self.half_life_days)})
        elif has("last_activity_date"):
            specs.append({"kind": "date", "column": "last_activity_date", "group": "last_activity_date"})
            types["last_activity_date"] = "date"
        for c in cols:
            if c in STANDARD_COLUMNS or c in IGNORED_COLUMNS or c.startswith("_"):
                continue
            kind = P.infer_column_type(leads[c])
            types[c] = kind
            if kind == "numeric":
                specs.append(self._fit_numeric(c, leads[c]))
            elif kind == "boolean":
                specs.append({"kind": "boolean", "column": c, "group": c})
            elif kind == "date":
                specs.append({"kind": "date", "column": c, "group": c})
            elif kind == "text":
                specs.append(self._fit_text(c, leads[c], yv))
            elif kind == "categorical":
                specs.append(self._fit_categorical(c, cache.clean(c), yv, min_count))
        self.specs_ = specs
        self.column_types_ = types
        self.use_activities_ = use_acts
        self.base_rate_ = None if yv is None else float(np.mean(yv))
        names, groups = [], {}
        for spec in specs:
            for f in _spec_feature_names(spec):
                names.append(f)
                groups[f] = _feature_group(spec, f)
        self.feature_names_ = names
        self.feature_groups_ = groups
        self.n_features_in_ = len(leads.columns)

    def _fit_numeric(self, col: str, s: pd.Series) -> dict[str, Any]:
        x = P.to_numeric(s)
        x = x[~np.isnan(x)]
        log = False
        if len(x):
            q50, q99 = np.quantile(x, [0.5, 0.99])
            log = bool(x.min() >= 0 and (q99 > 1000 or q99 > 50 * max(q50, 1e-9)))
        return {"kind": "numeric", "column": col, "group": col, "log": log}

    def _fit_categorical(self, col: str, coded: tuple[np.ndarray, list[str]], y: np.ndarray | None,
                         min_count: int, group: str | None = None, prefix: str | None = None) -> dict[str, Any]:
        codes, uniq = coded
        n = len(codes)
        counts = np.bincount(codes[codes >= 0], minlength=len(uniq))
        order = np.argsort(-counts, kind="stable")
        levels = [uniq[i] for i in order if counts[i] >= min_count][: self.max_onehot]
        miss_share = float((codes < 0).mean()) if n else 0.0
        spec: dict[str, Any] = {
            "kind": "categorical", "column": col, "group": group or col, "prefix": prefix or col,
            "levels": levels, "other": bool(len(uniq) > len(levels)),
            "missing": bool(0.005 < miss_share < 0.995), "te": None, "freq": None,
        }
        if len(uniq) > self.max_onehot:
            total = float(n)
            spec["freq"] = {uniq[i]: float(np.log1p(counts[i] / total * 1000)) for i in order if counts[i] >= 2}
            if y is not None:
                k = len(uniq)
                ext = np.where(codes < 0, k, codes)
                ssum = np.bincount(ext, weights=y, minlength=k + 1)
                cnt = np.bincount(ext, minlength=k + 1).astype(np.float64)
                prior = float(np.mean(y))
                m = float(self.te_smoothing)
                enc = (ssum + m * prior) / (cnt + m)
                tmap = {uniq[i]: float(enc[i]) for i in range(k)}
                if cnt[k] > 0:
                    tmap["__missing__"] = float(enc[k])
                spec["te"] = {"prior": prior, "map": tmap}
        return spec

    def _fit_job(self, cache: _Columns, y: np.ndarray | None, min_count: int) -> dict[str, Any]:
        sen, dep = cache.job()
        sen_all = P.SENIORITY_LEVELS + ("unknown",)
        dep_all = P.DEPARTMENTS + ("unknown",)
        sen_n = np.bincount(sen, minlength=len(sen_all))
        dep_n = np.bincount(dep, minlength=len(dep_all))
        spec: dict[str, Any] = {
            "kind": "job", "column": "job_title", "group": "job_title",
            "seniority": [lv for i, lv in enumerate(sen_all) if sen_n[i] >= min_count],
            "departments": [d for i, d in enumerate(dep_all) if dep_n[i] >= min_count],
            "title": None,
        }
        coded = cache.clean("job_title")
        if len(coded[1]) > self.max_onehot and y is not None:
            spec["title"] = self._fit_categorical("job_title", coded, y, min_count, group="job_title",
                                                  prefix="job_title:title")
            spec["title"]["levels"] = []
            spec["title"]["other"] = False
            spec["title"]["missing"] = False
        return spec

    def _fit_text(self, col: str, s: pd.Series, y: np.ndarray | None) -> dict[str, Any]:
        tokens: list[str] = []
        if self.text_tokens and y is not None:
            toks = pd.Series(P.map_distinct(s, lambda v: sorted(set(P.tokenize(v)))), index=s.index)
            ex = pd.DataFrame({"tok": toks.to_numpy(), "y": y}).explode("tok").dropna()
            if len(ex):
                n = len(s)
                g = ex.groupby("tok")["y"].agg(["sum", "count"])
                g = g[(g["count"] >= max(10, 0.01 * n)) & (g["count"] <= 0.6 * n)]
                prior = float(np.mean(y))
                rate = (g["sum"] + 10 * prior) / (g["count"] + 10)
                g["score"] = np.abs(np.log(rate / (1 - rate + 1e-9) + 1e-9) - math.log(prior / (1 - prior)))
                g["score"] *= np.sqrt(g["count"])
                tokens = [str(t) for t in g.sort_values("score", ascending=False).index[: self.text_tokens]]
        return {"kind": "text", "column": col, "group": col, "tokens": sorted(tokens)}

    # ------------------------------------------------------------------ transforming
    def _check_fitted(self) -> None:
        if not hasattr(self, "specs_"):
            raise NotFittedError("LeadFeaturizer is not fitted yet: call fit() first")

    def transform(self, leads: pd.DataFrame, activities: pd.DataFrame | None = None, cutoff: Any = None,
                  as_of: Any = None) -> pd.DataFrame:
        X, _ = self.transform_array(leads, activities, cutoff=cutoff, as_of=as_of)
        return pd.DataFrame(X, columns=self.feature_names_, index=leads.index)

    def transform_array(self, leads: pd.DataFrame, activities: pd.DataFrame | None = None, cutoff: Any = None,
                        as_of: Any = None) -> tuple[np.ndarray, ActivityStats | None]:
        """Fast path: float32 matrix (columns = ``feature_names_``) plus the activity aggregates."""
        self._check_fitted()
        return self._transform(leads, activities, _resolve_cutoff(len(leads), cutoff, as_of))

    def get_feature_names_out(self) -> np.ndarray:
        self._check_fitted()
        return np.asarray(self.feature_names_, dtype=object)

    def _transform(self, leads: pd.DataFrame, activities: pd.DataFrame | None, cut: np.ndarray,
                   crossfit_y: Any = None, folds: np.ndarray | None = None, cols: _Columns | None = None,
                   stats: ActivityStats | None = None) -> tuple[np.ndarray, ActivityStats | None]:
        n = len(leads)
        cols = cols if cols is not None else _Columns(leads)
        given_stats = stats
        X = np.empty((n, len(self.feature_names_)), dtype=np.float32)
        writer = _MatrixWriter(X)
        stats = None
        if crossfit_y is not None and folds is not None:
            folds = np.asarray(folds, dtype=np.int64)
        elif crossfit_y is not None:
            rng = np.random.default_rng(self.random_state)
            folds = rng.integers(0, self.te_folds, size=n)
        yv = None if crossfit_y is None else np.asarray(crossfit_y, dtype=np.float64)
        for spec in self.specs_:
            if spec["kind"] == "activities":
                if given_stats is not None and tuple(given_stats.types) == tuple(spec["types"]):
                    stats = given_stats
                else:
                    lid = leads["lead_id"] if "lead_id" in leads.columns else pd.Series(np.arange(n).astype(str))
                    stats = activity_stats(lid, cut, activities, spec["half_life_days"], tuple(spec["types"]))
                out = _activity_columns(spec, stats)
            else:
                out = self._apply(spec, cols, cut, yv, folds)
            writer.add(out)
        writer.close()
        return X, stats

    def _apply(self, spec: dict[str, Any], cols: _Columns, cut: np.ndarray, y: np.ndarray | None,
               folds: np.ndarray | None) -> list[np.ndarray]:
        leads = cols.leads
        n = len(leads)
        kind = spec["kind"]
        col = spec.get("column")
        s = cols.series(col) if col is not None else None
        if kind == "numeric":
            x = P.to_numeric(s)
            return [_log1p_signed(x) if spec["log"] else x]
        if kind == "boolean":
            return [P.to_boolean(s)]
        if kind == "date":
            d = P.to_epoch_ns(s)
            days = (day_end(cut) - d).astype(np.float64) / P.NS_PER_DAY
            days[d == P.NAT_NS] = np.nan
            return [days]
        if kind == "present":
            return [P.present_mask(s).astype(np.float32)]
        if kind == "categorical":
            return _categorical_columns(spec, cols.clean(col), y, folds, self.te_smoothing)
        if kind == "job":
            sen, dep = cols.job()
            sen_all = P.SENIORITY_LEVELS + ("unknown",)
            dep_all = P.DEPARTMENTS + ("unknown",)
            rank = np.array(list(range(len(P.SENIORITY_LEVELS))) + [np.nan], dtype=np.float64)[sen]
            out: list[np.ndarray] = [rank]
            out += _onehot(sen, [sen_all.index(lv) for lv in spec["seniority"]])
            out += _onehot(dep, [dep_all.index(d) for d in spec["departments"]])
            if spec["title"] is not None:
                out += _categorical_columns(spec["title"], cols.clean("job_title"), y, folds, self.te_smoothing)
            return out
        if kind == "email":
            web = cols.series("website") if spec["website"] else None
            ef = P.email_features(s, web)
            out = [ef["present"].astype(np.float32), ef["free_mail"].astype(np.float32),
                   ef["generic"].astype(np.float32)]
            if spec["website"]:
                out.append(ef["match"].astype(np.float32))
            return out
        if kind == "completeness":
            miss = np.zeros(n, dtype=np.float32)
            for f in spec["fields"]:
                if f in leads.columns:
                    miss += ~cols.present(f)
                else:
                    miss += 1
            return [miss]
        if kind == "weekday":
            d = P.to_epoch_ns(s)
            wd = ((d // P.NS_PER_DAY) + 3) % 7  # 1970-01-01 was a Thursday -> Monday = 0
            wd = np.where(d == P.NAT_NS, -1, wd)
            return _onehot(wd, list(range(7)))
        if kind == "text":
            return _text_columns(s, spec["tokens"])
        raise InvalidInput(f"unknown feature spec {kind!r}")

    # ------------------------------------------------------------------ state
    def get_state(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            "params": {
                "half_life_days": self.half_life_days, "max_onehot": self.max_onehot,
                "min_category_count": self.min_category_count, "te_smoothing": self.te_smoothing,
                "text_tokens": self.text_tokens, "exclude_columns": list(self.exclude_columns),
                "te_folds": self.te_folds, "random_state": self.random_state,
            },
            "specs": self.specs_, "column_types": self.column_types_, "use_activities": self.use_activities_,
            "base_rate": self.base_rate_, "feature_names": self.feature_names_,
            "feature_groups": self.feature_groups_, "n_features_in": self.n_features_in_,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> LeadFeaturizer:
        params = dict(state["params"])
        params["exclude_columns"] = tuple(params.get("exclude_columns", ()))
        f = cls(**params)
        f.specs_ = state["specs"]
        f.column_types_ = state["column_types"]
        f.use_activities_ = state["use_activities"]
        f.base_rate_ = state["base_rate"]
        f.feature_names_ = list(state["feature_names"])
        f.feature_groups_ = dict(state["feature_groups"])
        f.n_features_in_ = state["n_features_in"]
        return f


# ---------------------------------------------------------------------- spec helpers


class _Columns:
    """Per-call cache of column views: each user column is factorised and cleaned once, and every
    string operation runs once per distinct value (never once per row)."""

    def __init__(self, leads: pd.DataFrame) -> None:
        self.leads = leads
        self._clean: dict[str, tuple[np.ndarray, list[str]]] = {}
        self._present: dict[str, np.ndarray] = {}
        self._job: tuple[np.ndarray, np.ndarray] | None = None

    def series(self, col: str) -> pd.Series:
        if col in self.leads.columns:
            return self.leads[col]
        return pd.Series([None] * len(self.leads), index=self.leads.index, dtype=object)

    def clean(self, col: str) -> tuple[np.ndarray, list[str]]:
        if col not in self._clean:
            self._clean[col] = P.factorize_clean(self.series(col))
        return self._clean[col]

    def present(self, col: str) -> np.ndarray:
        if col not in self._present:
            self._present[col] = P.present_mask(self.series(col))
        return self._present[col]

    def job(self) -> tuple[np.ndarray, np.ndarray]:
        """(seniority index into SENIORITY_LEVELS + unknown, department index into DEPARTMENTS + unknown)."""
        if self._job is None:
            codes, uniques = pd.factorize(self.series("job_title"), use_na_sentinel=True)
            sen_pos = {lv: i for i, lv in enumerate(P.SENIORITY_LEVELS + ("unknown",))}
            dep_pos = {d: i for i, d in enumerate(P.DEPARTMENTS + ("unknown",))}
            u = list(uniques)
            sen = P.lookup(codes, u, lambda t: sen_pos[P.parse_seniority(t)], sen_pos["unknown"], np.int64)
            dep = P.lookup(codes, u, lambda t: dep_pos[P.parse_department(t)], dep_pos["unknown"], np.int64)
            self._job = (sen, dep)
        return self._job


def _categorical_columns(spec: dict[str, Any], coded: tuple[np.ndarray, list[str]], y: np.ndarray | None,
                         folds: np.ndarray | None, smoothing: float) -> list[np.ndarray]:
    codes, uniq = coded
    n = len(codes)
    out: list[np.ndarray] = []
    levels = spec["levels"]
    isna = codes < 0
    if levels or spec["other"]:
        pos = {lv: i for i, lv in enumerate(levels)}
        lc = P.lookup_map(codes, uniq, pos, -1, -2, np.int64)  # -1 other, -2 missing
        out += _onehot(lc, list(range(len(levels))) + ([-1] if spec["other"] else []))
        if spec["missing"]:
            out.append(isna)
    elif spec["missing"]:
        out.append(isna)
    if spec["freq"] is not None:
        fq = spec["freq"]
        out.append(P.lookup_map(codes, uniq, fq, 0.0, 0.0))
    if spec["te"] is not None:
        te = spec["te"]
        if y is not None and folds is not None:
            k = len(uniq)
            out.append(_crossfit_te(np.where(isna, k, codes), y, folds, te["prior"], smoothing))
        else:
            tmap, prior = te["map"], te["prior"]
            out.append(P.lookup_map(codes, uniq, tmap, prior, tmap.get("__missing__", prior)))
    assert all(len(a) == n for a in out)
    return out


def _onehot(codes: np.ndarray, values: list[int]) -> list[np.ndarray]:
    """Indicator columns ``codes == v`` for each of ``values``, as one boolean (n x k) block."""
    if not values:
        return []
    return [codes[:, None] == np.asarray(values, dtype=codes.dtype)[None, :]]


def _text_columns(s: pd.Series, tokens: list[str]) -> list[np.ndarray]:
    """log(1 + length) and one "contains the word" flag per token; the string work runs once per
    distinct text when the column holds strings (free texts repeat: templates, copied notes)."""
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    if pd.api.types.infer_dtype(uniques, skipna=True) not in ("string", "empty"):
        codes, u = np.arange(len(s)), s  # mixed values: per row, as pandas converts them
    else:
        u = pd.Series(uniques, dtype=s.dtype if isinstance(s.dtype, pd.StringDtype) else object)
    low = u.astype("str").str.lower()
    length = np.zeros(len(low) + 1)
    length[:-1] = low.str.len().to_numpy(dtype=np.float64, na_value=0.0)
    length[:-1][~P.present_mask(u)] = 0.0
    out = [np.log1p(length)[codes]]
    for tok in tokens:
        hit = np.zeros(len(low) + 1, dtype=bool)
        hit[:-1] = low.str.contains(tok, regex=False).to_numpy(dtype=bool, na_value=False)
        out.append(hit[codes])
    return out


class _MatrixWriter:
    """Fills a C-ordered matrix with columns (1-D arrays) and column blocks (2-D arrays), left to
    right. Columns are buffered and written in row blocks that stay in cache: writing one column
    down all rows touches one cache line per row, once for every column."""

    ROWS = 2048
    BUFFER = 32  # columns held before a write

    def __init__(self, X: np.ndarray) -> None:
        self.X = X
        self.pos = 0
        self.pending: list[np.ndarray] = []
        self.width = 0

    def add(self, cols: list[np.ndarray]) -> None:
        for c in cols:
            c = np.asarray(c)
            self.pending.append(c)
            self.width += 1 if c.ndim == 1 else c.shape[1]
        if self.width >= self.BUFFER:
            self.flush()

    def flush(self) -> None:
        X, n = self.X, len(self.X)
        if self.pos + self.width > X.shape[1]:
            raise AssertionError("more feature columns than feature names")
        for start in range(0, n, self.ROWS):
            stop = min(n, start + self.ROWS)
            p = self.pos
            for c in self.pending:
                if c.ndim == 1:
                    X[start:stop, p] = c[start:stop]
                    p += 1
                else:
                    X[start:stop, p:p + c.shape[1]] = c[start:stop]
                    p += c.shape[1]
        self.pos += self.width
        self.pending, self.width = [], 0

    def close(self) -> None:
        self.flush()
        if self.pos != self.X.shape[1]:
            raise AssertionError("fewer feature columns than feature names")


def _crossfit_te(codes: np.ndarray, y: np.ndarray, folds: np.ndarray, prior: float, m: float) -> np.ndarray:
    k = int(codes.max()) + 1 if len(codes) else 0
    nf = int(folds.max()) + 1
    tot_s = np.bincount(codes, weights=y, minlength=k)
    tot_c = np.bincount(codes, minlength=k).astype(np.float64)
    out = np.empty(len(y))
    for f in range(nf):
        idx = folds == f
        s = tot_s - np.bincount(codes[idx], weights=y[idx], minlength=k)
        c = tot_c - np.bincount(codes[idx], minlength=k)
        enc = (s + m * prior) / (c + m)
        out[idx] = enc[codes[idx]]
    return out


def _activity_columns(spec: dict[str, Any], st: ActivityStats) -> list[np.ndarray]:
    out: list[np.ndarray] = []
    log_counts = np.log1p(st.counts)
    for i, _t in enumerate(spec["types"]):
        out.append(log_counts[:, i])
        out.append(st.days_since[:, i])
    out.append(st.counts[:, st.col("demo_request")] > 0)
    out.append(st.counts[:, st.col("meeting")] > 0)
    out.append(st.days_since_last)
    out += [np.log1p(st.total), np.log1p(st.n_7d), np.log1p(st.n_30d), np.log1p(st.n_90d), np.log1p(st.engagement)]
    return out


def _spec_feature_names(spec: dict[str, Any]) -> list[str]:
    kind = spec["kind"]
    col = spec.get("column")
    if kind in ("numeric", "boolean"):
        return [col]
    if kind == "date":
        return [f"{col}:days_ago"]
    if kind == "present":
        return [f"{col}:present"]
    if kind == "categorical":
        return _categorical_names(spec)
    if kind == "job":
        names = ["job_title:seniority_rank"]
        names += [f"job_title:seniority={lv}" for lv in spec["seniority"]]
        names += [f"job_title:department={d}" for d in spec["departments"]]
        if spec["title"] is not None:
            names += _categorical_names(spec["title"])
        return names
    if kind == "email":
        names = ["email:present", "email:free_mail", "email:generic_mailbox"]
        if spec["website"]:
            names.append("email:domain_matches_website")
        return names
    if kind == "completeness":
        return ["completeness:missing_key_fields"]
    if kind == "weekday":
        return [f"created_at:weekday={d}" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")]
    if kind == "text":
        return [f"{col}:length"] + [f"{col}:word={t}" for t in spec["tokens"]]
    if kind == "activities":
        names = []
        for t in spec["types"]:
            names += [f"activities.{t}:count", f"activities.{t}:days_since"]
        names += ["activities.demo_request:any", "activities.meeting:any", "activity_recency:days_since_last",
                  "engagement:total", "engagement:last_7d", "engagement:last_30d", "engagement:last_90d",
                  "engagement:decayed_score"]
        return names
    raise InvalidInput(f"unknown feature spec {kind!r}")


def _categorical_names(spec: dict[str, Any]) -> list[str]:
    p = spec["prefix"]
    names = []
    if spec["levels"] or spec["other"]:
        names += [f"{p}={lv}" for lv in spec["levels"]]
        if spec["other"]:
            names.append(f"{p}=__other__")
        if spec["missing"]:
            names.append(f"{p}=__missing__")
    elif spec["missing"]:
        names.append(f"{p}=__missing__")
    if spec["freq"] is not None:
        names.append(f"{p}:frequency")
    if spec["te"] is not None:
        names.append(f"{p}:target_rate")
    return names


def _feature_group(spec: dict[str, Any], name: str) -> str:
    if spec["kind"] == "activities":
        return name.split(":", 1)[0]
    return spec["group"]
