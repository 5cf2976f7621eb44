"""Statistics of typed scores (issue 17), beside the means of domain/stats.py:

- pass/fail scores (stored 100/0) are proportions: `wilson` (the 95% Wilson score interval of a
  pass rate, as statsmodels' proportion_confint(method="wilson")) and `two_proportions` (the
  difference of two pass rates with its Wald interval and the pooled two-proportion z-test, as
  statsmodels' confint_proportions_2indep(method="wald") and proportions_ztest);
- categorical scores are ordinal: `ordinal` (n, median, the count of each value) and
  `mann_whitney` (the rank-sum test of two groups, from their value counts, with the tie correction
  and the continuity correction of scipy.stats.mannwhitneyu(method="asymptotic"), and the
  probability that a score of the second group is above one of the first, ties counting half).

Every function answers None where its figure is undefined (no values, one group empty, every
value tied) rather than divide by zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

from promptyard.domain.stats import ALPHA, norm_ppf, norm_two_sided

PASS = 100.0


def passes(n: int, total: float) -> int:
    """How many of n pass/fail scores passed, from their sum (each 100 or 0)."""
    return int(round(total / PASS)) if n else 0


@dataclass(frozen=True)
class Proportion:
    n: int
    successes: int
    rate: float | None
    ci_low: float | None
    ci_high: float | None


def wilson(successes: int, n: int, alpha: float = ALPHA) -> Proportion:
    if n <= 0:
        return Proportion(0, 0, None, None, None)
    z = norm_ppf(1 - alpha / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return Proportion(n, successes, p, max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class ProportionDiff:
    diff: float  # second rate minus first
    ci_low: float
    ci_high: float
    z: float | None
    p: float | None  # two-sided, pooled z-test; None when every score is the same (no variance)


def two_proportions(x1: int, n1: int, x2: int, n2: int, alpha: float = ALPHA) -> ProportionDiff | None:
    if n1 <= 0 or n2 <= 0:
        return None
    p1, p2 = x1 / n1, x2 / n2
    diff = p2 - p1
    half = norm_ppf(1 - alpha / 2) * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    pooled = (x1 + x2) / (n1 + n2)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z = diff / se0 if se0 > 0 else None
    return ProportionDiff(diff, diff - half, diff + half, z, None if z is None else norm_two_sided(z))


@dataclass(frozen=True)
class Ordinal:
    n: int
    median: float | None  # the value at which half the scores are at or below (the lower median)
    counts: dict[float, int]  # value -> scores, in order


def ordinal(counts: Mapping[float, int]) -> Ordinal:
    ordered = {v: c for v, c in sorted(counts.items()) if c > 0}
    n = sum(ordered.values())
    if not n:
        return Ordinal(0, None, {})
    seen = 0
    for value, c in ordered.items():
        seen += c
        if 2 * seen >= n:
            return Ordinal(n, value, ordered)
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class RankTest:
    u: float  # Mann-Whitney U of the first group
    p: float | None  # two-sided, normal approximation; None when every score is tied
    superiority: float  # P(second > first) + P(tie) / 2
    n1: int
    n2: int


def mann_whitney(first: Mapping[float, int], second: Mapping[float, int]) -> RankTest | None:
    n1, n2 = sum(first.values()), sum(second.values())
    if not n1 or not n2:
        return None
    values = sorted(set(first) | set(second))
    rank_sum, below, ties = 0.0, 0, 0.0
    for v in values:
        t = first.get(v, 0) + second.get(v, 0)
        mid = below + (t + 1) / 2  # the tied values' average rank
        rank_sum += first.get(v, 0) * mid
        ties += t ** 3 - t
        below += t
    n = n1 + n2
    u1 = rank_sum - n1 * (n1 + 1) / 2
    mean = n1 * n2 / 2
    var = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))) if n > 1 else 0.0
    p = None
    if var > 0:
        u = max(u1, n1 * n2 - u1)
        z = (u - mean - 0.5) / math.sqrt(var)  # continuity correction
        p = min(1.0, norm_two_sided(z))
    return RankTest(u1, p, 1 - u1 / (n1 * n2), n1, n2)
