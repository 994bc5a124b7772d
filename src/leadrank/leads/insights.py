"""What a lead's explanation says in a list row: its insights and its first reason.

Pure functions of an explanation (full or stored form), with no database: the list reads
them from two small columns (``leads.insights``, ``leads.top_reason``) that whoever writes an
explanation also writes, with :func:`list_columns`, so that a page of 50 leads never loads
or parses 50 explanations.
"""

from __future__ import annotations

from typing import Any

import orjson


def insights(explanation: dict[str, Any] | None) -> list[dict]:
    """The reasons behind a score, strongest first, as ``{"text", "points", "group",
    "direction"}``, and the suggested next step when the explanation has one."""
    exp = explanation or {}
    out: list[dict] = []
    for c in sorted(exp.get("contributions") or (), key=lambda c: -abs(c.get("points") or 0)):
        points = c.get("points") or 0.0
        out.append({"text": c.get("label") or c.get("group"), "points": round(points, 2),
                    "group": c.get("group"), "direction": "up" if points >= 0 else "down"})
    if exp.get("next_action"):
        out.append({"text": exp["next_action"], "points": None, "group": "next_action", "direction": "action"})
    return out


def top_reason(explanation: dict[str, Any] | None) -> str | None:
    """The sentence a list row shows: the strongest reason up, else the strongest down."""
    exp = explanation or {}
    reasons = exp.get("reasons_up") or exp.get("reasons_down") or []
    return reasons[0] if reasons else None


# A list row carries the strongest reasons, not all ~30 data points: a full set is ~3 KB per
# lead, as much again as the explanation to write, and 150 KB on a page of 50 leads. The
# lead itself (GET /leads/{id}, or explain=true) has them all.
LIST_INSIGHTS = 10


def list_columns(explanation: dict[str, Any] | None) -> dict[str, str | None]:
    """``{"top_reason", "insights"}`` to write next to ``explanation`` (the same row, the same
    statement): the strongest :data:`LIST_INSIGHTS` insights and the next step as the API's
    JSON text, ``None`` without an explanation."""
    if not explanation:
        return {"top_reason": None, "insights": None}
    rows = insights(explanation)
    reasons = [r for r in rows if r["direction"] != "action"][:LIST_INSIGHTS]
    return {"top_reason": top_reason(explanation),
            "insights": orjson.dumps(reasons + [r for r in rows if r["direction"] == "action"]).decode()}
