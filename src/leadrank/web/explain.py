"""A lead's explanation as the detail page shows it: contributions whose displayed whole
points add up exactly to the displayed score, a chart and plain sentences."""

from __future__ import annotations

import math
from dataclasses import dataclass

from leadrank.web.model_view import group_label

CHART_ROWS = 10


@dataclass
class Contribution:
    label: str
    group: str
    points: float        # exact, from the engine
    shown: int           # whole points, apportioned so that base + sum(shown) == round(score)
    value: object = None


@dataclass
class Breakdown:
    score: float
    shown_score: int
    base: float
    shown_base: int
    probability: float | None
    up: list[Contribution]
    down: list[Contribution]
    next_action: str | None
    kind: str | None
    # Scored, reasons not written yet: scoring writes scores first and the reasons just after.
    pending: bool = False

    @property
    def contributions(self) -> list[Contribution]:
        return sorted(self.up + self.down, key=lambda c: -abs(c.points))

    @property
    def total_up(self) -> int:
        return sum(c.shown for c in self.up)

    @property
    def total_down(self) -> int:
        return sum(c.shown for c in self.down)

    def chart_steps(self) -> list[tuple[str, float]]:
        """Biggest contributions first; the rest summed into one row so the chart still adds up."""
        ordered = self.contributions
        steps = [(c.label, float(c.shown)) for c in ordered[:CHART_ROWS]]
        rest = ordered[CHART_ROWS:]
        if rest:
            steps.append((f"{len(rest)} smaller factors", float(sum(c.shown for c in rest))))
        # Show ups before downs within the chart: reads like a bridge from start to score.
        return sorted(steps, key=lambda s: (s[1] < 0, -abs(s[1])))


def apportion(values: list[float], total: int) -> list[int]:
    """Round ``values`` to integers that sum to ``total`` (largest remainder), keeping each
    within one point of its exact value."""
    if not values:
        return []
    floors = [math.floor(v) for v in values]
    short = total - sum(floors)
    order = sorted(range(len(values)), key=lambda i: -(values[i] - floors[i]))
    out = list(floors)
    if short >= 0:
        for i in order[:short]:
            out[i] += 1
    else:  # cannot happen when sum(values) rounds to total, but never loop forever
        for i in reversed(order[: -short]):
            out[i] -= 1
    return out


def breakdown(explanation: dict | None, score: float | None, probability: float | None,
              kind: str | None) -> Breakdown | None:
    exp = explanation or {}
    if score is None and exp.get("score") is None:
        return None
    score = float(exp.get("score", score if score is not None else 0.0))
    contributions = [c for c in exp.get("contributions") or [] if isinstance(c, dict)]
    base = exp.get("base_points")
    points = [float(c.get("points") or 0.0) for c in contributions]
    if base is None:
        base = score - sum(points)
    base = float(base)
    shown_score = round(score)
    shown = apportion([base, *points], shown_score)
    items = []
    for c, exact, whole in zip(contributions, points, shown[1:], strict=True):
        label = c.get("label") or group_label(c.get("group") or c.get("feature"))
        items.append(Contribution(label=str(label), group=str(c.get("group") or ""), points=exact, shown=whole,
                                  value=c.get("value")))
    up = sorted((c for c in items if c.points > 0 and c.shown != 0), key=lambda c: -c.points)
    down = sorted((c for c in items if c.points < 0 and c.shown != 0), key=lambda c: c.points)
    # Contributions that round to zero still count: fold them into the base so the sum holds.
    zero = sum(c.shown for c in items if c.shown == 0 or (c.points > 0) != (c.shown > 0))
    strays = [c for c in items if c.shown != 0 and ((c.points > 0) != (c.shown > 0))]
    shown_base = shown[0] + zero
    for c in strays:  # a tiny negative rounded up to +1 (or the reverse): keep it honest in the base
        if c in up:
            up.remove(c)
        if c in down:
            down.remove(c)
    return Breakdown(score=score, shown_score=shown_score, base=base, shown_base=shown_base,
                     probability=exp.get("probability", probability), up=up, down=down,
                     next_action=exp.get("next_action"), kind=kind, pending=explanation is None)
