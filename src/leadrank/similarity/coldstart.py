"""Cold-start scoring: useful scores for a workspace with too few outcomes for a model.

The score is a probability-like number built in log-odds, like the learned model's:

    logit(p) = logit(p_base) + Σ φ_i

with one contribution φ_i per signal, each centred on the workspace mean so that the
average lead scores the prior ``p_base``:

* fit — ICP criteria (industry, size, seniority, region, source), seniority and
  contactability rules when the ICP says nothing about them;
* similarity — embedding similarity to the ICP description and to example customers;
* engagement — activities weighted by type and decayed by age (half-life 30 days), with
  diminishing returns, and a penalty for a lead gone quiet.

Explanations use the learned model's format (``score_kind="cold_start"``): points per
contribution are ``φ_i · (100p − 100p_base) / Σφ`` so that ``base_points + Σ points ==
score`` (to the 0.1 shown), falling back to ``φ_i · 100·p(1−p)`` when Σφ ≈ 0.

``MIN_OUTCOMES_FOR_MODEL``: a workspace *tries* a learned model once it has at least 200
closed outcomes with at least 40 of each class, and moves to it only when the model beats
this score on the time-ordered holdout (the model report shows both). Measured with
``bench/similarity.py`` (logistic regression on the most recent n labelled leads, 10
draws, capture@20% on the last 20% of each data set):

* olist (10.5% converted): cold start 31.8%; the model wins 0/10 draws at n=100 (14
  positives), 6/10 at n=200 (28), 10/10 from n=400 (62 positives) on.
* bank marketing (11.3%): cold start 36.1%; the model wins 0/10 up to n=800 (54
  positives) and only 4–5/10 at n=1,600–3,200: with a good engagement signal the rules are
  hard to beat, which is why the holdout comparison, not a count, makes the final call.
* crm opportunities: no signal for anyone (AUC ≈ 0.5).

Below ~40 positives no draw beat the cold-start score on any data set, hence the floor.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from leadrank.similarity.embeddings import profile_text
from leadrank.similarity.icp import ICP, ICPComponents
from leadrank.similarity.seniority import SENIORITY_LABELS, seniority

MIN_OUTCOMES_FOR_MODEL = 200
MIN_PER_CLASS_FOR_MODEL = 40
DEFAULT_PRIOR = 0.10  # typical B2B lead-to-opportunity rate; replaced by the workspace's own
PRIOR_STRENGTH = 50  # pseudo-leads of DEFAULT_PRIOR mixed with a workspace's few outcomes

ACTIVITY_WEIGHTS: dict[str, float] = {
    "demo_request": 1.5,
    "meeting": 1.2,
    "form_fill": 0.8,
    "call": 0.5,
    "webinar": 0.6,
    "download": 0.5,
    "email_click": 0.3,
    "website_visit": 0.2,
    "email_open": 0.05,
    "other": 0.1,
}
ACTIVITY_LABELS = {
    "demo_request": "demo request", "meeting": "meeting", "form_fill": "form fill",
    "call": "call", "webinar": "webinar", "download": "download", "email_click": "email click",
    "website_visit": "website visit", "email_open": "email open", "other": "activity",
}
HALF_LIFE_DAYS = 30.0
QUIET_AFTER_DAYS = 60
SENIORITY_LOG_ODDS = {
    "c_level": 0.5, "vp": 0.5, "director": 0.35, "manager": 0.1, "ic": -0.1, "student": -1.0,
}
# Generic intent of a lead source (set from common lead-scoring practice, not fitted to
# any data set): the lead came looking for us > we reached out to them.
SOURCE_INTENT: tuple[tuple[re.Pattern[str], float, str], ...] = (
    (re.compile(r"referr|partner|word.of.mouth", re.I), 0.5, "Referral"),
    (re.compile(r"demo|contact.?(us|form)|inbound|trial|sign.?up", re.I), 0.5, "Inbound request"),
    (re.compile(r"organic|seo|direct|search", re.I), 0.3, "Found us through search or directly"),
    (re.compile(r"webinar|event|conference|trade.?show", re.I), 0.2, "Event / webinar"),
    (re.compile(r"e.?mail|newsletter", re.I), 0.1, "Email campaign"),
    (re.compile(r"social|facebook|linkedin|twitter|instagram", re.I), -0.2, "Social media"),
    (re.compile(r"display|banner|publicit|advert|\bads?\b", re.I), -0.3, "Display advertising"),
    (re.compile(r"purchas|bought|list|cold|scrap", re.I), -0.5, "Purchased / cold list"),
)


def source_intent(source: object) -> tuple[float, str] | None:
    if not isinstance(source, str) or not source.strip():
        return None
    for pattern, log_odds, label in SOURCE_INTENT:
        if pattern.search(source):
            return log_odds, label
    return None


FREE_MAIL = re.compile(
    r"@(gmail|googlemail|yahoo|hotmail|outlook|live|aol|icloud|gmx|web|mail|yandex|proton(mail)?)\.",
    re.I,
)


def should_use_model(n_converted: int, n_lost: int) -> bool:
    """Whether a workspace has enough closed outcomes to move to the learned model."""
    return (
        n_converted + n_lost >= MIN_OUTCOMES_FOR_MODEL
        and min(n_converted, n_lost) >= MIN_PER_CLASS_FOR_MODEL
    )


def workspace_prior(n_converted: int = 0, n_lost: int = 0) -> float:
    """The base rate: DEFAULT_PRIOR shrunk towards the workspace's own few outcomes."""
    return (n_converted + PRIOR_STRENGTH * DEFAULT_PRIOR) / (n_converted + n_lost + PRIOR_STRENGTH)


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


@dataclass
class ColdStartWeights:
    """Log-odds per unit of each signal; users' group weights multiply these."""

    icp_criteria: float = 2.5  # fit 0→1
    description_similarity: float = 1.5  # scaled similarity 0→1
    example_similarity: float = 2.0
    engagement: float = 0.9  # per log1p(decayed weighted activity count)
    quiet: float = -0.4  # no activity for QUIET_AFTER_DAYS
    contact: float = 0.2  # business email vs none / free mail
    group_weights: dict[str, float] = field(
        default_factory=lambda: {"fit": 1.0, "similarity": 1.0, "engagement": 1.0}
    )


@dataclass
class _Signal:
    group: str
    feature: str
    phi: np.ndarray  # raw log-odds before centring
    value: list[Any]
    label: list[str]


def engagement_features(
    lead_ids: Sequence[Any], activities: pd.DataFrame | None, now: datetime
) -> pd.DataFrame:
    """Per lead: decayed weighted activity score, counts, last activity and its age."""
    out = pd.DataFrame(index=pd.Index(list(lead_ids), name="lead_id"))
    out["engagement"] = 0.0
    out["n_activities"] = 0
    out["days_since_last"] = np.nan
    out["last_type"] = None
    out["best_recent"] = None  # strongest activity in the last 30 days
    out["best_recent_days"] = np.nan
    if activities is None or activities.empty:
        return out
    act = activities[activities["lead_id"].isin(out.index)].copy()
    if act.empty:
        return out
    dates = pd.to_datetime(act["activity_date"], utc=True, errors="coerce")
    now_ts = pd.Timestamp(now).tz_convert("UTC") if pd.Timestamp(now).tzinfo else pd.Timestamp(now, tz="UTC")
    act["age"] = ((now_ts - dates).dt.total_seconds() / 86400).clip(lower=0)
    act = act[act["age"].notna()]
    types = act["activity_type"].fillna("other").astype(str)
    act["w"] = types.map(ACTIVITY_WEIGHTS).fillna(ACTIVITY_WEIGHTS["other"])
    act["type"] = types
    act["decayed"] = act["w"] * np.power(0.5, act["age"] / HALF_LIFE_DAYS)
    g = act.groupby("lead_id")
    out["engagement"] = g["decayed"].sum().reindex(out.index).fillna(0.0)
    out["n_activities"] = g.size().reindex(out.index).fillna(0).astype(int)
    out["days_since_last"] = g["age"].min().reindex(out.index)
    last = act.sort_values("age").drop_duplicates("lead_id").set_index("lead_id")
    out["last_type"] = last["type"].reindex(out.index)
    recent = act[act["age"] <= 30].sort_values(["w", "age"], ascending=[False, True])
    recent = recent.drop_duplicates("lead_id").set_index("lead_id")
    out["best_recent"] = recent["type"].reindex(out.index)
    out["best_recent_days"] = recent["age"].reindex(out.index)
    return out


def cold_start_scores(
    leads: pd.DataFrame,
    *,
    icp: ICP | None = None,
    icp_parts: ICPComponents | None = None,
    activities: pd.DataFrame | None = None,
    now: datetime | None = None,
    prior: float = DEFAULT_PRIOR,
    weights: ColdStartWeights | None = None,
    id_column: str = "id",
) -> list[dict[str, Any]]:
    """One explanation dict per lead (rows of ``leads``), in the learned model's format.

    ``icp_parts`` come from :func:`leadrank.similarity.icp.icp_components` for the same
    rows; ``activities`` has columns lead_id, activity_type, activity_date.
    """
    w = weights or ColdStartWeights()
    now = now or datetime.now(UTC)
    n = len(leads)
    if n == 0:
        return []
    ids = leads[id_column].tolist() if id_column in leads.columns else list(range(n))
    signals: list[_Signal] = []

    # --- fit -------------------------------------------------------------------------
    if icp_parts is not None and np.isfinite(icp_parts.criteria).any():
        crit = np.nan_to_num(icp_parts.criteria, nan=0.4)
        labels = [
            _summarise_criteria(r) for r in icp_parts.criteria_reasons
        ]
        signals.append(_Signal("fit", "icp_criteria", w.icp_criteria * crit, crit.round(2).tolist(), labels))
    titles = leads["job_title"].tolist() if "job_title" in leads.columns else [None] * n
    if icp is None or not icp.seniorities:
        levels = [seniority(t) for t in titles]
        phi = np.array([SENIORITY_LOG_ODDS.get(lv, 0.0) if lv else 0.0 for lv in levels])
        if np.any(phi != 0):
            labels = [f"{SENIORITY_LABELS[lv]} title" if lv else "No job title" for lv in levels]
            signals.append(_Signal("fit", "seniority", phi, levels, labels))
    if "lead_source" in leads.columns and (icp is None or not icp.sources):
        found = [source_intent(x) for x in leads["lead_source"].tolist()]
        phi = np.array([f[0] if f else 0.0 for f in found])
        if np.any(phi != phi[0]):
            labels = [
                f"Source: {str(src).strip()} ({f[1].lower()})" if f
                else ("Source unknown" if not isinstance(src, str) or not src.strip() else f"Source: {src}")
                for f, src in zip(found, leads["lead_source"].tolist(), strict=True)
            ]
            signals.append(_Signal("fit", "source", phi, leads["lead_source"].tolist(), labels))
    if "email" in leads.columns:
        emails = leads["email"].fillna("").astype(str).tolist()
        phone = leads["phone"].fillna("").astype(str).tolist() if "phone" in leads.columns else [""] * n
        phi, labels, values = np.zeros(n), [], []
        for i, (e, ph) in enumerate(zip(emails, phone, strict=True)):
            if "@" in e and not FREE_MAIL.search(e):
                phi[i], label, v = w.contact, "Business email address", "business"
            elif "@" in e:
                phi[i], label, v = -w.contact, "Personal (free-mail) email address", "free_mail"
            elif ph.strip():
                phi[i], label, v = 0.0, "Phone only, no email", "phone"
            else:
                phi[i], label, v = -2 * w.contact, "No email or phone", "none"
            labels.append(label)
            values.append(v)
        if np.any(phi != phi[0]):
            signals.append(_Signal("fit", "contactability", phi, values, labels))

    # --- similarity --------------------------------------------------------------------
    if icp_parts is not None:
        for feature, sims, weight, what in (
            ("icp_description_similarity", icp_parts.description_sim, w.description_similarity, "the ICP description"),
            ("example_similarity", icp_parts.example_sim, w.example_similarity, None),
        ):
            if not np.isfinite(sims).any():
                continue
            scaled = np.nan_to_num(icp_parts.scaled(np.nan_to_num(sims, nan=0.0)), nan=0.0)
            scaled = np.where(np.isfinite(sims), scaled, 0.3)
            labels = []
            for i, s in enumerate(sims):
                if not np.isfinite(s):
                    labels.append("No profile text to compare")
                elif what:
                    labels.append(f"Profile similarity to {what}: {s:.2f}")
                else:
                    labels.append(f"Similar to {icp_parts.nearest_example[i]} ({s:.2f})")
            signals.append(_Signal("similarity", feature, weight * scaled, np.round(np.nan_to_num(sims).astype(float), 3).tolist(), labels))

    # --- engagement ----------------------------------------------------------------------
    eng = engagement_features(ids, activities, now) if activities is not None else None
    if eng is not None and eng["n_activities"].sum() > 0:
        e = eng["engagement"].to_numpy(dtype=float)
        labels = []
        for i in range(n):
            cnt = int(eng["n_activities"].iat[i])
            if cnt == 0:
                labels.append("No recorded activity")
                continue
            best, days = eng["best_recent"].iat[i], eng["best_recent_days"].iat[i]
            tail = (
                f" ({ACTIVITY_LABELS.get(best, best)} {int(days)} days ago)"
                if isinstance(best, str) else f" (last {int(eng['days_since_last'].iat[i])} days ago)"
            )
            labels.append(f"{cnt} activit{'y' if cnt == 1 else 'ies'}{tail}")
        signals.append(_Signal("engagement", "engagement", w.engagement * np.log1p(e), np.round(e, 3).tolist(), labels))
        since = eng["days_since_last"].to_numpy(dtype=float)
        quiet = np.isfinite(since) & (since > QUIET_AFTER_DAYS)
        if quiet.any():
            labels = [
                f"No activity in {int(since[i])} days" if quiet[i]
                else ("Active in the last 60 days" if np.isfinite(since[i]) else "No activity history")
                for i in range(n)
            ]
            signals.append(_Signal("engagement", "quiet", np.where(quiet, w.quiet, 0.0), quiet.tolist(), labels))

    # --- combine -----------------------------------------------------------------------
    base_lo = _logit(prior)
    centred = []
    for sig in signals:
        gw = w.group_weights.get(sig.group, 1.0)
        phi = sig.phi * gw
        centred.append(phi - phi.mean())
    total = np.sum(centred, axis=0) if centred else np.zeros(n)
    probs = 1.0 / (1.0 + np.exp(-(base_lo + total)))
    next_actions = _next_actions(n, icp_parts, eng, probs, prior)

    results = []
    for i in range(n):
        contribs = [
            {
                "group": sig.group,
                "feature": sig.feature,
                "label": sig.label[i],
                "value": _jsonable(sig.value[i]),
                "log_odds": float(centred[j][i]),
            }
            for j, sig in enumerate(signals)
        ]
        results.append(explain(float(probs[i]), prior, contribs, next_action=next_actions[i]))
    return results


def explain(
    p: float,
    p_base: float,
    contributions: list[dict[str, Any]],
    *,
    next_action: str | None = None,
    score_kind: str = "cold_start",
) -> dict[str, Any]:
    """Turn log-odds contributions into points that add up to the 0–100 score.

    ``points_i = φ_i · (100p − 100p_base) / Σφ`` (or ``φ_i · 100·p(1−p)`` when Σφ≈0);
    everything is rounded to 0.1 and the rounding remainder goes to the largest
    contribution, so ``base_points + Σ points == score`` exactly as displayed.
    """
    score = round(100 * p, 1)
    base_points = round(100 * p_base, 1)
    phis = [c["log_odds"] for c in contributions]
    total = sum(phis)
    if abs(total) > 1e-6:
        scale = (100 * p - 100 * p_base) / total
    else:
        scale = 100 * p * (1 - p)
    points = [round(phi * scale, 1) for phi in phis]
    if points:
        remainder = round(score - base_points - sum(points), 1)
        j = max(range(len(points)), key=lambda i: abs(points[i]))
        points[j] = round(points[j] + remainder, 1)
    else:
        base_points = score  # nothing to explain: the prior is the score
    out_contribs = []
    for c, pts in zip(contributions, points, strict=True):
        out_contribs.append({**c, "points": pts, "log_odds": round(c["log_odds"], 4)})
    out_contribs.sort(key=lambda c: -abs(c["points"]))
    up = [f"{c['label']}: +{c['points']:g}" for c in out_contribs if c["points"] >= 0.5][:5]
    down = [f"{c['label']}: −{abs(c['points']):g}" for c in out_contribs if c["points"] <= -0.5][:5]
    return {
        "score": score,
        "probability": round(p, 4),
        "base_points": base_points,
        "contributions": out_contribs,
        "reasons_up": up,
        "reasons_down": down,
        "next_action": next_action,
        "score_kind": score_kind,
    }


def _summarise_criteria(reasons: list[str]) -> str:
    if not reasons:
        return "ICP criteria"
    good = [r for r in reasons if "matches" in r or "within" in r or "is in the" in r or "is an ICP" in r]
    bad = [r for r in reasons if r not in good and "unknown" not in r]
    first = (bad or good or reasons)[0]
    more = len(reasons) - 1
    return f"ICP fit: {len(good)}/{len(reasons)} criteria met ({first}{'…' if more else ''})"


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _next_actions(
    n: int, parts: ICPComponents | None, eng: pd.DataFrame | None, probs: np.ndarray, prior: float
) -> list[str | None]:
    actions: list[str | None] = []
    for i in range(n):
        best = eng["best_recent"].iat[i] if eng is not None else None
        days = eng["best_recent_days"].iat[i] if eng is not None else None
        since = eng["days_since_last"].iat[i] if eng is not None else np.nan
        if best in ("demo_request", "meeting", "form_fill") and days is not None and days <= 14:
            actions.append(f"Call now: {ACTIVITY_LABELS[best]} {int(days)} days ago")
        elif isinstance(best, str):
            actions.append(f"Follow up on the recent {ACTIVITY_LABELS.get(best, best)}")
        elif probs[i] >= 1.5 * prior and not (np.isfinite(since) and since <= 30):
            actions.append("Good fit, not yet engaged: send a personalised first email")
        elif np.isfinite(since) and since > QUIET_AFTER_DAYS:
            actions.append("Gone quiet: add to a re-engagement sequence")
        elif probs[i] < 0.6 * prior:
            actions.append("Low fit: nurture, do not call")
        else:
            actions.append(None)
    return actions


# ---------------------------------------------------------------------------------------
# A default ICP when the user has defined none
# ---------------------------------------------------------------------------------------


def default_icp(
    leads: pd.DataFrame,
    *,
    activities: pd.DataFrame | None = None,
    now: datetime | None = None,
    outcome_column: str = "outcome",
    id_column: str = "id",
    top_fraction: float = 0.1,
    min_examples: int = 5,
    max_examples: int = 50,
) -> ICP | None:
    """Infer an ICP from the workspace's own data (None when there is nothing to go on).

    Example customers are the converted leads when there are at least ``min_examples``;
    otherwise the best-engaged ``top_fraction`` of leads (by decayed activity). The
    structured criteria are what those examples have in common: industries that make up
    ≥ 20 % of them (and are over-represented), and their interquartile company-size range.
    """
    if leads.empty:
        return None
    now = now or datetime.now(UTC)
    examples = pd.DataFrame()
    basis = ""
    if outcome_column in leads.columns:
        won = leads[leads[outcome_column] == "converted"]
        if len(won) >= min_examples:
            examples, basis = won, f"{len(won)} converted leads"
    if examples.empty and activities is not None and not activities.empty and id_column in leads.columns:
        eng = engagement_features(leads[id_column].tolist(), activities, now)
        engaged = eng[eng["engagement"] > 0].sort_values("engagement", ascending=False)
        k = max(min_examples, int(len(leads) * top_fraction))
        top_ids = engaged.index[:k]
        if len(top_ids) >= min_examples:
            examples = leads[leads[id_column].isin(top_ids)]
            basis = f"the {len(examples)} most engaged leads"
    if examples.empty:
        return None
    examples = examples.head(max_examples) if len(examples) > max_examples else examples

    industries: list[str] = []
    if "industry" in leads.columns:
        ex_counts = Counter(str(x).strip() for x in examples["industry"].dropna() if str(x).strip())
        all_counts = Counter(str(x).strip() for x in leads["industry"].dropna() if str(x).strip())
        total_ex, total_all = sum(ex_counts.values()), max(sum(all_counts.values()), 1)
        for ind, c in ex_counts.most_common(5):
            share = c / max(total_ex, 1)
            if share >= 0.2 and share > 1.2 * all_counts[ind] / total_all:
                industries.append(ind)
    size_min = size_max = None
    if "company_size" in leads.columns:
        sizes = pd.to_numeric(examples["company_size"], errors="coerce").dropna()
        if len(sizes) >= min_examples:
            size_min, size_max = int(sizes.quantile(0.25)), int(sizes.quantile(0.75))
    profiles = [profile_text(r) for r in examples.to_dict("records")]
    profiles = [p for p in profiles if p]
    ids = examples[id_column].tolist() if id_column in examples.columns else []
    return ICP(
        name=f"Inferred from {basis}",
        industries=industries,
        size_min=size_min,
        size_max=size_max,
        example_lead_ids=ids,
        example_profiles=profiles,
    )


def example_names(examples: Sequence[Mapping[str, Any]]) -> list[str]:
    """Display names for example customers: company, else person, else their title."""
    names = []
    for e in examples:
        name = e.get("company_name") or " ".join(
            str(x) for x in (e.get("first_name"), e.get("last_name")) if x
        ) or e.get("job_title") or "an example customer"
        names.append(str(name))
    return names
