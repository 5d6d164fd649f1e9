"""Small server-side SVG charts: no JavaScript, no CDN, fine under a strict CSP."""

from dataclasses import dataclass, field
from html import escape
import math


@dataclass
class Series:
    name: str
    points: list[tuple[float, float]]
    css_class: str = "series-a"


@dataclass
class LineChart:
    series: list[Series]
    x_label: str = ""
    y_label: str = ""
    y_min: float = 0.0
    y_max: float = 1.0
    width: int = 560
    height: int = 240
    markers: list[tuple[float, str]] = field(default_factory=list)  # vertical lines at x


PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 44, 12, 12, 36


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round tick values from low to at least high, ascending, a step of 1, 2, 2.5 or 5 times a power of ten."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    ticks, value = [], start
    while value < high - step * 1e-9:
        ticks.append(value)
        value = start + step * len(ticks)
    ticks.append(value)
    return [round(t, 10) for t in ticks]


def tick_label(value: float) -> str:
    """A tick as people write numbers: 8,000 and 0.25, never 8e+03."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.4f}".rstrip("0").rstrip(".")


def _scale(value: float, low: float, high: float, start: float, end: float) -> float:
    if high == low:
        return (start + end) / 2
    return start + (value - low) / (high - low) * (end - start)


def line_chart_svg(chart: LineChart) -> str:
    """An accessible SVG line chart with axes, ticks and a legend."""
    xs = [x for s in chart.series for x, _ in s.points] + [x for x, _ in chart.markers]
    if not xs:
        return ""
    x_min, x_max = min(xs), max(xs)
    if x_min == x_max:
        x_min, x_max = x_min - 1, x_max + 1
    left, right = PAD_LEFT, chart.width - PAD_RIGHT
    top, bottom = PAD_TOP, chart.height - PAD_BOTTOM
    parts = [f'<svg class="chart" viewBox="0 0 {chart.width} {chart.height}" role="img" '
             f'aria-label="{escape(chart.y_label)} by {escape(chart.x_label)}">']
    y_ticks = nice_ticks(chart.y_min, chart.y_max)
    y_min, y_max = y_ticks[0], y_ticks[-1]
    for value in y_ticks:
        y = _scale(value, y_min, y_max, bottom, top)
        parts.append(f'<line class="grid" x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick_label(value)}</text>')
    for x_value in sorted({x for x in xs})[:: max(1, len(set(xs)) // 8)]:
        x = _scale(x_value, x_min, x_max, left, right)
        parts.append(f'<text class="tick" x="{x:.1f}" y="{bottom + 14}" text-anchor="middle">{x_value:g}</text>')
    for x_value, label in chart.markers:
        x = _scale(x_value, x_min, x_max, left, right)
        parts.append(f'<line class="marker" x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{bottom}"/>'
                     f'<text class="marker-label" x="{x + 4:.1f}" y="{top + 10}">{escape(label)}</text>')
    for series in chart.series:
        points = [(_scale(x, x_min, x_max, left, right), _scale(y, y_min, y_max, bottom, top)) for x, y in series.points]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(f'<polyline class="{series.css_class}" points="{path}"/>')
        for (x, y), (xv, yv) in zip(points, series.points):
            parts.append(f'<circle class="{series.css_class}" cx="{x:.1f}" cy="{y:.1f}" r="3"><title>{escape(series.name)}: '
                         f'{yv:.3g} at {xv:g}</title></circle>')
    parts.append(f'<text class="axis-label" x="{(left + right) / 2}" y="{chart.height - 4}" text-anchor="middle">{escape(chart.x_label)}</text>')
    legend_x = left + 8
    for series in chart.series:
        parts.append(f'<rect class="{series.css_class} legend" x="{legend_x}" y="{top + 2}" width="10" height="10"/>'
                     f'<text class="legend-label" x="{legend_x + 14}" y="{top + 11}">{escape(series.name)}</text>')
        legend_x += 14 + 8 * len(series.name) + 16
    parts.append("</svg>")
    return "".join(parts)


@dataclass
class Bar:
    label: str
    value: float
    css_class: str = "series-a"


def bar_chart_svg(bars: list[Bar], *, width: int = 560, height: int = 220, x_label: str = "", markers: list[tuple[int, str]] = ()) -> str:
    """Vertical bars (a histogram), with optional vertical markers between bars by index."""
    if not bars:
        return ""
    y_ticks = nice_ticks(0, max(b.value for b in bars) or 1)
    top_value = y_ticks[-1]
    left, right, top, bottom = PAD_LEFT, width - PAD_RIGHT, PAD_TOP, height - PAD_BOTTOM
    step = (right - left) / len(bars)
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(x_label)}">']
    for value in y_ticks:
        y = _scale(value, 0, top_value, bottom, top)
        parts.append(f'<line class="grid" x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}"/>'
                     f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick_label(value)}</text>')
    for index, bar in enumerate(bars):
        x = left + index * step
        y = _scale(bar.value, 0, top_value, bottom, top)
        parts.append(f'<rect class="{bar.css_class}" x="{x + 1:.1f}" y="{y:.1f}" width="{max(step - 2, 1):.1f}" height="{bottom - y:.1f}">'
                     f'<title>{escape(bar.label)}: {bar.value:g}</title></rect>')
        if index % max(1, len(bars) // 10) == 0:
            parts.append(f'<text class="tick" x="{x + step / 2:.1f}" y="{bottom + 14}" text-anchor="middle">{escape(bar.label)}</text>')
    for index, label in markers:
        x = left + index * step
        parts.append(f'<line class="marker" x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{bottom}"/>'
                     f'<text class="marker-label" x="{x + 4:.1f}" y="{top + 10}">{escape(label)}</text>')
    parts.append(f'<text class="axis-label" x="{(left + right) / 2}" y="{height - 4}" text-anchor="middle">{escape(x_label)}</text></svg>')
    return "".join(parts)
