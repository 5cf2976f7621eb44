"""Server-rendered SVG charts for the per-version analytics (pure functions, no I/O).

One horizontal bar per prompt version, so long names like "服薬指導/返信案@3" stay readable and
versions line up for comparison at a glance. A mean score carries its 95% confidence interval as
a whisker; latency draws p50 as the bar and p95 as a tick. Every piece of text that reaches the
markup passes through markupsafe.escape: prompt names are user input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from markupsafe import Markup, escape

from promptyard.web.ui import figures

WIDTH, LABEL_W, VALUE_W, ROW_H, TOP, BOTTOM = 600, 180, 130, 26, 8, 22
PLOT_W = WIDTH - LABEL_W - VALUE_W


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None
    low: float | None = None  # CI whisker
    high: float | None = None
    tick: float | None = None  # a second value drawn as a tick (latency p95)
    note: str = ""  # shown after the value, e.g. "n=120"


@dataclass(frozen=True)
class Chart:
    key: str  # stable id: "count", "error_rate", "latency", "cost", "score:<name>"
    title: str
    svg: Markup


def nice_max(value: float) -> float:
    """A round axis end (1, 2, 4, 8 x 10^k) at or above value: its quarters, the grid lines,
    are round numbers too."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 4, 8, 10):
        if value <= step * exp * (1 + 1e-9):
            return step * exp
    return 10 * exp


def _x(value: float, top: float) -> float:
    return LABEL_W + max(0.0, min(value, top)) / top * PLOT_W


def _clip(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bar_chart(bars: list[Bar], *, title: str, fmt: Callable[[float], str], top: float | None = None,
              empty: str = "—", axis_fmt: Callable[[float], str] = figures.plain) -> Markup:
    """A horizontal bar chart as an <svg> element. `top` fixes the axis end (100 for scores)."""
    values = [v for b in bars for v in (b.value, b.high, b.tick) if v is not None and math.isfinite(v)]
    axis_top = top if top is not None else nice_max(max(values, default=0.0))
    height = TOP + ROW_H * max(len(bars), 1) + BOTTOM
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{WIDTH}" '
             f'height="{height}" viewBox="0 0 {WIDTH} {height}" aria-label="{escape(title)}">',
             f"<title>{escape(title)}</title>"]
    for i in range(5):
        gx = LABEL_W + PLOT_W * i / 4
        parts.append(f'<line class="grid" x1="{gx:.1f}" y1="{TOP}" x2="{gx:.1f}" y2="{height - BOTTOM}" '
                     f'stroke="#ddd" stroke-width="1"/>')
        parts.append(f'<text class="axis" x="{gx:.1f}" y="{height - 6}" text-anchor="middle" font-size="11" '
                     f'fill="#666">{escape(axis_fmt(axis_top * i / 4))}</text>')
    for i, bar in enumerate(bars):
        parts.append(_row(bar, TOP + ROW_H * i, axis_top, fmt, empty))
    parts.append("</svg>")
    return Markup("".join(parts))


def _row(bar: Bar, y: float, top: float, fmt: Callable[[float], str], empty: str) -> str:
    mid = y + ROW_H / 2
    label = escape(bar.label)
    out = [f'<g class="row"><title>{label}</title>',
           f'<text class="label" x="{LABEL_W - 6}" y="{mid + 4:.1f}" text-anchor="end" font-size="12" '
           f'fill="#222">{escape(_clip(bar.label))}</text>']
    if bar.value is None or not math.isfinite(bar.value):
        out.append(f'<text class="value" x="{LABEL_W + 4}" y="{mid + 4:.1f}" font-size="12" fill="#888">'
                   f"{escape(empty)}</text></g>")
        return "".join(out)
    width = _x(bar.value, top) - LABEL_W
    out.append(f'<rect class="bar" x="{LABEL_W}" y="{y + 5}" width="{width:.1f}" height="{ROW_H - 10}" '
               f'fill="#4a78b5"/>')
    if bar.low is not None and bar.high is not None:
        lo, hi = _x(bar.low, top), _x(bar.high, top)
        out.append(f'<path class="ci" d="M{lo:.1f},{mid:.1f}H{hi:.1f}M{lo:.1f},{y + 7}V{y + ROW_H - 7}'
                   f'M{hi:.1f},{y + 7}V{y + ROW_H - 7}" stroke="#111" stroke-width="1.5" fill="none"/>')
    if bar.tick is not None and math.isfinite(bar.tick):
        tx = _x(bar.tick, top)
        out.append(f'<line class="tick" x1="{tx:.1f}" y1="{y + 3}" x2="{tx:.1f}" y2="{y + ROW_H - 3}" '
                   f'stroke="#c0392b" stroke-width="2.5"/>')
    text = fmt(bar.value) + (f" {bar.note}" if bar.note else "")
    out.append(f'<text class="value" x="{WIDTH - VALUE_W + 6}" y="{mid + 4:.1f}" font-size="12" fill="#222">'
               f"{escape(text)}</text></g>")
    return "".join(out)


def version_label(item: dict[str, Any], unlinked: str) -> str:
    if item.get("prompt") is None:
        return unlinked
    return f"{item['prompt']}@{item['version']}" if item.get("version") is not None else str(item["prompt"])


def analytics_charts(items: list[dict[str, Any]], t: Callable[..., str], lang: str) -> list[Chart]:
    """All charts of the analytics page from log_stats.per_version items; `t` translates titles,
    `lang` picks the axis units (2万 / 20,000)."""
    labels = [version_label(i, t("requests.analytics.unlinked")) for i in items]
    big = lambda v: figures.compact(v, lang)  # noqa: E731
    charts = [
        Chart("count", t("requests.analytics.count"),
              bar_chart([Bar(lb, i["count"]) for lb, i in zip(labels, items)],
                        title=t("requests.analytics.count"), fmt=figures.count, axis_fmt=big)),
        Chart("error_rate", t("requests.analytics.error_rate"),
              bar_chart([Bar(lb, i["error_rate"]) for lb, i in zip(labels, items)],
                        title=t("requests.analytics.error_rate"), fmt=figures.percent, axis_fmt=figures.percent,
                        top=nice_max(max([i["error_rate"] for i in items] + [0.01])))),
        Chart("latency", t("requests.analytics.latency"),
              bar_chart([Bar(lb, i["latency_p50"], tick=i["latency_p95"],
                             note=f"/ {figures.ms(i['latency_p95'])}" if i["latency_p95"] is not None else "")
                         for lb, i in zip(labels, items)], title=t("requests.analytics.latency"), fmt=figures.ms,
                        axis_fmt=big)),
        Chart("cost", t("requests.analytics.cost"),
              bar_chart([Bar(lb, _per_request(i)) for lb, i in zip(labels, items)],
                        title=t("requests.analytics.cost"), fmt=figures.money, axis_fmt=figures.money)),
    ]
    names = sorted({name for i in items for name in i["scores"]})
    for name in names:
        title = t("requests.analytics.score", name=name)
        bars = []
        for lb, i in zip(labels, items):
            s = i["scores"].get(name)
            bars.append(Bar(lb, s["mean"], s["ci_low"], s["ci_high"], note=f"n={figures.count(s['n'])}")
                        if s else Bar(lb, None))
        charts.append(Chart(f"score:{name}", title, bar_chart(bars, title=title, fmt=figures.decimal, top=100)))
    return charts


def _per_request(item: dict[str, Any]) -> float | None:
    """Mean cost per request: totals differ by traffic share, so per request compares versions."""
    cost = item.get("cost_total")
    return None if cost is None or not item["count"] else float(cost) / item["count"]
