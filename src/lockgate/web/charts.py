"""Line charts as inline SVG, computed here and drawn by templates/_chart.html: one line per model over
time buckets. No plotting library, no JavaScript; the table under the charts carries the numbers."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from lockgate.accounting.history import UsagePoint

WIDTH, HEIGHT = 560, 220
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 12, 28
# Distinguishable with common colour-vision deficiencies (Okabe-Ito).
COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
METRICS = (
    ("requests", "Requests", "requests"),
    ("tokens", "Tokens", "tokens"),
    ("cost", "Cost", "currency units"),
    ("kgco2eq", "Carbon", "kgCO2eq (upper estimate)"),
)


@dataclass(frozen=True, slots=True)
class Line:
    model: str
    color: str
    points: str  # "x,y x,y …" in SVG user units
    total: float


@dataclass(frozen=True, slots=True)
class Chart:
    metric: str
    title: str
    unit: str
    lines: list[Line]
    x_labels: list[tuple[float, str]]
    y_labels: list[tuple[float, str]]
    total: float
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    bottom: int = HEIGHT - BOTTOM
    right: int = WIDTH - RIGHT


def _short(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value / 1000:.3g}k"
    return f"{value:.3g}"


def _label(ts: int, bucket_seconds: int) -> str:
    moment = datetime.datetime.fromtimestamp(ts, datetime.UTC)
    return moment.strftime("%H:%M" if bucket_seconds < 86400 else "%m-%d")


def charts(points: list[UsagePoint], start: int, end: int, bucket_seconds: int) -> list[Chart]:
    """Four charts (requests, tokens, cost, carbon) over every bucket from `start` to `end`."""
    first = start - start % bucket_seconds
    buckets = list(range(first, end + 1, bucket_seconds)) or [first]
    index = {b: i for i, b in enumerate(buckets)}
    models = sorted({p.model for p in points})
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (plot_w * i / max(len(buckets) - 1, 1))

    step = max(1, len(buckets) // 6)
    x_labels = [(x(i), _label(b, bucket_seconds)) for i, b in enumerate(buckets) if i % step == 0]
    result = []
    for metric, title, unit in METRICS:
        values = {m: [0.0] * len(buckets) for m in models}
        for p in points:
            if p.start in index:
                values[p.model][index[p.start]] += float(getattr(p, metric))
        top = max((v for series in values.values() for v in series), default=0.0) or 1.0

        def y(value: float, top: float = top) -> float:
            return TOP + plot_h * (1 - value / top)

        lines = [
            Line(
                model,
                COLORS[n % len(COLORS)],
                " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values[model])),
                sum(values[model]),
            )
            for n, model in enumerate(models)
        ]
        y_labels = [(y(top * f), _short(top * f)) for f in (0, 0.5, 1)]
        total = sum(line.total for line in lines)
        result.append(Chart(metric, title, unit, lines, x_labels, y_labels, total))
    return result
