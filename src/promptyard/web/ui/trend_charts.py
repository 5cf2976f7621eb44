"""Server-rendered SVG line charts of the analytics trends (pure functions, no I/O): one line
per prompt version over the days (or hours), for requests, error rate and each score's mean. Every label
passes through markupsafe.escape (prompt names are user input); numbers through figures."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any, Callable

from markupsafe import Markup, escape

from promptyard.web.ui import figures
from promptyard.web.ui.charts import Chart, nice_max, version_label

WIDTH, LEFT, RIGHT, TOP, PLOT_H, AXIS_H, LEGEND_ROW = 640, 56, 22, 10, 150, 22, 18
PLOT_W = WIDTH - LEFT - RIGHT
MAX_LINES = 8  # the busiest versions; more lines than this are not read at a glance
COLOURS = ("#2357c6", "#d1495b", "#1d7a46", "#e09f3e", "#6a4c93", "#00798c", "#8c564b", "#7f7f7f")
Point = tuple[float, str]  # value, and the tooltip text


def line_chart(days: list[date], lines: list[tuple[str, list[Point | None]]], *, title: str,
               axis_fmt: Callable[[float], str], top: float | None = None) -> Markup:
    """An <svg> with one polyline per (label, points); a missing point (None) breaks the line.
    `days` are dates, or the starts of hours (datetimes in the viewer's zone)."""
    values = [pt[0] for _, pts in lines for pt in pts if pt is not None]
    y_top = top if top is not None else nice_max(max(values, default=0.0))
    rows = math.ceil(len(lines) / 3)
    height = TOP + PLOT_H + AXIS_H + LEGEND_ROW * rows + 4
    step = PLOT_W / max(len(days) - 1, 1)
    x = lambda i: LEFT + i * step  # noqa: E731
    y = lambda v: TOP + PLOT_H - max(0.0, min(v, y_top)) / y_top * PLOT_H  # noqa: E731
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart trend" role="img" width="{WIDTH}" '
           f'height="{height}" viewBox="0 0 {WIDTH} {height}" aria-label="{escape(title)}">',
           f"<title>{escape(title)}</title>"]
    for k in range(5):
        gy = TOP + PLOT_H * (1 - k / 4)
        out.append(f'<line class="grid" x1="{LEFT}" y1="{gy:.1f}" x2="{WIDTH - RIGHT}" y2="{gy:.1f}" stroke="#e3e6eb"/>'
                   f'<text class="axis" x="{LEFT - 6}" y="{gy + 4:.1f}" text-anchor="end" font-size="11" fill="#666">'
                   f"{escape(axis_fmt(y_top * k / 4))}</text>")
    every = max(1, math.ceil(len(days) / 10))
    for i, d in enumerate(days):
        if i % every == 0 or i == len(days) - 1:
            out.append(f'<text class="day" x="{x(i):.1f}" y="{TOP + PLOT_H + 16}" text-anchor="middle" '
                       f'font-size="11" fill="#666">{_tick(d, i == 0)}</text>')
    for n, (label, pts) in enumerate(lines):
        colour = COLOURS[n % len(COLOURS)]
        out.append(f'<g class="line" data-label="{escape(label)}">')
        for run in _runs(pts):
            coords = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, (v, _) in run)
            out.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for i, pt in enumerate(pts):
            if pt is not None:
                out.append(f'<circle cx="{x(i):.1f}" cy="{y(pt[0]):.1f}" r="2.5" fill="{colour}">'
                           f"<title>{escape(label)} · {_when(days[i])}: {escape(pt[1])}</title></circle>")
        lx, ly = LEFT + (n % 3) * (PLOT_W / 3), TOP + PLOT_H + AXIS_H + LEGEND_ROW * (n // 3) + 10
        out.append(f'<rect x="{lx:.1f}" y="{ly - 8}" width="12" height="4" fill="{colour}"/>'
                   f'<text class="legend" x="{lx + 16:.1f}" y="{ly - 3}" font-size="12" fill="#222">'
                   f"{escape(_clip(label))}</text></g>")
    out.append("</svg>")
    return Markup("".join(out))


def _tick(d: date, first: bool) -> str:
    """An axis label: 11/3 for a day; 14:00 for an hour, with its day at midnight and at the start."""
    if not isinstance(d, datetime):
        return f"{d.month}/{d.day}"
    return f"{d.month}/{d.day} {d.hour}:00" if first or d.hour == 0 else f"{d.hour}:00"


def _when(d: date) -> str:
    return d.strftime("%Y-%m-%d %H:%M") if isinstance(d, datetime) else d.isoformat()


def _runs(pts: list[Point | None]) -> list[list[tuple[int, Point]]]:
    """The stretches of consecutive days that have a value (a line is not drawn across gaps)."""
    runs: list[list[tuple[int, Point]]] = [[]]
    for i, pt in enumerate(pts):
        if pt is None:
            runs.append([])
        else:
            runs[-1].append((i, pt))
    return [r for r in runs if r]


def _clip(text: str, limit: int = 26) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def trend_charts(trends: dict[str, Any], t: Callable[..., str], lang: str) -> list[Chart]:
    """Requests, error rate and each score's mean per day (or hour), from services.log_trends.per_day
    (or per_hour)."""
    hourly = "hours" in trends
    days, series = trends["hours"] if hourly else trends["days"], trends["series"][:MAX_LINES]
    words = {k: f"trends.{k}_hour" if hourly else f"requests.trends.{k}" for k in ("count", "error_rate", "score")}
    labels = [version_label(s, t("requests.analytics.unlinked")) for s in series]
    big = lambda v: figures.compact(v, lang)  # noqa: E731
    counts = [(lb, [(float(n), figures.count(n)) for n in s["count"]]) for lb, s in zip(labels, series)]
    rates = [(lb, [(e / n, f"{figures.percent(e / n)} ({figures.count(e)}/{figures.count(n)})") if n else None
                   for e, n in zip(s["errors"], s["count"])]) for lb, s in zip(labels, series)]
    charts = [
        Chart("trend:count", t(words["count"]),
              line_chart(days, counts, title=t(words["count"]), axis_fmt=big)),
        Chart("trend:error_rate", t(words["error_rate"]),
              line_chart(days, rates, title=t(words["error_rate"]), axis_fmt=figures.percent,
                         top=nice_max(max([pt[0] for _, pts in rates for pt in pts if pt] + [0.01])))),
    ]
    for name in sorted({name for s in series for name in s["scores"]}):
        lines = [(lb, [_mean_point(day) for day in s["scores"].get(name, [None] * len(days))])
                 for lb, s in zip(labels, series)]
        title = t(words["score"], name=name)
        charts.append(Chart(f"trend:score:{name}", title, line_chart(days, lines, title=title,
                                                                     axis_fmt=figures.plain, top=100)))
    return charts


def _mean_point(day: tuple[int, float] | None) -> Point | None:
    if day is None:
        return None
    n, mean = day
    return mean, f"{figures.decimal(mean)} (n={figures.count(n)})"
