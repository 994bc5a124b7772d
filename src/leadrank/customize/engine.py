"""The customizable-scoring engine: weights, rules, exclusions, engagement decay, grade bands
and sub-scores applied to a model's per-group log-odds contributions. Pure: no database.

Arithmetic (the same as :mod:`leadrank.ml.explain`, extended):

* every data point ``g`` (a model group such as ``job_title`` or ``activities.demo_request``)
  has a calibrated log-odds contribution ``φ_g``; its sub-score category ``c(g)`` is one of
  fit / engagement / similarity;
* a configuration scales them in log-odds space and adds rule and decay terms::

      logit(p) = base + Σ_g w_c(g)·w_g·φ_g + Σ_t w_engagement·d_t + Σ_r rule_r

  so ``p`` stays a probability and ``score = 100 p``;
* points per contribution use the mean slope of the sigmoid between the base and the lead,
  ``points_i = φ'_i·(100p − 100p_base)/Σφ'``, so ``base_points + Σ points == score`` exactly;
* an exclusion replaces nothing: it adds one contribution that takes the lead's logit to
  :data:`EXCLUDED_LOGIT` (score ≈ 0, grade ``X``) and names the rule;
* the decay layer ``d_t = points_t · min(Σ_i 0.5^(age_i / half_life_t), max_count)`` is a
  user-configured engagement term (activities of type ``t`` before the scoring time): an
  activity whose age equals the half-life is worth exactly half of a fresh one.

Why a decay *layer* rather than re-featurising: a learned model's behaviour features (counts,
recency, its own 21-day decayed engagement) are fixed at training; feeding it features built
with another half-life moves them off the distribution its coefficients and calibration were
fitted on, silently. A separate, additive, named term keeps the model's part intact, shows up
in the explanation as its own line, applies the same way to cold-start scores, and its cost or
benefit is measured on the holdout by the what-if before anyone saves it. It is off (0 points)
by default: the learned model already rewards recent engagement, and adding points on top
double-counts unless the holdout says it helps.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from leadrank.ml.features import ACTIVITY_TYPES, group_category, normalise_activity_types
from leadrank.ml.metrics import probability_metrics

SUBSCORES = ("fit", "engagement", "similarity")
#: Logit an excluded lead is taken to: p ≈ 4e-18, below any lead a model can score.
EXCLUDED_LOGIT = -40.0
EXCLUDED_GRADE = "X"
GRADES = ("A", "B", "C", "D")
MIN_REASON_POINTS = 0.05
MINUS = "\u2212"
MAX_WEIGHT = 5.0
MAX_RULE_LOG_ODDS = 5.0
NS_PER_DAY = 86_400 * 10**9

FREE_MAIL_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "yahoo.fr", "ymail.com", "hotmail.com",
    "hotmail.co.uk", "hotmail.fr", "outlook.com", "live.com", "msn.com", "aol.com", "icloud.com", "me.com",
    "mac.com", "gmx.com", "gmx.de", "gmx.net", "web.de", "mail.com", "mail.ru", "yandex.com", "yandex.ru",
    "proton.me", "protonmail.com", "zoho.com", "qq.com", "163.com", "126.com", "free.fr", "orange.fr",
    "libero.it", "t-online.de", "fastmail.com", "hey.com", "tutanota.com", "seznam.cz", "wp.pl", "o2.pl",
})
STUDENT_RE = re.compile(r"\b(student|intern|internship|trainee|apprentice|undergrad\w*|graduate student|"
                        r"phd candidate|doctoral candidate|etudiant|studentin|werkstudent)\b", re.I)
ACTIVITY_LABELS = {
    "website_visit": "website visit", "email_open": "email open", "email_click": "email click",
    "download": "download", "form_fill": "form fill", "webinar": "webinar", "demo_request": "demo request",
    "meeting": "meeting", "call": "call", "other": "activity",
}


# --------------------------------------------------------------------------- configuration

ConditionType = Literal["industry_in", "size_between", "title_contains", "source_is", "activity_within",
                        "domain_in", "is_student", "is_free_mail"]


class Condition(BaseModel):
    """One test on a lead. A rule matches when all its conditions hold."""

    model_config = ConfigDict(extra="forbid")
    type: ConditionType
    values: list[str] = Field(default_factory=list, description="industries, title words, sources, domains")
    min: float | None = Field(None, description="size_between: smallest company size (inclusive)")
    max: float | None = Field(None, description="size_between: largest company size (inclusive)")
    activity_type: str | None = Field(None, description="activity_within: e.g. demo_request")
    days: float | None = Field(None, ge=0, description="activity_within: in the last N days")

    @field_validator("values")
    @classmethod
    def _clean_values(cls, v: list[str]) -> list[str]:
        return [s.strip() for s in v if s and s.strip()]

    @model_validator(mode="after")
    def _check(self) -> Condition:
        t = self.type
        if t in ("industry_in", "title_contains", "source_is", "domain_in") and not self.values:
            raise ValueError(f"condition {t} needs at least one value")
        if t == "size_between" and self.min is None and self.max is None:
            raise ValueError("size_between needs a minimum, a maximum or both")
        if t == "size_between" and self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("size_between: the minimum is above the maximum")
        if t == "activity_within":
            if not self.activity_type or self.days is None:
                raise ValueError("activity_within needs an activity type and a number of days")
            self.activity_type = _norm_activity_type(self.activity_type)
        return self

    def describe(self) -> str:
        t = self.type
        if t == "industry_in":
            return "industry is " + " or ".join(self.values)
        if t == "size_between":
            if self.min is not None and self.max is not None:
                return f"company size {self.min:,.0f}–{self.max:,.0f}"
            return f"company size ≥ {self.min:,.0f}" if self.min is not None else f"company size ≤ {self.max:,.0f}"
        if t == "title_contains":
            return "title contains " + " or ".join(f"“{v}”" for v in self.values)
        if t == "source_is":
            return "source is " + " or ".join(self.values)
        if t == "activity_within":
            return f"{ACTIVITY_LABELS.get(self.activity_type or '', self.activity_type)} in the last {self.days:g} days"
        if t == "domain_in":
            return "email or website domain is " + ", ".join(self.values)
        if t == "is_student":
            return "title says student / intern"
        return "free-mail address"


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(..., min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")
    name: str = Field(..., min_length=1, max_length=80)
    kind: Literal["boost", "exclude"] = "boost"
    log_odds: float = Field(0.0, ge=-MAX_RULE_LOG_ODDS, le=MAX_RULE_LOG_ODDS,
                            description="boost (>0) or penalty (<0) in log-odds; e^x multiplies the odds")
    conditions: list[Condition] = Field(..., min_length=1)
    enabled: bool = True

    def describe(self) -> str:
        what = " and ".join(c.describe() for c in self.conditions)
        if self.kind == "exclude":
            return f"Exclude when {what}"
        return f"{'Boost' if self.log_odds >= 0 else 'Penalise'} (odds ×{math.exp(self.log_odds):.2g}) when {what}"


class Decay(BaseModel):
    model_config = ConfigDict(extra="forbid")
    points: dict[str, float] = Field(default_factory=dict,
                                     description="log-odds a fresh activity of this type adds (0 = off)")
    half_life_days: dict[str, float] = Field(default_factory=dict, description="per activity type")
    default_half_life_days: float = Field(30.0, gt=0, le=3650)
    max_count: float = Field(10.0, gt=0, description="decayed activities per type that count at most")

    @field_validator("points", "half_life_days")
    @classmethod
    def _norm_keys(cls, v: dict[str, float]) -> dict[str, float]:
        return {_norm_activity_type(k): float(x) for k, x in v.items()}

    @model_validator(mode="after")
    def _check(self) -> Decay:
        for t, h in self.half_life_days.items():
            if not (0 < h <= 3650):
                raise ValueError(f"half-life of {t} must be between 0 and 3650 days")
        for t, p in self.points.items():
            if abs(p) > MAX_RULE_LOG_ODDS:
                raise ValueError(f"decay points of {t} must be within ±{MAX_RULE_LOG_ODDS}")
        return self

    def half_life(self, activity_type: str) -> float:
        return float(self.half_life_days.get(activity_type, self.default_half_life_days))

    def active_types(self) -> list[str]:
        return [t for t in ACTIVITY_TYPES if self.points.get(t, 0.0) != 0.0]


class Bands(BaseModel):
    """``model``: the model's learned bands (or the workspace's fixed ones); ``fixed``: minimum
    score per grade; ``relative``: the top A% of the batch = A, the next B% = B, the next C% = C."""

    model_config = ConfigDict(extra="forbid")
    mode: Literal["model", "fixed", "relative"] = "model"
    fixed: dict[str, float] = Field(default_factory=lambda: {"A": 50.0, "B": 25.0, "C": 10.0})
    relative: dict[str, float] = Field(default_factory=lambda: {"A": 10.0, "B": 20.0, "C": 30.0})

    @model_validator(mode="after")
    def _check(self) -> Bands:
        if set(self.fixed) != {"A", "B", "C"} or set(self.relative) != {"A", "B", "C"}:
            raise ValueError("bands need A, B and C")
        if not (100 >= self.fixed["A"] >= self.fixed["B"] >= self.fixed["C"] >= 0):
            raise ValueError("fixed bands: A ≥ B ≥ C, between 0 and 100")
        if any(v < 0 for v in self.relative.values()) or sum(self.relative.values()) > 100:
            raise ValueError("relative bands: shares between 0 and 100% that add up to 100% at most")
        return self


class ScoringConfig(BaseModel):
    """What a user changed. Empty = the model as trained."""

    model_config = ConfigDict(extra="forbid")
    weights: dict[str, float] = Field(default_factory=dict, description="data point (group) → weight, 1 = as trained")
    category_weights: dict[str, float] = Field(default_factory=dict, description="fit / engagement / similarity")
    rules: list[Rule] = Field(default_factory=list)
    decay: Decay = Field(default_factory=Decay)
    bands: Bands = Field(default_factory=Bands)

    @field_validator("weights", "category_weights")
    @classmethod
    def _check_weights(cls, v: dict[str, float]) -> dict[str, float]:
        for k, w in v.items():
            if not (0.0 <= float(w) <= MAX_WEIGHT) or not math.isfinite(float(w)):
                raise ValueError(f"weight of {k!r} must be between 0 and {MAX_WEIGHT}")
        return {k: float(w) for k, w in v.items()}

    @field_validator("category_weights")
    @classmethod
    def _check_categories(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = set(v) - set(SUBSCORES)
        if unknown:
            raise ValueError(f"unknown categories {sorted(unknown)}; use {list(SUBSCORES)}")
        return v

    @model_validator(mode="after")
    def _unique_rules(self) -> ScoringConfig:
        ids = [r.id for r in self.rules]
        if len(ids) != len(set(ids)):
            raise ValueError("rule ids must be unique")
        return self

    def normalised(self) -> ScoringConfig:
        """Weights of exactly 1 dropped (they change nothing), so equal configs compare equal."""
        return self.model_copy(update={
            "weights": {k: w for k, w in sorted(self.weights.items()) if w != 1.0},
            "category_weights": {k: w for k, w in sorted(self.category_weights.items()) if w != 1.0},
        })

    def is_identity(self) -> bool:
        n = self.normalised()
        return (not n.weights and not n.category_weights and not any(r.enabled for r in n.rules)
                and not n.decay.active_types() and n.bands.mode == "model")

    def needs_activities(self) -> bool:
        """Whether activities change anything (decay terms or activity rules)."""
        return bool(self.decay.active_types()) or any(
            c.type == "activity_within" for r in self.rules if r.enabled for c in r.conditions)

    def weight(self, name: str, category: str) -> float:
        return self.category_weights.get(category, 1.0) * self.weights.get(name, 1.0)


def _norm_activity_type(t: str) -> str:
    return str(normalise_activity_types(pd.Series([t])).iloc[0])


def subscore_of(group: str, category: str | None = None) -> str:
    """fit / engagement / similarity for a model group (or a cold-start contribution's group)."""
    if group in SUBSCORES:
        return group
    if group.startswith(("similarity", "icp")) or category == "similarity":
        return "similarity"
    cat = category or group_category(group)
    return "engagement" if cat == "engagement" or group.startswith("recent.") else "fit"


# --------------------------------------------------------------------------- inputs

def _lower_strings(values: Iterable[Any]) -> np.ndarray:
    out = ["" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v).strip().lower() for v in values]
    return np.array(out, dtype=str) if out else np.array([], dtype="<U1")


def _domain(value: str) -> str:
    v = value.strip().lower()
    if "@" in v:
        v = v.rsplit("@", 1)[1]
    v = re.sub(r"^[a-z]+://", "", v).split("/", 1)[0].split(":", 1)[0]
    return v[4:] if v.startswith("www.") else v


@dataclass
class LeadAttributes:
    """The lead fields rules look at (lower-cased text), one row per lead."""

    industry: np.ndarray
    company_size: np.ndarray
    job_title: np.ndarray
    lead_source: np.ndarray
    email_domain: np.ndarray
    website_domain: np.ndarray

    FIELDS = ("industry", "company_size", "job_title", "lead_source", "email_domain", "website_domain")

    def __len__(self) -> int:
        return len(self.company_size)

    @classmethod
    def from_frame(cls, leads: pd.DataFrame) -> LeadAttributes:
        n = len(leads)

        def col(name: str) -> list[Any]:
            return leads[name].tolist() if name in leads.columns else [None] * n

        size = pd.to_numeric(pd.Series(col("company_size"), dtype=object), errors="coerce").to_numpy(np.float64)
        email = _lower_strings(col("email"))
        web = _lower_strings(col("website"))
        return cls(industry=_lower_strings(col("industry")), company_size=size, job_title=_lower_strings(col("job_title")),
                   lead_source=_lower_strings(col("lead_source")),
                   email_domain=np.array([_domain(e) if "@" in e else "" for e in email], dtype=str).reshape(-1),
                   website_domain=np.array([_domain(w) if w else "" for w in web], dtype=str).reshape(-1))

    def take(self, idx: np.ndarray) -> LeadAttributes:
        return LeadAttributes(**{f: getattr(self, f)[idx] for f in self.FIELDS})

    def arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        return {prefix + f: getattr(self, f) for f in self.FIELDS}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], prefix: str = "") -> LeadAttributes:
        return cls(**{f: arrays[prefix + f] for f in cls.FIELDS})


@dataclass
class ActivityLog:
    """Activities before each lead's scoring time: row of the lead, type code, age in days."""

    lead_index: np.ndarray  # int32
    type_code: np.ndarray  # int8, index into ACTIVITY_TYPES
    age_days: np.ndarray  # float64, >= 0
    n_leads: int

    @classmethod
    def empty(cls, n_leads: int) -> ActivityLog:
        return cls(np.zeros(0, np.int32), np.zeros(0, np.int8), np.zeros(0, np.float64), n_leads)

    @classmethod
    def from_frame(cls, activities: pd.DataFrame | None, lead_ids: Sequence[str], reference_ns: np.ndarray | int
                   ) -> ActivityLog:
        """``activities`` has lead_id, activity_type, activity_date; only those strictly before
        the lead's reference time (its scoring time or outcome date) count."""
        n = len(lead_ids)
        if activities is None or len(activities) == 0 or n == 0:
            return cls.empty(n)
        index = pd.Index([str(i) for i in lead_ids])
        rows = index.get_indexer(activities["lead_id"].astype(str).to_numpy())
        dates = pd.to_datetime(activities["activity_date"], utc=True, errors="coerce")
        t = dates.to_numpy(dtype="datetime64[ns]").astype(np.int64)
        ok = (rows >= 0) & ~dates.isna().to_numpy()
        ref = np.broadcast_to(np.asarray(reference_ns, dtype=np.int64), (n,))
        rows_ok = rows[ok]
        age = (ref[rows_ok] - t[ok]).astype(np.float64) / NS_PER_DAY
        before = age > 0
        types = normalise_activity_types(activities["activity_type"].iloc[np.flatnonzero(ok)[before]])
        codes = np.array(pd.Index(list(ACTIVITY_TYPES)).get_indexer(types.to_numpy()), dtype=np.int64)
        codes[codes < 0] = ACTIVITY_TYPES.index("other")
        return cls(rows_ok[before].astype(np.int32), codes.astype(np.int8), age[before], n)

    def take(self, idx: np.ndarray) -> ActivityLog:
        """The activities of the leads ``idx`` (rows renumbered to positions in ``idx``)."""
        pos = np.full(self.n_leads, -1, dtype=np.int64)
        pos[idx] = np.arange(len(idx))
        new = pos[self.lead_index]
        keep = new >= 0
        return ActivityLog(new[keep].astype(np.int32), self.type_code[keep], self.age_days[keep], len(idx))

    def decayed_counts(self, activity_type: str, half_life_days: float) -> np.ndarray:
        code = ACTIVITY_TYPES.index(activity_type)
        sel = self.type_code == code
        w = np.power(0.5, self.age_days[sel] / float(half_life_days))
        return np.bincount(self.lead_index[sel], weights=w, minlength=self.n_leads)[: self.n_leads]

    def any_within(self, activity_type: str, days: float) -> np.ndarray:
        code = ACTIVITY_TYPES.index(activity_type)
        sel = (self.type_code == code) & (self.age_days <= float(days))
        out = np.zeros(self.n_leads, dtype=bool)
        out[self.lead_index[sel]] = True
        return out

    def last_age(self, activity_type: str) -> np.ndarray:
        code = ACTIVITY_TYPES.index(activity_type)
        sel = self.type_code == code
        out = np.full(self.n_leads, np.inf)
        np.minimum.at(out, self.lead_index[sel], self.age_days[sel])
        return out


@dataclass
class Contributions:
    """Model (or cold-start) log-odds per data point: ``logit = base + Σ log_odds``."""

    names: list[str]
    categories: list[str]  # sub-score of each data point
    log_odds: np.ndarray  # n x G
    base_logit: np.ndarray  # n

    def __len__(self) -> int:
        return len(self.base_logit)

    @classmethod
    def from_model(cls, groups: Sequence[str], log_odds: np.ndarray, base_logit: float | np.ndarray,
                   categories: Mapping[str, str] | None = None) -> Contributions:
        lo = np.asarray(log_odds, dtype=np.float64)
        cats = [subscore_of(g, (categories or {}).get(g)) for g in groups]
        return cls(list(groups), cats, lo, np.broadcast_to(np.asarray(base_logit, np.float64), (len(lo),)).copy())

    def take(self, idx: np.ndarray) -> Contributions:
        return Contributions(self.names, self.categories, self.log_odds[idx], self.base_logit[idx])


# --------------------------------------------------------------------------- evaluation

@dataclass
class Result:
    """Everything a configuration does to a batch of leads (columnar)."""

    names: list[str]  # data points: model groups, then decay terms
    categories: list[str]
    weights: np.ndarray  # G
    model_log_odds: np.ndarray  # n x G (0 for decay terms)
    log_odds: np.ndarray  # n x G adjusted
    decay_values: np.ndarray  # n x G decayed activity-equivalents (nan for model groups)
    rule_ids: list[str]
    rule_names: list[str]
    rule_log_odds: np.ndarray  # n x R (0 where a rule did not match)
    excluded_by: np.ndarray  # n, object: rule name or None
    exclusion_log_odds: np.ndarray  # n
    base_logit: np.ndarray
    logit: np.ndarray
    probability: np.ndarray
    score: np.ndarray
    base_points: np.ndarray
    points: np.ndarray  # n x G
    rule_points: np.ndarray  # n x R
    exclusion_points: np.ndarray  # n
    grade: np.ndarray  # object
    bands: dict[str, float] | None  # the score thresholds used (None: model's own)

    def __len__(self) -> int:
        return len(self.score)

    def _memo(self, key: str, compute: Any) -> np.ndarray:
        memo = self.__dict__.setdefault("_memo_", {})
        if key not in memo:
            memo[key] = compute()
        return memo[key]

    def _cols(self, category: str) -> list[int]:
        return [j for j, c in enumerate(self.categories) if c == category]

    def subscore_log_odds(self, category: str) -> np.ndarray:
        cols = self._cols(category)
        return self._memo("lo:" + category, lambda: self.log_odds[:, cols].sum(axis=1) if cols else np.zeros(len(self)))

    def subscore_points(self, category: str) -> np.ndarray:
        cols = self._cols(category)
        return self._memo("pt:" + category, lambda: self.points[:, cols].sum(axis=1) if cols else np.zeros(len(self)))

    def rules_points(self) -> np.ndarray:
        return self._memo("rules", lambda: self.rule_points.sum(axis=1) + self.exclusion_points)


def sigmoid(x: np.ndarray | float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def points_from_log_odds(phi: np.ndarray, base_logit: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The arithmetic of :func:`leadrank.ml.explain.points_from_log_odds`, with a base per row."""
    phi = np.asarray(phi, dtype=np.float64)
    total = phi.sum(axis=1)
    p = sigmoid(base_logit + total)
    p_base = sigmoid(base_logit)
    small = np.abs(total) < 1e-9
    safe = np.where(small, 1.0, total)
    scale = np.where(small, 100.0 * p * (1.0 - p), (100.0 * p - 100.0 * p_base) / safe)
    return phi * scale[:, None], p, 100.0 * p_base


def rule_matches(rule: Rule, attrs: LeadAttributes, acts: ActivityLog) -> np.ndarray:
    m = np.ones(len(attrs), dtype=bool)
    for c in rule.conditions:
        m &= condition_matches(c, attrs, acts)
    return m


def condition_matches(c: Condition, attrs: LeadAttributes, acts: ActivityLog) -> np.ndarray:
    vals = [v.lower() for v in c.values]
    if c.type == "industry_in":
        return np.isin(attrs.industry, vals)
    if c.type == "source_is":
        return np.isin(attrs.lead_source, vals)
    if c.type == "size_between":
        s = attrs.company_size
        ok = ~np.isnan(s)
        if c.min is not None:
            ok &= s >= c.min
        if c.max is not None:
            ok &= s <= c.max
        return ok
    if c.type == "title_contains":
        out = np.zeros(len(attrs), dtype=bool)
        for v in vals:
            out |= np.char.find(attrs.job_title, v) >= 0
        return out
    if c.type == "domain_in":
        doms = [_domain(v) for v in vals]
        return np.isin(attrs.email_domain, doms) | (np.isin(attrs.website_domain, doms) & (attrs.website_domain != ""))
    if c.type == "is_student":
        return _regex_match(attrs.job_title, STUDENT_RE)
    if c.type == "is_free_mail":
        return np.isin(attrs.email_domain, list(FREE_MAIL_DOMAINS))
    if c.type == "activity_within":
        return acts.any_within(c.activity_type or "other", c.days or 0.0)
    raise ValueError(f"unknown condition {c.type}")


def _regex_match(values: np.ndarray, pattern: re.Pattern[str]) -> np.ndarray:
    uniq, inv = np.unique(values, return_inverse=True)
    hits = np.array([bool(pattern.search(u)) for u in uniq], dtype=bool)
    return hits[inv] if len(values) else np.zeros(0, dtype=bool)


def resolve_relative_bands(scores: np.ndarray, shares: Mapping[str, float]) -> dict[str, float]:
    """Score thresholds so the top A% get A, the next B% get B, the next C% get C."""
    s = np.asarray(scores, dtype=np.float64)
    if len(s) == 0:
        return {"A": 100.0, "B": 100.0, "C": 100.0, "D": 0.0}
    out: dict[str, float] = {}
    cum = 0.0
    for g in ("A", "B", "C"):
        cum += float(shares[g])
        out[g] = float(np.quantile(s, max(0.0, 1.0 - cum / 100.0), method="higher")) if cum < 100 else 0.0
    out["D"] = 0.0
    return out


def grade_for(scores: np.ndarray, bands: Mapping[str, float]) -> np.ndarray:
    """{grade: minimum score} → grade per score (the lowest band catches everything below)."""
    items = sorted(bands.items(), key=lambda kv: -float(kv[1]))
    s = np.asarray(scores, dtype=np.float64)
    out = np.full(s.shape, items[-1][0], dtype=object)
    for g, lo in reversed(items[:-1]):
        out[s >= float(lo)] = g
    return out


def apply(config: ScoringConfig, contrib: Contributions, attrs: LeadAttributes, acts: ActivityLog, *,
          model_bands: Mapping[str, float] | None = None, resolved_bands: Mapping[str, float] | None = None
          ) -> Result:
    """Apply a configuration to a batch. ``model_bands``: the bands used in "model" mode;
    ``resolved_bands``: thresholds of "relative" mode fixed on the whole workspace (else this batch)."""
    n = len(contrib)
    if len(attrs) != n or acts.n_leads != n:
        raise ValueError("contributions, attributes and activities must describe the same leads")
    names = list(contrib.names)
    cats = list(contrib.categories)
    w = np.array([config.weight(g, c) for g, c in zip(names, cats, strict=True)], dtype=np.float64)
    model_lo = contrib.log_odds
    adjusted = model_lo * w[None, :] if len(names) else np.zeros((n, 0))
    decay_types = config.decay.active_types()
    decay_vals = np.full((n, len(names) + len(decay_types)), np.nan)
    if decay_types:
        eng_w = config.category_weights.get("engagement", 1.0)
        extra = np.empty((n, len(decay_types)))
        for j, t in enumerate(decay_types):
            d = np.minimum(acts.decayed_counts(t, config.decay.half_life(t)), config.decay.max_count)
            decay_vals[:, len(names) + j] = d
            extra[:, j] = eng_w * config.decay.points[t] * d
        adjusted = np.hstack([adjusted, extra])
        model_lo = np.hstack([model_lo, np.zeros((n, len(decay_types)))])
        names += [f"recent.{t}" for t in decay_types]
        cats += ["engagement"] * len(decay_types)
        w = np.concatenate([w, [eng_w * config.decay.points[t] for t in decay_types]])
    boosts = [r for r in config.rules if r.enabled and r.kind == "boost"]
    rule_lo = np.zeros((n, len(boosts)))
    for j, r in enumerate(boosts):
        rule_lo[rule_matches(r, attrs, acts), j] = r.log_odds
    excluded_by = np.full(n, None, dtype=object)
    for r in config.rules:
        if r.enabled and r.kind == "exclude":
            hit = rule_matches(r, attrs, acts) & (excluded_by == None)  # noqa: E711 - elementwise
            excluded_by[hit] = r.name
    excl = excluded_by != None  # noqa: E711
    base = contrib.base_logit
    partial = base + adjusted.sum(axis=1) + rule_lo.sum(axis=1)
    excl_lo = np.where(excl, EXCLUDED_LOGIT - partial, 0.0)
    phi_all = np.hstack([adjusted, rule_lo, excl_lo[:, None]])
    points, p, base_points = points_from_log_odds(phi_all, base)
    score = 100.0 * p
    G, R = adjusted.shape[1], rule_lo.shape[1]
    bands: dict[str, float] | None
    if config.bands.mode == "fixed":
        bands = {**config.bands.fixed, "D": 0.0}
    elif config.bands.mode == "relative":
        bands = dict(resolved_bands) if resolved_bands is not None else resolve_relative_bands(
            score[~excl], config.bands.relative)
    else:
        bands = dict(model_bands) if model_bands is not None else None
    grades = grade_for(score, bands) if bands is not None else np.full(n, None, dtype=object)
    grades[excl] = EXCLUDED_GRADE
    return Result(
        names=names, categories=cats, weights=w, model_log_odds=model_lo, log_odds=adjusted, decay_values=decay_vals,
        rule_ids=[r.id for r in boosts], rule_names=[r.name for r in boosts], rule_log_odds=rule_lo,
        excluded_by=excluded_by, exclusion_log_odds=excl_lo, base_logit=base, logit=base + phi_all.sum(axis=1),
        probability=p, score=score, base_points=base_points, points=points[:, :G], rule_points=points[:, G:G + R],
        exclusion_points=points[:, G + R], grade=grades, bands=bands,
    )


# --------------------------------------------------------------------------- figures

def top_set(scores: np.ndarray, order_key: np.ndarray, share: float = 0.2) -> np.ndarray:
    """Indices of the top ``share`` by score, ties broken like the list (higher key first)."""
    n = len(scores)
    k = int(math.ceil(n * share)) if n else 0
    order = np.lexsort((-order_key, -np.asarray(scores)))
    return order[:k]


def holdout_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    m = probability_metrics(np.asarray(y), np.asarray(p))
    keep = ("n", "positives", "roc_auc", "pr_auc", "brier", "log_loss", "ece", "capture_at_10", "capture_at_20",
            "lift_at_20", "mean_predicted", "base_rate")
    return {k: _finite(m.get(k)) for k in keep}


def _finite(v: Any) -> Any:
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(float(v)) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


def metric_deltas(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for k in ("roc_auc", "pr_auc", "brier", "ece", "log_loss", "capture_at_10", "capture_at_20"):
        a, b = before.get(k), after.get(k)
        out[k] = None if a is None or b is None else float(b) - float(a)
    return out


# --------------------------------------------------------------------------- explanations

def format_points(v: float) -> str:
    r = round(v) if abs(v) >= 0.95 else round(v, 1)
    txt = f"{abs(r):.0f}" if abs(v) >= 0.95 else f"{abs(r):.1f}"
    return ("+" if v >= 0 else MINUS) + txt


def contribution_key(c: Mapping[str, Any]) -> str:
    """The data point a stored contribution belongs to: model contributions are keyed by their
    group, cold-start ones (whose group is the sub-score) by their feature."""
    if c.get("key"):
        return str(c["key"])
    g = str(c.get("group") or "")
    return str(c.get("feature") or g) if g in SUBSCORES else g


def raw_block(exp: Mapping[str, Any]) -> dict[str, Any]:
    """The model's own contributions behind an explanation (before any configuration)."""
    raw = exp.get("model")
    if isinstance(raw, dict) and isinstance(raw.get("log_odds"), dict):  # the stored form: {group: log-odds}
        return {"base_logit": raw["base_logit"], "names": list(raw["log_odds"]),
                "categories": [subscore_of(g) for g in raw["log_odds"]],
                "log_odds": list(raw["log_odds"].values()), "version": raw.get("version")}
    if isinstance(raw, dict) and "log_odds" in raw:
        return raw
    contribs = [c for c in exp.get("contributions") or [] if c.get("category") != "rules"
                and not str(contribution_key(c)).startswith("recent.")]
    p_base = min(max(float(exp.get("base_points", 50.0)) / 100.0, 1e-12), 1 - 1e-12)
    base = float(exp["base_logit"]) if exp.get("base_logit") is not None else math.log(p_base / (1 - p_base))
    return {"base_logit": base, "names": [contribution_key(c) for c in contribs],
            "categories": [subscore_of(str(c.get("group") or ""), c.get("category")) for c in contribs],
            "log_odds": [float(c.get("log_odds") or 0.0) for c in contribs], "version": exp.get("model_version_id")}


def contributions_from_explanations(explanations: Sequence[Mapping[str, Any]]) -> Contributions:
    """Stack the raw blocks of many explanations (data points missing from one lead count 0)."""
    raws = [raw_block(e) for e in explanations]
    names: dict[str, str] = {}
    for r in raws:
        for nm, cat in zip(r["names"], r["categories"], strict=True):
            names.setdefault(nm, cat)
    idx = {nm: j for j, nm in enumerate(names)}
    lo = np.zeros((len(raws), len(names)))
    base = np.empty(len(raws))
    for i, r in enumerate(raws):
        base[i] = float(r["base_logit"])
        for nm, v in zip(r["names"], r["log_odds"], strict=True):
            lo[i, idx[nm]] = float(v)
    return Contributions(list(names), list(names.values()), lo, base)


def explanation_for(res: Result, i: int, original: Mapping[str, Any] | None, *, config_version: int | None,
                    config_id: str | None, model_version_id: str | None, top: int = 5) -> dict[str, Any]:
    """Lead ``i``'s explanation under the configuration: the model's labels with adjusted points,
    rule and decay lines, the sub-scores and how they combine, and the raw model block."""
    orig = dict(original or {})
    by_key = {contribution_key(c): c for c in orig.get("contributions") or []}
    contribs: list[dict[str, Any]] = []
    pts_row, lo_row, mlo_row = res.points[i].tolist(), res.log_odds[i].tolist(), res.model_log_odds[i].tolist()
    weights = res._memo("weights", lambda: res.weights.tolist())
    for j, (name, cat) in enumerate(zip(res.names, res.categories, strict=True)):
        src = by_key.get(name, {})
        pts = pts_row[j]
        if name.startswith("recent.") and name not in by_key:
            t = name.split(".", 1)[1]
            d = float(res.decay_values[i, j])
            label = (f"Recent {ACTIVITY_LABELS.get(t, t)}s (decayed): {d:.2f}" if d > 0
                     else f"No recent {ACTIVITY_LABELS.get(t, t)}")
            src = {"group": name, "feature": name, "label": label, "value": round(d, 4)}
        if (not src and lo_row[j] == 0.0) or weights[j] == 0.0:
            continue  # switched off (weight 0): no longer part of this lead's score
        label = src.get("label") or name
        contribs.append({
            "key": name, "group": src.get("group", name), "feature": src.get("feature"), "label": label,
            "value": src.get("value"), "category": cat, "weight": weights[j],
            "model_log_odds": mlo_row[j], "log_odds": lo_row[j],
            "points": pts, "text": f"{label}: {format_points(pts)}",
        })
    for j, (rid, rname) in enumerate(zip(res.rule_ids, res.rule_names, strict=True)):
        if res.rule_log_odds[i, j] != 0.0:
            pts = float(res.rule_points[i, j])
            label = f"Rule '{rname}'"
            contribs.append({"key": f"rule:{rid}", "group": "rules", "feature": f"rule:{rid}", "label": label,
                             "value": True, "category": "rules", "weight": 1.0, "model_log_odds": 0.0,
                             "log_odds": float(res.rule_log_odds[i, j]), "points": pts,
                             "text": f"{label}: {format_points(pts)}"})
    excluded = res.excluded_by[i]
    if excluded is not None:
        pts = float(res.exclusion_points[i])
        label = f"Excluded by rule '{excluded}'"
        contribs.append({"key": "rule:excluded", "group": "rules", "feature": "exclusion", "label": label,
                         "value": True, "category": "rules", "weight": 1.0, "model_log_odds": 0.0,
                         "log_odds": float(res.exclusion_log_odds[i]), "points": pts,
                         "text": f"{label}: {format_points(pts)}"})
    contribs.sort(key=lambda c: -abs(c["points"]))
    up = sorted((c for c in contribs if c["points"] >= MIN_REASON_POINTS), key=lambda c: -c["points"])[:top]
    down = sorted((c for c in contribs if c["points"] <= -MIN_REASON_POINTS), key=lambda c: c["points"])[:top]
    base_points = float(res.base_points[i])
    subs: dict[str, Any] = {}
    for cat in SUBSCORES:
        lo = float(res.subscore_log_odds(cat)[i])
        subs[cat] = {"log_odds": lo, "points": float(res.subscore_points(cat)[i]),
                     "score": float(100.0 * sigmoid(res.base_logit[i] + lo))}
    subs["rules"] = {"log_odds": float(res.rule_log_odds[i].sum() + res.exclusion_log_odds[i]),
                     "points": float(res.rules_points()[i]), "score": None}
    score = float(res.score[i])
    parts = " ".join(f"{'+' if subs[c]['points'] >= 0 else MINUS} {c} {abs(subs[c]['points']):.1f}"
                     for c in (*SUBSCORES, "rules"))
    keep_model_raw = {
        "base_logit": float(res.base_logit[i]),
        "names": [nm for nm in res.names if not nm.startswith("recent.")],
        "categories": [c for nm, c in zip(res.names, res.categories, strict=True) if not nm.startswith("recent.")],
        "log_odds": [float(v) for nm, v in zip(res.names, res.model_log_odds[i], strict=True)
                     if not nm.startswith("recent.")],
        "version": model_version_id,
    }
    out = {
        **{k: v for k, v in orig.items() if k not in ("contributions", "reasons_up", "reasons_down", "stored")},
        "score": score, "probability": float(res.probability[i]), "base_points": base_points,
        "grade": None if res.grade[i] is None else str(res.grade[i]),
        "contributions": contribs, "reasons_up": [c["text"] for c in up], "reasons_down": [c["text"] for c in down],
        "subscores": subs, "combination": f"{score:.1f} = base {base_points:.1f} {parts}",
        "excluded_by": excluded, "config_version": config_version, "config_id": config_id, "model": keep_model_raw,
    }
    if excluded is not None:
        out["next_action"] = f"Excluded by the rule '{excluded}': do not contact"
    return out
