"""Charts as server-rendered SVG (no script, no CDN): daily bars and a line. Each chart
has a title and a text summary for screen readers; every bar and point has a tooltip."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 420, 170  # about the width a card shows it at: 13px text stays ~11px
LEFT, BOTTOM, TOP = 64, 24, 12


def _frame(title: str, summary: str, body: str, peak_label: str, labels: list) -> SafeString:
    plot_h = HEIGHT - BOTTOM - TOP
    axis = (
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH}" y2="{TOP + plot_h}" class="axis"/>'
        f'<text x="{LEFT - 6}" y="{TOP + 8}" class="tick" text-anchor="end">'
        f"{escape(peak_label)}</text>"
        f'<text x="{LEFT - 6}" y="{TOP + plot_h}" class="tick" text-anchor="end">0</text>'
    )
    ticks = "".join(
        f'<text x="{x:.1f}" y="{HEIGHT - 6}" class="tick" text-anchor="{anchor}">'
        f"{escape(text)}</text>"
        for x, text, anchor in labels
    )
    return mark_safe(
        format_html(
            '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-label="{}"><title>{}</title>',
            WIDTH,
            HEIGHT,
            f"{title}: {summary}",
            title,
        )
        + axis
        + body
        + ticks
        + "</svg>"
    )


def _day_labels(days: Sequence[date], x_of: Callable[[int], float]) -> list:
    if not days:
        return []
    picks = {0: "start", len(days) - 1: "end"}
    if len(days) > 2:
        picks[len(days) // 2] = "middle"
    return [(x_of(i), days[i].strftime("%d %b"), anchor) for i, anchor in picks.items()]


Series = Sequence[tuple[date, int]]
Format = Callable[[int], str]


def _plot(series: Series) -> tuple[list[int], int, float, float]:
    """(values, the peak the scale reaches, plot width, plot height)."""
    values = [v for _, v in series]
    return values, max(values, default=0) or 1, WIDTH - LEFT, HEIGHT - BOTTOM - TOP


def bars(series: Series, *, title: str, fmt: Format = lambda n: f"{n:,}") -> SafeString:
    """One bar a day."""
    values, peak, plot_w, plot_h = _plot(series)
    step = plot_w / max(len(series), 1)
    gap = min(2.0, step * 0.2)
    parts = []
    for i, (day, value) in enumerate(series):
        h = plot_h * value / peak
        parts.append(
            f'<rect x="{LEFT + i * step + gap / 2:.1f}" y="{TOP + plot_h - h:.1f}" '
            f'width="{max(step - gap, 0.5):.1f}" height="{h:.1f}" class="bar">'
            f"<title>{escape(day.isoformat())}: {escape(fmt(value))}</title></rect>"
        )
    total = sum(values)
    most = fmt(max(values, default=0))
    days = len(series)
    summary = (
        f"{fmt(total)} in total over {days} day{'s' if days != 1 else ''}, at most {most} a day"
    )
    labels = _day_labels([d for d, _ in series], lambda i: LEFT + (i + 0.5) * step)
    return _frame(title, summary, "".join(parts), fmt(peak if any(values) else 0), labels)


def line(series: Series, *, title: str, fmt: Format = lambda n: f"{n:,}") -> SafeString:
    """A line through the days that have a value (snapshots may skip days)."""
    values, peak, plot_w, plot_h = _plot(series)
    n = len(series)
    x_of = (lambda i: LEFT + plot_w / 2) if n <= 1 else (lambda i: LEFT + plot_w * i / (n - 1))
    points = [(x_of(i), TOP + plot_h - plot_h * v / peak) for i, v in enumerate(values)]
    body = ""
    if points:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        body = f'<polyline points="{path}" class="line"/>' + "".join(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" class="dot">'
            f"<title>{escape(d.isoformat())}: {escape(fmt(v))}</title></circle>"
            for (x, y), (d, v) in zip(points, series, strict=True)
        )
    summary = (
        f"{fmt(values[0])} on the first day, {fmt(values[-1])} on the last ({n} days)"
        if values
        else "no data yet"
    )
    labels = _day_labels([d for d, _ in series], x_of)
    return _frame(title, summary, body, fmt(peak if any(values) else 0), labels)
