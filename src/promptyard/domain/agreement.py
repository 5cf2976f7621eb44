"""Agreement between raters (issue 17): how far reviewers, or an LLM judge and people, give the
same scores to the same items. Pure Python, no database.

- `cohen_kappa(a, b, weights=None | "linear" | "quadratic")`: two raters, the items both scored
  (a None in either is left out). Weighted kappa weighs disagreements by the distance between the
  categories' ranks (as sklearn.metrics.cohen_kappa_score does), for ordered scales such as 1-5.
- `fleiss_kappa(items)`: any number of raters, the same number of ratings on every item.
- `krippendorff_alpha(units, level="nominal" | "ordinal" | "interval")`: any number of raters,
  missing ratings allowed (a unit is the list of its ratings, None for a rater who gave none);
  units with fewer than two ratings are not pairable and left out.
- `percent_agreement(units)`: the share of pairs of ratings of the same item that are equal.
- `on_scale(value, low, high, allowed)`: an LLM judge's 0-100 score put on a reviewer's scale, so
  that the judge and people can be compared as two raters.

Each answers an `Agreement`: the coefficient, the observed agreement (the share of agreeing pairs),
n (items used), and when the coefficient cannot be computed, None with the reason (fewer than two
items, a single category: chance agreement is then 1 and kappa is 0/0) - never a division by zero.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Hashable, Sequence

LEVELS = ("nominal", "ordinal", "interval")
WEIGHTS = (None, "linear", "quadratic")

# Reasons, as keys a surface can translate.
TOO_FEW = "too_few_items"
ONE_CATEGORY = "one_category"
UNEQUAL_RATERS = "unequal_raters"
TOO_FEW_RATERS = "too_few_raters"


@dataclass(frozen=True)
class Agreement:
    value: float | None  # kappa or alpha; None when it cannot be computed (see reason)
    observed: float | None  # share of agreeing pairs of ratings
    n: int  # items (units) used
    reason: str | None = None


def _none(n: int, reason: str, observed: float | None = None) -> Agreement:
    return Agreement(None, observed, n, reason)


def cohen_kappa(a: Sequence[Hashable | None], b: Sequence[Hashable | None], *, weights: str | None = None,
                categories: Sequence[Hashable] | None = None) -> Agreement:
    """Cohen's kappa of two raters over the items both scored. `categories` in their order (default:
    the values seen, sorted) fix the ranks weighted kappa measures distances by."""
    if weights not in WEIGHTS:
        raise ValueError(f"weights: one of {WEIGHTS}")
    if len(a) != len(b):
        raise ValueError("the two raters' lists must be as long as each other (None for an item not scored)")
    pairs = [(x, y) for x, y in zip(a, b) if x is not None and y is not None]
    n = len(pairs)
    if n < 2:
        return _none(n, TOO_FEW)
    observed = sum(x == y for x, y in pairs) / n
    labels = list(categories) if categories is not None else sorted({v for p in pairs for v in p})
    rank = {v: i for i, v in enumerate(labels)}
    if any(x not in rank or y not in rank for x, y in pairs):
        raise ValueError("a rating is not one of the categories given")
    k = len(labels)
    if k < 2:
        return _none(n, ONE_CATEGORY, observed)
    counts = Counter((rank[x], rank[y]) for x, y in pairs)
    rows, cols = Counter(rank[x] for x, _ in pairs), Counter(rank[y] for _, y in pairs)

    def w(i: int, j: int) -> float:
        if weights is None:
            return 0.0 if i == j else 1.0
        d = abs(i - j) / (k - 1)
        return d if weights == "linear" else d * d

    seen = sum(w(i, j) * c for (i, j), c in counts.items()) / n
    chance = sum(w(i, j) * rows[i] * cols[j] for i in rows for j in cols) / (n * n)
    if chance == 0:
        return _none(n, ONE_CATEGORY, observed)
    return Agreement(1 - seen / chance, observed, n)


def fleiss_kappa(items: Sequence[Sequence[Hashable | None]]) -> Agreement:
    """Fleiss' kappa: each item the list of its ratings (None left out), the same count on every item."""
    rated = [[r for r in item if r is not None] for item in items]
    rated = [r for r in rated if r]
    n = len(rated)
    if n < 2:
        return _none(n, TOO_FEW)
    m = len(rated[0])
    if any(len(r) != m for r in rated):
        return _none(n, UNEQUAL_RATERS)
    if m < 2:
        return _none(n, TOO_FEW_RATERS)
    per_item = [Counter(r) for r in rated]
    p_bar = sum((sum(c * c for c in counts.values()) - m) / (m * (m - 1)) for counts in per_item) / n
    totals: Counter = Counter()
    for counts in per_item:
        totals.update(counts)
    chance = sum((c / (n * m)) ** 2 for c in totals.values())
    if chance >= 1:
        return _none(n, ONE_CATEGORY, p_bar)
    return Agreement((p_bar - chance) / (1 - chance), p_bar, n)


def _coincidences(units: Sequence[Sequence[Hashable | None]]) -> tuple[dict, int]:
    """Krippendorff's coincidence matrix {(c, k): o_ck} over pairable units, and their count."""
    o: Counter = Counter()
    used = 0
    for unit in units:
        values = [v for v in unit if v is not None]
        m = len(values)
        if m < 2:
            continue
        used += 1
        counts = Counter(values)
        for c, nc in counts.items():
            for k, nk in counts.items():
                o[(c, k)] += (nc * (nc - 1) if c == k else nc * nk) / (m - 1)
    return o, used


def krippendorff_alpha(units: Sequence[Sequence[Hashable | None]], *, level: str = "nominal") -> Agreement:
    """Krippendorff's alpha: each unit (item) the list of its ratings, None where a rater gave none.
    Ordinal and interval levels need values that order (numbers, or ranks of ordered labels)."""
    if level not in LEVELS:
        raise ValueError(f"level: one of {LEVELS}")
    o, used = _coincidences(units)
    if used < 2:
        return _none(used, TOO_FEW)
    n_c: Counter = Counter()
    for (c, _), v in o.items():
        n_c[c] += v
    total = sum(n_c.values())
    observed = sum(v for (c, k), v in o.items() if c == k) / total
    values = sorted(n_c)
    if len(values) < 2:
        return _none(used, ONE_CATEGORY, observed)
    delta = _distance(level, values, n_c)
    d_o = sum(v * delta(c, k) for (c, k), v in o.items())
    d_e = sum(n_c[c] * n_c[k] * delta(c, k) for c in values for k in values) / (total - 1)
    if d_e == 0:
        return _none(used, ONE_CATEGORY, observed)
    return Agreement(1 - d_o / d_e, observed, used)


def _distance(level: str, values: list, n_c: Counter):  # noqa: ANN202
    if level == "nominal":
        return lambda c, k: 0.0 if c == k else 1.0
    if level == "interval":
        return lambda c, k: float(c - k) ** 2
    rank = {v: i for i, v in enumerate(values)}
    cumulative = [0.0]
    for v in values:
        cumulative.append(cumulative[-1] + n_c[v])

    def ordinal(c: Hashable, k: Hashable) -> float:
        lo, hi = sorted((rank[c], rank[k]))
        between = cumulative[hi + 1] - cumulative[lo]  # n_g for g from c to k, both included
        return (between - (n_c[c] + n_c[k]) / 2) ** 2

    return ordinal


def percent_agreement(units: Sequence[Sequence[Hashable | None]]) -> Agreement:
    """The share of pairs of ratings of the same item that agree (pairs within each item with at
    least two ratings, each item weighted by its pairs)."""
    agree = pairs = used = 0
    for unit in units:
        values = [v for v in unit if v is not None]
        if len(values) < 2:
            continue
        used += 1
        counts = Counter(values)
        agree += sum(c * (c - 1) // 2 for c in counts.values())
        pairs += len(values) * (len(values) - 1) // 2
    if not pairs:
        return _none(used, TOO_FEW)
    return Agreement(agree / pairs, agree / pairs, used)


def on_scale(value: float, low: float, high: float, allowed: Sequence[float] | None = None) -> float:
    """A 0-100 score (an LLM judge's, domain/judges.py) on a reviewer's scale low-high: linearly, then
    the nearest of `allowed` when reviewers answer from a set (1-5, yes / no, categories; a tie goes to
    the lower value)."""
    x = low + (high - low) * value / 100
    if allowed:
        return min(allowed, key=lambda a: (abs(a - x), a))
    return x
