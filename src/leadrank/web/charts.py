"""Server-rendered SVG charts: no JavaScript, no chart library, nothing fetched at run time.

Every chart is an ``<svg role="img">`` with a ``<title>`` and ``<desc>`` that say what it shows;
pages put the same numbers in a table next to it for screen readers and for copying.
Colours come from CSS classes (``c-…`` in ``static/app.css``), so contrast and themes are
set in one place; the SVG scales with its container through its ``viewBox``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

FONT = 12


def _f(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".") if x == x else "0"


def _svg(width: int, height: int, title: str, desc: str, body: list[str], css: str = "") -> Markup:
    uid = abs(hash((title, desc, width, height))) % 10**8
    return Markup(
        f'<svg class="chart {css}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="ct{uid} cd{uid}" preserveAspectRatio="xMidYMid meet" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<title id="ct{uid}">{escape(title)}</title><desc id="cd{uid}">{escape(desc)}</desc>'
        + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: str, cls: str = "c-label", anchor: str = "start", size: int = FONT,
          extra: str = "") -> str:
    return (f'<text x="{_f(x)}" y="{_f(y)}" class="{cls}" text-anchor="{anchor}" font-size="{size}"{extra}>'
            f"{escape(text)}</text>")


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (1-2-5 steps)."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / max(count, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    v = start
    while v <= hi + step * 1e-9:
        ticks.append(round(v, 10))
        v += step
    return ticks


# --- horizontal bars (feature importance) ----------------------------------------------------------

def hbar_chart(items: Sequence[tuple[str, float]], *, title: str, desc: str,
               fmt: Callable[[float], str] = lambda v: f"{v:.2f}", width: int = 640,
               label_width: int = 190, row: int = 26) -> Markup:
    items = list(items)
    top, bottom = 8, 8
    height = top + bottom + row * max(len(items), 1)
    vmax = max((abs(v) for _, v in items), default=1.0) or 1.0
    plot_w = width - label_width - 70
    body: list[str] = []
    for i, (label, value) in enumerate(items):
        y = top + i * row
        w = max(1.5, plot_w * abs(value) / vmax)
        body.append(_text(label_width - 10, y + row / 2 + 4, _truncate(label, 28), anchor="end"))
        body.append(f'<rect class="c-bar" x="{label_width}" y="{_f(y + 5)}" width="{_f(w)}" '
                    f'height="{row - 10}" rx="3"><title>{escape(label)}: {escape(fmt(value))}</title></rect>')
        body.append(_text(label_width + w + 8, y + row / 2 + 4, fmt(value), cls="c-value"))
    if not items:
        body.append(_text(width / 2, height / 2, "No data yet", cls="c-muted", anchor="middle"))
    return _svg(width, height, title, desc, body, "chart-hbar")


# --- waterfall (a score's breakdown) ---------------------------------------------------------------

@dataclass
class Step:
    label: str
    points: float
    kind: str = "step"  # base | step | total


def waterfall(base: float, steps: Sequence[tuple[str, float]], total: float, *, title: str, desc: str,
              base_label: str = "Starting point", total_label: str = "Score", width: int = 680,
              label_width: int = 230, row: int = 28) -> Markup:
    """One row per contribution: a bar from the running total before it to the one after it,
    green when it raises the score, red when it lowers it; the last row is the score itself."""
    rows: list[tuple[str, float, float, str]] = [(base_label, 0.0, base, "base")]
    running = base
    for label, pts in steps:
        rows.append((label, running, running + pts, "up" if pts >= 0 else "down"))
        running += pts
    rows.append((total_label, 0.0, total, "total"))
    lo = min(0.0, *(min(a, b) for _, a, b, _ in rows))
    hi = max(100.0, *(max(a, b) for _, a, b, _ in rows))
    top, axis_h = 6, 24
    height = top + row * len(rows) + axis_h
    plot_x, plot_w = label_width, width - label_width - 54

    def x(v: float) -> float:
        return plot_x + plot_w * (v - lo) / (hi - lo)

    body: list[str] = []
    for t in nice_ticks(lo, hi, 5):
        if lo <= t <= hi:
            body.append(f'<line class="c-grid" x1="{_f(x(t))}" x2="{_f(x(t))}" y1="{top}" '
                        f'y2="{_f(top + row * len(rows))}"/>')
            body.append(_text(x(t), height - 6, f"{t:g}", cls="c-tick", anchor="middle", size=11))
    for i, (label, a, b, kind) in enumerate(rows):
        y = top + i * row
        x0, x1 = sorted((x(a), x(b)))
        w = max(x1 - x0, 1.5)
        pts = b - a
        value = f"{b:.0f}" if kind in ("base", "total") else (f"+{pts:.0f}" if pts >= 0 else f"\u2212{-pts:.0f}")
        weight = ' font-weight="600"' if kind == "total" else ""
        body.append(_text(label_width - 10, y + row / 2 + 4, _truncate(label, 34), anchor="end", extra=weight))
        body.append(f'<rect class="c-{kind}" x="{_f(x0)}" y="{_f(y + 5)}" width="{_f(w)}" height="{row - 10}" '
                    f'rx="2"><title>{escape(label)}: {escape(value)}</title></rect>')
        body.append(_text(x1 + 6, y + row / 2 + 4, value, cls="c-value", extra=weight))
        if kind != "total" and i + 1 < len(rows):
            body.append(f'<line class="c-connector" x1="{_f(x(b))}" x2="{_f(x(b))}" y1="{_f(y + row - 5)}" '
                        f'y2="{_f(y + row + 5)}"/>')
    return _svg(width, height, title, desc, body, "chart-waterfall")


# --- line / scatter charts (gains, calibration, history) --------------------------------------------

@dataclass
class Series:
    name: str
    points: Sequence[tuple[float, float]]
    cls: str = "c-line"
    markers: bool = True
    dashed: bool = False


def line_chart(series: Sequence[Series], *, title: str, desc: str, x_label: str, y_label: str,
               x_domain: tuple[float, float] = (0, 1), y_domain: tuple[float, float] = (0, 1),
               x_fmt: Callable[[float], str] = lambda v: f"{v:g}",
               y_fmt: Callable[[float], str] = lambda v: f"{v:g}",
               width: int = 420, height: int = 300, legend: bool = True) -> Markup:
    left, right, top, bottom = 52, 14, 14 + (18 if legend else 0), 44
    pw, ph = width - left - right, height - top - bottom
    (x0, x1), (y0, y1) = x_domain, y_domain

    def px(v: float) -> float:
        return left + pw * (v - x0) / ((x1 - x0) or 1)

    def py(v: float) -> float:
        return top + ph - ph * (v - y0) / ((y1 - y0) or 1)

    body: list[str] = []
    for t in nice_ticks(y0, y1, 4):
        if y0 <= t <= y1:
            body.append(f'<line class="c-grid" x1="{left}" x2="{left + pw}" y1="{_f(py(t))}" y2="{_f(py(t))}"/>')
            body.append(_text(left - 6, py(t) + 4, y_fmt(t), cls="c-tick", anchor="end", size=11))
    for t in nice_ticks(x0, x1, 5):
        if x0 <= t <= x1:
            body.append(_text(px(t), top + ph + 16, x_fmt(t), cls="c-tick", anchor="middle", size=11))
    body.append(f'<line class="c-axis" x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}"/>')
    body.append(_text(left + pw / 2, height - 6, x_label, cls="c-axis-label", anchor="middle", size=11))
    body.append(_text(12, top + ph / 2, y_label, cls="c-axis-label", anchor="middle", size=11,
                      extra=f' transform="rotate(-90 12 {_f(top + ph / 2)})"'))
    lx = left
    for s in series:
        pts = [(px(a), py(b)) for a, b in s.points if a == a and b == b]
        if len(pts) >= 2:
            path = " ".join(f"{'M' if i == 0 else 'L'}{_f(a)},{_f(b)}" for i, (a, b) in enumerate(pts))
            dash = ' stroke-dasharray="5 4"' if s.dashed else ""
            body.append(f'<path class="{s.cls}" d="{path}" fill="none"{dash}/>')
        if s.markers:
            for (a, b), (ra, rb) in zip(pts, [p for p in s.points if p[0] == p[0] and p[1] == p[1]], strict=False):
                body.append(f'<circle class="{s.cls} c-marker" cx="{_f(a)}" cy="{_f(b)}" r="3.5">'
                            f"<title>{escape(s.name)}: {escape(x_fmt(ra))}, {escape(y_fmt(rb))}</title></circle>")
        if legend:
            dash = ' stroke-dasharray="5 4"' if s.dashed else ""
            body.append(f'<line class="{s.cls}" x1="{lx}" x2="{lx + 18}" y1="10" y2="10"{dash}/>')
            body.append(_text(lx + 23, 14, s.name, cls="c-legend", size=11))
            lx += 34 + 6.5 * len(s.name)
    return _svg(width, height, title, desc, body, "chart-line")


def sparkline(values: Sequence[float], *, title: str, desc: str, width: int = 240, height: int = 48,
              lo: float = 0, hi: float = 100) -> Markup:
    if len(values) < 2:
        values = list(values) * 2 or [0, 0]
    pad = 4

    def px(i: int) -> float:
        return pad + (width - 2 * pad) * i / (len(values) - 1)

    def py(v: float) -> float:
        return height - pad - (height - 2 * pad) * (v - lo) / ((hi - lo) or 1)

    path = " ".join(f"{'M' if i == 0 else 'L'}{_f(px(i))},{_f(py(v))}" for i, v in enumerate(values))
    body = [f'<path class="c-line" d="{path}" fill="none"/>',
            f'<circle class="c-line c-marker" cx="{_f(px(len(values) - 1))}" cy="{_f(py(values[-1]))}" r="3"/>']
    return _svg(width, height, title, desc, body, "chart-spark")


# --- histogram (score distribution) ----------------------------------------------------------------

def histogram(counts: Sequence[int], *, title: str, desc: str, bin_width: float = 5,
              bands: Sequence[tuple[float, str]] = (), width: int = 640, height: int = 220) -> Markup:
    """Bars per score band; ``bands`` are (lower bound, grade) pairs drawn as labelled cut lines."""
    left, right, top, bottom = 48, 12, 16, 40
    pw, ph = width - left - right, height - top - bottom
    n = len(counts)
    cmax = max(counts, default=0) or 1
    bw = pw / max(n, 1)
    body: list[str] = []
    for t in nice_ticks(0, cmax, 4):
        if t <= cmax:
            y = top + ph - ph * t / cmax
            body.append(f'<line class="c-grid" x1="{left}" x2="{left + pw}" y1="{_f(y)}" y2="{_f(y)}"/>')
            body.append(_text(left - 6, y + 4, f"{t:,.0f}", cls="c-tick", anchor="end", size=11))
    for i, c in enumerate(counts):
        h = ph * c / cmax
        lo = i * bin_width
        body.append(f'<rect class="c-bar" x="{_f(left + i * bw + 1)}" y="{_f(top + ph - h)}" '
                    f'width="{_f(max(bw - 2, 1))}" height="{_f(h)}"><title>Score {lo:g}–{lo + bin_width:g}: '
                    f"{c:,} leads</title></rect>")
    for i in range(0, n + 1, max(1, n // 5)):
        body.append(_text(left + i * bw, top + ph + 16, f"{i * bin_width:g}", cls="c-tick", anchor="middle",
                          size=11))
    for lower, grade in bands:
        if 0 < lower < n * bin_width:
            xx = left + pw * lower / (n * bin_width)
            body.append(f'<line class="c-cut" x1="{_f(xx)}" x2="{_f(xx)}" y1="{top}" y2="{top + ph}"/>')
            body.append(_text(xx + 4, top + 10, grade, cls="c-cut-label", size=11))
    body.append(f'<line class="c-axis" x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}"/>')
    body.append(_text(left + pw / 2, height - 6, "Score", cls="c-axis-label", anchor="middle", size=11))
    return _svg(width, height, title, desc, body, "chart-hist")


def grade_bar(counts: dict[str, int], *, title: str, width: int = 640, height: int = 14) -> Markup:
    """One stacked bar: the share of leads per grade."""
    total = sum(counts.values()) or 1
    x = 0.0
    body = []
    for grade in ("A", "B", "C", "D"):
        w = width * counts.get(grade, 0) / total
        if w > 0:
            body.append(f'<rect class="c-grade-{grade}" x="{_f(x)}" y="0" width="{_f(w)}" height="{height}">'
                        f"<title>Grade {grade}: {counts.get(grade, 0):,} leads</title></rect>")
            x += w
    desc = ", ".join(f"{g}: {counts.get(g, 0):,}" for g in ("A", "B", "C", "D"))
    return _svg(width, height, title, desc, body, "chart-gradebar")
