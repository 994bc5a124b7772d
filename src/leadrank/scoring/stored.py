"""How a model explanation is stored, and how it is read back.

A lead's explanation is written once per scoring and read one lead at a time (the lead page,
the API, exports), so it is stored lean: every contribution keeps its group, label, value and
points; what can be rebuilt is left out — each contribution's sentence ("Title is VP: +12")
and its log-odds (kept once, in the ``model`` block the customization what-if reads). That
halves the bytes a million leads write. :func:`expand` restores the full form for readers.
"""

from __future__ import annotations

from typing import Any

from leadrank.ml.explain import MINUS

STORAGE_VERSION = 2


def _points_text(points: float) -> str:
    v = round(points) if abs(points) >= 0.95 else round(points, 1)
    txt = f"{abs(v):.0f}" if abs(points) >= 0.95 else f"{abs(v):.1f}"
    return ("+" if points >= 0 else MINUS) + txt


def _short(v: Any) -> Any:
    return round(v, 4) if isinstance(v, float) else v


def compact(exp: dict[str, Any]) -> dict[str, Any]:
    """The stored form of a model explanation (one the scoring job built, with its ``model``
    block); anything else (cold start, a configured score) is stored as it is. Points keep 5
    decimals and log-odds 6: 31 contributions still add up to the score within 0.0002."""
    model = exp.get("model")
    if not isinstance(model, dict) or not isinstance(model.get("names"), list) or exp.get("config_version"):
        return exp
    out = {k: v for k, v in exp.items() if k not in ("contributions", "model", "lead_id")}
    out["contributions"] = [{"group": c["group"], "label": c["label"], "value": _short(c["value"]),
                             "points": round(c["points"], 5)} for c in exp.get("contributions") or ()]
    out["model"] = {"base_logit": model["base_logit"], "version": model.get("version"),
                    "log_odds": {name: round(v, 6) for name, v in zip(model["names"], model["log_odds"], strict=True)}}
    out["stored"] = STORAGE_VERSION
    return out


def expand(exp: dict[str, Any] | None) -> dict[str, Any] | None:
    """The full explanation (sentences and log-odds per contribution) from its stored form."""
    if not exp or exp.get("stored") != STORAGE_VERSION:
        return exp
    log_odds = (exp.get("model") or {}).get("log_odds")
    if not isinstance(log_odds, dict):
        return {k: v for k, v in exp.items() if k != "stored"}
    contributions = []
    for c in exp.get("contributions") or ():
        full = dict(c)
        if c.get("label") is not None:
            full["text"] = f"{c['label']}: {_points_text(float(c.get('points') or 0.0))}"
        full["log_odds"] = log_odds.get(c.get("group"))
        contributions.append(full)
    out = {k: v for k, v in exp.items() if k != "stored"}
    out["contributions"] = contributions
    return out
