"""What the pages need from the scoring engine, read defensively.

The engine (``leadrank.scoring.service``) and its report format (``leadrank.ml.model``) evolve
separately from the pages: every accessor here tolerates a missing key or a missing module,
and the pages say "not measured" rather than invent a figure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

WEAK_AUC = 0.6
GROUP_LABELS = {
    "job_title": "Job title & seniority", "industry": "Industry", "company_size": "Company size",
    "annual_revenue": "Annual revenue", "location": "Location", "country": "Country",
    "website": "Website", "company_name": "Company", "email": "Email domain", "phone": "Phone",
    "completeness": "Profile completeness", "lead_source": "Lead source", "campaign": "Campaign",
    "description": "Description", "created_at": "When the lead arrived",
    "activity_recency": "Days since last activity", "engagement": "Recent engagement",
    "last_activity_date": "Last activity", "similarity": "Similarity to ideal customers",
    "icp": "Ideal-customer fit", "rules": "Rules",
}
CATEGORY_LABELS = {"fit": "Fit", "contact": "Contact quality", "source": "Source", "engagement": "Engagement",
                   "profile": "Profile", "custom": "Your columns", "similarity": "Similarity"}
ALGORITHM_LABELS = {"lightgbm": "Gradient boosting (LightGBM)", "logistic_regression": "Logistic regression",
                    "blend": "Blend of logistic regression and gradient boosting",
                    "cold_start": "Cold start (ICP fit + engagement)"}


def group_label(group: str | None) -> str:
    if not group:
        return "Other"
    if group in GROUP_LABELS:
        return GROUP_LABELS[group]
    if group.startswith("activities."):
        kind = group.split(".", 1)[1].replace("_", " ")
        return f"{kind.capitalize()} activity"
    if group.startswith("custom."):
        return group.split(".", 1)[1].replace("_", " ").capitalize() + " (your column)"
    return group.replace("_", " ").replace(".", " · ").capitalize()


def category_of(item: dict) -> str:
    cat = item.get("category")
    if cat:
        return str(cat)
    group = str(item.get("group") or item.get("name") or "")
    try:
        from leadrank.ml.features import group_category

        return group_category(group)
    except ImportError:
        return "engagement" if group.startswith("activities.") else "custom"


def algorithm_label(name: str | None) -> str:
    return ALGORITHM_LABELS.get(name or "", (name or "unknown").replace("_", " ").capitalize())


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) or math.isinf(f) else f


@dataclass
class Sentence:
    text: str
    detail: str = ""


class ReportView:
    """A model version's report as a manager reads it."""

    def __init__(self, report: dict | None) -> None:
        self.r = report or {}

    def get(self, key: str) -> float | None:
        return _num(self.r.get(key))

    @property
    def evaluation(self) -> dict:
        ev = self.r.get("evaluation")
        return ev if isinstance(ev, dict) else {}

    @property
    def n_holdout(self) -> int | None:
        v = _num(self.r.get("n_holdout", self.evaluation.get("n_holdout")))
        return int(v) if v is not None else None

    @property
    def n_train(self) -> int | None:
        v = _num(self.r.get("n_train", self.evaluation.get("n_train")))
        return int(v) if v is not None else None

    @property
    def method_text(self) -> str:
        method = self.evaluation.get("method", "")
        if method == "time_holdout":
            return "measured on the newest leads, which the model did not see while it learned"
        if "fold" in str(method):
            return "measured by cross-validation: each lead was scored by a model that never saw it"
        return "measured on leads held out from training"

    @property
    def weak(self) -> bool:
        """Barely better than chance: the page says so instead of letting the figures flatter."""
        auc = self.get("roc_auc")
        return auc is not None and auc < WEAK_AUC

    def sentences(self) -> list[Sentence]:
        out: list[Sentence] = []
        c20, c10 = self.get("capture_at_20"), self.get("capture_at_10")
        if c20 is not None:
            lift = self.get("lift_at_20") or c20 / 0.2
            out.append(Sentence(f"The top 20% of leads hold {c20:.0%} of conversions.",
                                f"{lift:.1f}× what calling leads in random order would find."))
        if c10 is not None:
            out.append(Sentence(f"The top 10% hold {c10:.0%} of conversions.",
                                f"A rep who only calls the best tenth reaches {c10:.0%} of the buyers."))
        auc = self.get("roc_auc")
        if auc is not None:
            out.append(Sentence(
                f"Given a lead that converted and one that did not, the model ranks the buyer higher "
                f"{auc:.0%} of the time.", f"ROC AUC {auc:.3f}; a coin flip scores 0.500."))
        ece, base = self.get("ece"), self.get("base_rate")
        if ece is not None:
            out.append(Sentence(
                f"Its probabilities are honest to within {ece * 100:.1f} percentage points on average.",
                "When it says 30%, roughly 30% of such leads convert (see the calibration chart)."))
        brier = self.get("brier")
        if brier is not None and base is not None and 0 < base < 1:
            skill = 1 - brier / (base * (1 - base))
            detail = f"Brier score {brier:.3f} against {base * (1 - base):.3f} for the average-rate guess."
            if skill >= 0.005:
                out.append(Sentence(f"Its probabilities are {skill:.0%} closer to what happened than always "
                                    "guessing the average rate.", detail))
            else:
                out.append(Sentence("Its probabilities are no closer to what happened than always guessing the "
                                    "average rate.", detail))
        if base is not None:
            n = self.n_holdout
            out.append(Sentence(f"On average {base:.1%} of leads convert.",
                                (f"{n:,} evaluation leads, " if n else "") + self.method_text + "."))
        return out

    def gains(self) -> list[tuple[float, float]]:
        """Cumulative gains (share of leads contacted, share of conversions found), best first.

        Read from the report's curve when it has one; otherwise derived from its calibration
        table (equal-count bins of the evaluation leads), and pinned by capture@10/20."""
        curve = self.r.get("gains") or self.r.get("cumulative_gains")
        if isinstance(curve, list) and curve and isinstance(curve[0], dict):
            pts = [(_num(p.get("fraction")), _num(p.get("capture"))) for p in curve]
            return [(0.0, 0.0)] + [(a, b) for a, b in pts if a is not None and b is not None]
        bins = [b for b in self.calibration() if b["count"]]
        points: dict[float, float] = {0.0: 0.0}
        total_conv = sum(b["count"] * b["observed"] for b in bins)
        total_n = sum(b["count"] for b in bins)
        if bins and total_conv > 0:
            seen = conv = 0.0
            for b in sorted(bins, key=lambda b: -b["predicted"]):
                seen += b["count"]
                conv += b["count"] * b["observed"]
                points[round(seen / total_n, 4)] = conv / total_conv
        for frac, key in ((0.1, "capture_at_10"), (0.2, "capture_at_20")):
            v = self.get(key)
            if v is not None:
                points[frac] = v
        if len(points) == 1:
            return []  # nothing measured: no curve rather than a made-up one
        points.setdefault(1.0, 1.0)
        return sorted(points.items())

    def calibration(self) -> list[dict[str, float]]:
        out = []
        for b in self.r.get("calibration") or []:
            if not isinstance(b, dict):
                continue
            p = _num(b.get("mean_predicted", b.get("predicted")))
            o = _num(b.get("observed_rate", b.get("observed")))
            n = _num(b.get("count")) or 0
            if p is not None and o is not None:
                out.append({"predicted": p, "observed": o, "count": int(n)})
        return out

    def bands(self) -> list[dict[str, Any]]:
        rows = []
        for b in self.r.get("score_bands") or []:
            if isinstance(b, dict) and b.get("grade") is not None:
                rows.append({"grade": str(b["grade"]), "count": int(_num(b.get("count")) or 0),
                             "share": _num(b.get("share")), "rate": _num(b.get("conversion_rate")),
                             "mean_score": _num(b.get("mean_score"))})
        return sorted(rows, key=lambda r: r["grade"])

    def alternatives(self) -> list[dict[str, Any]]:
        alts = self.r.get("alternatives") or {}
        chosen = self.r.get("algorithm") or (self.r.get("selection") or {}).get("chosen")
        rows = []
        if isinstance(alts, dict):
            for name, m in alts.items():
                if isinstance(m, dict):
                    rows.append({"name": name, "label": algorithm_label(name), "chosen": name == chosen,
                                 "roc_auc": _num(m.get("roc_auc")), "pr_auc": _num(m.get("pr_auc")),
                                 "brier": _num(m.get("brier")), "capture_at_20": _num(m.get("capture_at_20")),
                                 "cv_roc_auc": _num(m.get("cv_roc_auc"))})
        return sorted(rows, key=lambda r: (not r["chosen"], -(r["roc_auc"] or 0)))

    def baselines(self) -> list[dict[str, Any]]:
        base = self.r.get("baselines") or {}
        rows = []
        if isinstance(base, dict):
            for name, m in base.items():
                if not isinstance(m, dict):
                    continue
                label = ("Guess the average rate for everyone" if name == "base_rate"
                         else f"Best single column ({m.get('column')})" if m.get("column")
                         else name.replace("_", " ").capitalize())
                rows.append({"label": label, "roc_auc": _num(m.get("roc_auc")),
                             "capture_at_20": _num(m.get("capture_at_20")), "brier": _num(m.get("brier"))})
        return rows

    def leakage(self) -> list[dict[str, Any]]:
        leak = self.r.get("leakage") or {}
        flagged = leak.get("flagged") if isinstance(leak, dict) else leak
        return [f for f in (flagged or []) if isinstance(f, dict)]

    def grade_cuts(self) -> list[tuple[float, str]]:
        th = self.r.get("grade_thresholds") or {}
        if not isinstance(th, dict):
            return []
        cuts = [(v, g) for g, v in ((g, _num(v)) for g, v in th.items()) if v is not None]
        return sorted(cuts)

    @property
    def selection_reason(self) -> str:
        sel = self.r.get("selection") or {}
        return str(sel.get("reason") or "") if isinstance(sel, dict) else ""
