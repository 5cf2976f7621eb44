"""domain/stats.py checked against scipy/numpy (tests only) to 1e-6 relative, and the rounding
every surface prints numbers with."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from scipy import special
from scipy import stats as sp

from promptyard.domain import stats
from promptyard.errors import InvalidInput

REL = 1e-6


def close(got: float, want: float, rel: float = REL) -> bool:
    return math.isclose(got, want, rel_tol=rel, abs_tol=1e-300)


def normal_sample(seed: int, n: int, mu: float, sigma: float) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(mu, sigma) for _ in range(n)]


DATASETS = [
    ("small unequal variances", normal_sample(1, 12, 70, 5), normal_sample(2, 9, 76, 15)),
    ("medium", normal_sample(3, 40, 0.62, 0.2), normal_sample(4, 55, 0.58, 0.25)),
    ("large, tiny effect", normal_sample(5, 2000, 80, 10), normal_sample(6, 1500, 80.4, 10)),
    ("strong effect", normal_sample(7, 60, 50, 3), normal_sample(8, 70, 56, 4)),
    ("scores 0..100", [float(x) for x in random.Random(9).choices([0, 25, 50, 75, 100], k=35)],
     [float(x) for x in random.Random(10).choices([50, 75, 100], k=31)]),
    ("n = 2 each", [1.0, 2.0], [3.0, 5.0]),
    ("one side constant", [4.0, 4.0, 4.0, 4.0], [1.0, 3.0, 6.0, 2.0, 5.0]),
]
OFFSET_A = [1e9 + x for x in normal_sample(11, 30, 0, 1)]
OFFSET_B = [1e9 + x for x in normal_sample(12, 30, 0.5, 1)]


# --- special functions ----------------------------------------------------------------------

@pytest.mark.parametrize("df", [0.5, 1, 2, 3, 4.7, 9, 29, 30.5, 120, 999, 1000, 1733.5, 1e4, 1e6, 5e9])
def test_t_ppf_and_tails_match_scipy(df):
    for q in (0.5001, 0.6, 0.9, 0.975, 0.995, 0.999999, 0.025, 1e-8):
        assert close(stats.t_ppf(q, df), sp.t.ppf(q, df)), q
    for t in (0.0, 0.01, 0.7, 1.96, 3.0, 12.0, -2.5):
        assert close(stats.t_two_sided(t, df), 2 * sp.t.sf(abs(t), df)), t
        assert close(stats.t_cdf(t, df), sp.t.cdf(t, df)), t


@pytest.mark.parametrize("p", [1e-300, 1e-12, 1e-4, 0.01, 0.02425, 0.2, 0.5, 0.8, 0.975, 1 - 1e-9])
def test_norm_ppf_matches_scipy(p):
    assert close(stats.norm_ppf(p), sp.norm.ppf(p), rel=1e-12) or abs(sp.norm.ppf(p)) < 1e-15


@pytest.mark.parametrize(("a", "b"), [(0.5, 0.5), (2, 3), (15, 0.5), (0.1, 40), (300, 700), (5e5, 0.5)])
def test_betainc_matches_scipy(a, b):
    for x in (1e-6, 0.05, 0.3, 0.5, 0.7, 0.999, 1 - 1e-9):
        assert close(stats.betainc(a, b, x), special.betainc(a, b, x), rel=1e-9), x
    assert stats.betainc(a, b, 0.0) == 0.0 and stats.betainc(a, b, 1.0) == 1.0


def test_special_functions_reject_impossible_arguments():
    for call in (lambda: stats.t_ppf(1.0, 5), lambda: stats.t_ppf(0.5, 0), lambda: stats.norm_ppf(0.0)):
        with pytest.raises(InvalidInput):
            call()


# --- summary from moments, and how numbers are shown ---------------------------------------------

@pytest.mark.parametrize(("name", "a", "b"), DATASETS, ids=[d[0] for d in DATASETS])
def test_summary_from_moments_matches_scipy_t_interval(name, a, b):
    for values in (a, b):
        n = len(values)
        s = stats.summary_from_moments(n, math.fsum(values) / n, math.fsum(v * v for v in values) / n)
        mean, sd = np.mean(values), np.std(values, ddof=1)
        assert s.n == n and close(s.mean, mean, 1e-12)
        assert math.isclose(s.sd, sd, rel_tol=1e-6, abs_tol=1e-6)
        if sd == 0:
            assert s.ci_low == s.ci_high == s.mean
            continue
        low, high = sp.t.interval(0.95, n - 1, loc=mean, scale=sd / math.sqrt(n))
        assert close(s.ci_low, low) and close(s.ci_high, high)


def test_summary_from_moments_small():
    assert stats.summary_from_moments(0, None, None) == stats.Summary(0, None, None, None, None)
    assert stats.summary_from_moments(1, 7.5, 56.25) == stats.Summary(1, 7.5, None, None, None)


def test_p_values_are_never_rounded_across_alpha():
    assert [stats.p_shown(p) for p in (0.0004, 0.003, 0.0496, 0.045, 0.41, 0.0501, 1.0)] == [
        "< 0.001", "0.003", "0.0496", "0.045", "0.41", "0.05", "1"]
    assert (stats.p_shown(0.04999), stats.p_shown(0.0499999999)) == ("0.04999", "< 0.05")


def test_effects_are_shown_with_decimals_that_fit_their_interval():
    assert stats.shown_effect(6.1234, 2.34, 0.003) == stats.Shown(1, "6.1", "2.3", "0.003")
    assert stats.shown_effect(-0.0312, 0.0234, 0.008) == stats.Shown(3, "0.031", "0.023", "0.008")
    assert stats.shown_effect(0.0, 0.0, 1.0).places == 1
