"""Issue 17, statistics of typed scores (domain/score_stats.py) on fixed data: pass rates with the
Wilson interval and the two-proportion test against statsmodels, the ordinal summary by hand, and
Mann-Whitney from value counts against scipy (ties included)."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from scipy.stats import mannwhitneyu
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint, proportions_ztest

from promptyard.domain import score_stats as ss

pytestmark = pytest.mark.one_database


@pytest.mark.parametrize("x,n", [(0, 10), (3, 10), (10, 10), (47, 120), (999, 1000), (1, 1)])
def test_wilson_matches_statsmodels(x, n):  # noqa: ANN001
    got = ss.wilson(x, n)
    low, high = proportion_confint(x, n, alpha=0.05, method="wilson")
    assert (got.ci_low, got.ci_high) == (pytest.approx(low, abs=1e-9), pytest.approx(high, abs=1e-9))
    assert got.rate == x / n and ss.wilson(0, 0).rate is None


@pytest.mark.parametrize("x1,n1,x2,n2", [(30, 100, 45, 100), (12, 40, 5, 38), (200, 1000, 230, 1100)])
def test_two_proportions_match_statsmodels(x1, n1, x2, n2):  # noqa: ANN001
    got = ss.two_proportions(x1, n1, x2, n2)
    low, high = confint_proportions_2indep(x2, n2, x1, n1, method="wald", compare="diff")
    z, p = proportions_ztest([x2, x1], [n2, n1])
    assert got.diff == pytest.approx(x2 / n2 - x1 / n1)
    assert (got.ci_low, got.ci_high) == (pytest.approx(low, abs=1e-9), pytest.approx(high, abs=1e-9))
    assert got.z == pytest.approx(z, abs=1e-9) and got.p == pytest.approx(p, abs=1e-9)


def test_two_proportions_edge_cases():
    assert ss.two_proportions(0, 0, 1, 2) is None
    same = ss.two_proportions(10, 10, 5, 5)  # every score passed: no variance, no test
    assert same.diff == 0 and same.p is None
    assert ss.passes(4, 300.0) == 3


def test_ordinal_summary_by_hand():
    got = ss.ordinal({3: 2, 1: 1, 5: 1, 2: 0})
    assert (got.n, got.median, list(got.counts.items())) == (4, 3, [(1, 1), (3, 2), (5, 1)])
    assert ss.ordinal({1: 2, 4: 2}).median == 1  # the lower median: a category, never 2.5
    assert ss.ordinal({}).median is None


def test_mann_whitney_matches_scipy_with_ties():
    rng = random.Random(5)
    for _ in range(40):
        a = [rng.randint(1, 5) for _ in range(rng.randint(3, 60))]
        b = [min(5, rng.randint(1, 5) + rng.randint(0, 1)) for _ in range(rng.randint(3, 60))]
        got = ss.mann_whitney(Counter(a), Counter(b))
        ref = mannwhitneyu(a, b, alternative="two-sided", method="asymptotic", use_continuity=True)
        assert got.u == pytest.approx(ref.statistic) and got.p == pytest.approx(ref.pvalue, abs=1e-9)
        pairs = [(x, y) for x in a for y in b]
        assert got.superiority == pytest.approx((sum(y > x for x, y in pairs) + sum(y == x for x, y in pairs) / 2)
                                                / len(pairs))
    assert ss.mann_whitney({3: 4}, {3: 5}).p is None  # every score tied
    assert ss.mann_whitney({}, {3: 1}) is None
