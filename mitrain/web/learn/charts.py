"""Small inline SVG line charts (no scripts, no inline styles: CSP-safe)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    label: str
    value: float
    labelled: bool = True   # x-axis label drawn (thinned out when there are many points)


@dataclass
class LineChart:
    """Geometry for one chart; the template draws it with SVG attributes only."""

    width: int
    height: int
    left: int
    right: int          # x where the plot ends (threshold labels sit beyond it)
    top: int
    bottom: int
    y_max: float
    dots: list[Dot] = field(default_factory=list)
    fair_y: float | None = None
    good_y: float | None = None
    ticks: list[tuple[float, str]] = field(default_factory=list)

    @property
    def points(self) -> str:
        """The ``points`` attribute of the polyline."""
        return " ".join(f"{d.x:.1f},{d.y:.1f}" for d in self.dots)


def _nice_step(span: float, max_ticks: int = 5) -> float:
    """A round tick step (1, 2, 2.5 or 5 x 10^k) giving at most ``max_ticks`` intervals."""
    raw = span / max_ticks
    power = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for m in (1, 2, 2.5, 5, 10):
        if m * power >= raw:
            return m * power
    return 10 * power


def line_chart(series: Sequence[tuple[str, float | None]], *, fair: float | None = None,
               good: float | None = None, y_min: float = 0.0, y_max: float | None = None,
               width: int = 360, height: int = 170) -> LineChart:
    """Lay out ``(label, value)`` points left to right; ``None`` values are skipped.

    Without ``y_max`` the axis runs to a round number above the data and thresholds.
    """
    values = [v for _, v in series if v is not None]
    top_value = max([*values, *(t for t in (fair, good) if t is not None), y_min + 1e-9])
    step = _nice_step((y_max if y_max is not None else top_value * 1.1) - y_min)
    y_top = y_max if y_max is not None else y_min + step * math.ceil((top_value * 1.1 - y_min)
                                                                     / step)
    left, right, top, bottom = 34, width - 34, 10, height - 22
    chart = LineChart(width, height, left, right, top, bottom, y_top)

    def y_of(v: float) -> float:
        span = (y_top - y_min) or 1.0
        clipped = min(max(v, y_min), y_top)
        return bottom - (clipped - y_min) / span * (bottom - top)

    n = len(series)
    x0, usable = left + 16, right - left - 32
    every = max(1, math.ceil(n / 5))
    for i, (label, v) in enumerate(series):
        if v is None:
            continue
        x = x0 + (usable * i / (n - 1) if n > 1 else usable / 2)
        chart.dots.append(Dot(x, y_of(v), label, v, i % every == 0 or i == n - 1))
    chart.fair_y = y_of(fair) if fair is not None else None
    chart.good_y = y_of(good) if good is not None else None
    k = 0
    while y_min + k * step <= y_top + 1e-9:
        value = y_min + k * step
        chart.ticks.append((y_of(value), f"{value:g}"))
        k += 1
    return chart
