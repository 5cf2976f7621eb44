"""How the UI writes numbers, in English and Japanese: counts, compact axis labels (20,000 in
English, 2万 in Japanese), percentages, milliseconds, money and plain decimals, never with an
exponent (no `2e+04`, no `0.00000`). Templates reach these as `num` (num.money(x)) and the
server-drawn SVG charts call them too, so a number reads the same in a table and on an axis.
p-values are written by domain/stats.p_shown, the statistics' own rule."""

from __future__ import annotations

import math

DASH = "—"  # no value
# Japanese groups digits by 10^4: 2万, 1.5億, 3兆. English keeps digits below a million, then M, B, T.
_UNITS = {"ja": ((1e12, "兆"), (1e8, "億"), (1e4, "万")), "en": ((1e12, "T"), (1e9, "B"), (1e6, "M"))}


def plain(value: float, digits: int = 3) -> str:
    """`digits` significant digits without an exponent, trailing zeros dropped; whole thousands
    grouped (12,345; 12.5; 0.0025)."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else DASH
    if abs(value) >= 10 ** (digits - 1):
        return f"{value:,.0f}"
    places = digits - 1 - math.floor(math.log10(abs(value)))
    text = f"{value:.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def count(value: float | None) -> str:
    return DASH if value is None else f"{value:,.0f}"


def compact(value: float, lang: str) -> str:
    """An axis label: large numbers in the language's units (2万 / 20,000, 1.5億 / 150M)."""
    for size, unit in _UNITS["ja" if lang == "ja" else "en"]:
        if abs(value) >= size:
            return plain(value / size) + unit
    return plain(value)


def percent(rate: float | None) -> str:
    """A rate (0..1) in percent: one decimal from 1%, two significant digits below (0.25%)."""
    if rate is None:
        return DASH
    pct = rate * 100
    if pct == 0:
        return "0%"
    return f"{pct:.1f}%" if abs(pct) >= 1 else f"{plain(pct, 2)}%"


def ms(value: float | None) -> str:
    return DASH if value is None else f"{value:,.0f} ms"


def money(value: float | None) -> str:
    """US dollars: cents from $1; up to four decimals from a cent ($0.25, $0.0123); two
    significant digits for fractions of a cent, as per-request LLM costs are ($0.000042)."""
    if value is None:
        return DASH
    if value == 0:
        return "$0"
    if abs(value) >= 1:
        return f"${value:,.2f}"
    if abs(value) >= 0.01:
        text = f"{value:.4f}".rstrip("0")
        return "$" + (text + "0" if len(text.split(".")[1]) < 2 else text)
    return "$" + plain(value, 2)


def score(value: float | None) -> str:
    """A score (0..100): whole numbers as such, else one decimal."""
    if value is None:
        return DASH
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def decimal(value: float | None, places: int = 1) -> str:
    """A fixed number of decimals (scores 0..100: 72.5), thousands grouped."""
    return DASH if value is None else f"{value:,.{places}f}"
