"""Statistics for comparing prompt versions, checked against scipy/numpy (tests only) to 1e-6
relative, plus the edge cases an experiment view meets (no variance, one sample, 0% and 100%)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from scipy import special
from scipy import stats as sp

from promptyard.domain import stats
from promptyard.domain.stats import Comparison, percentile, summary, two_proportions, verdict, welch
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


# --- summary and Welch ----------------------------------------------------------------------

@pytest.mark.parametrize(("name", "a", "b"), DATASETS, ids=[d[0] for d in DATASETS])
def test_summary_matches_scipy_t_interval(name, a, b):
    for values in (a, b):
        s = summary(values)
        mean, sd = np.mean(values), np.std(values, ddof=1)
        assert s.n == len(values) and close(s.mean, mean, 1e-12)
        assert math.isclose(s.sd, sd, rel_tol=1e-9, abs_tol=1e-12)
        if sd == 0:
            assert s.ci_low == s.ci_high == s.mean
            continue
        low, high = sp.t.interval(0.95, len(values) - 1, loc=mean, scale=sd / math.sqrt(len(values)))
        assert close(s.ci_low, low) and close(s.ci_high, high)


@pytest.mark.filterwarnings("ignore:Precision loss occurred")  # scipy, on the constant sample
@pytest.mark.parametrize(("name", "a", "b"), DATASETS, ids=[d[0] for d in DATASETS])
def test_welch_matches_scipy(name, a, b):
    got = welch(a, b)
    ref = sp.ttest_ind(b, a, equal_var=False)  # b - a, like our diff
    ci = ref.confidence_interval(0.95)
    assert got.test == "welch_t"
    assert close(got.diff, math.fsum(b) / len(b) - math.fsum(a) / len(a), 1e-9)
    assert close(got.p_value, ref.pvalue) and close(got.df, ref.df)
    assert close(got.ci_low, ci.low) and close(got.ci_high, ci.high)


def test_welch_keeps_its_digits_on_a_large_offset():
    # x - 1e9 is exact here, so scipy on the shifted data is the reference (scipy itself loses
    # about six digits on the unshifted data).
    got = welch(OFFSET_A, OFFSET_B)
    ref = sp.ttest_ind([x - 1e9 for x in OFFSET_B], [x - 1e9 for x in OFFSET_A], equal_var=False)
    assert close(got.p_value, ref.pvalue, 1e-9) and close(got.df, ref.df, 1e-9)


def test_welch_edge_cases_never_divide_by_zero():
    same = welch([5.0, 5.0, 5.0], [5.0, 5.0])
    assert same == Comparison(0.0, 0.0, 0.0, 1.0, None, "welch_t")
    apart = welch([0.0, 0.0, 0.0], [100.0, 100.0])
    assert (apart.diff, apart.ci_low, apart.ci_high, apart.p_value) == (100.0, 100.0, 100.0, 0.0)
    identical = welch([1.0, 2.0, 4.0, 8.0], [1.0, 2.0, 4.0, 8.0])
    assert identical.diff == 0.0 and identical.p_value == pytest.approx(1.0)
    assert identical.ci_low < 0 < identical.ci_high
    assert welch([1.0], [2.0, 3.0]) is None and welch([], []) is None
    tiny = welch([1e-160, 2e-160, 3e-160], [1e-160, 2e-160, 4e-160])  # variances underflow when squared
    assert 0 < tiny.p_value <= 1 and math.isfinite(tiny.df)


def test_summary_small_and_bad_inputs():
    assert summary([]) == stats.Summary(0, None, None, None, None)
    assert summary([7.5]) == stats.Summary(1, 7.5, None, None, None)
    with pytest.raises(InvalidInput, match="finite"):
        summary([1.0, float("nan")])


# --- two proportions ------------------------------------------------------------------------

@pytest.mark.parametrize(("sa", "na", "sb", "nb"), [
    (45, 100, 60, 100), (120, 400, 100, 380), (3, 50, 9, 48), (1, 1000, 0, 1000), (999, 1000, 1000, 1000),
    (30, 31, 12, 40), (500, 10_000, 560, 10_000),
])
def test_two_proportions_match_a_scipy_z_test(sa, na, sb, nb):
    got = two_proportions(sa, na, sb, nb)
    pa, pb = sa / na, sb / nb
    pool = (sa + sb) / (na + nb)
    z = (pb - pa) / math.sqrt(pool * (1 - pool) * (1 / na + 1 / nb))
    half = sp.norm.ppf(0.975) * math.sqrt(pa * (1 - pa) / na + pb * (1 - pb) / nb)
    assert got.test == "two_proportion_z" and got.df is None
    assert close(got.diff, pb - pa, 1e-12)
    assert close(got.p_value, 2 * sp.norm.sf(abs(z)))
    assert close(got.ci_low, pb - pa - half) and close(got.ci_high, pb - pa + half)


def test_two_proportions_edges():
    assert two_proportions(0, 50, 0, 60).p_value == 1.0  # nobody succeeds anywhere
    assert two_proportions(50, 50, 60, 60).p_value == 1.0
    split = two_proportions(0, 50, 50, 50)
    assert split.diff == 1.0 and split.p_value < 1e-20 and split.ci_low == split.ci_high == 1.0
    assert two_proportions(0, 0, 5, 10) is None
    for args in ((6, 5, 1, 2), (-1, 5, 1, 2), (1.5, 5, 1, 2), (True, 5, 1, 2)):
        with pytest.raises(InvalidInput):
            two_proportions(*args)


# --- percentile -----------------------------------------------------------------------------

@pytest.mark.parametrize("values", [[3.0], [1.0, 2.0], sorted(normal_sample(13, 101, 200, 50)),
                                    sorted(normal_sample(14, 7, 0, 1)), [0.1, 0.1, 0.2, 0.7]])
def test_percentile_matches_numpy(values):
    for q in (0, 1, 12.3456, 25, 50, 66.6, 87.6543, 90, 95, 99, 100):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)), rel=1e-12, abs=1e-15)


def test_percentile_rejects_nonsense():
    for values, q in (([], 50), ([1.0], 101), ([1.0], -1)):
        with pytest.raises(InvalidInput):
            percentile(values, q)


# --- verdicts -------------------------------------------------------------------------------

def cmp(diff: float, half: float, p: float) -> Comparison:
    return Comparison(diff, diff - half, diff + half, p, None, "welch_t")


def test_verdict_texts():
    assert verdict("medically_correct", "v3", "v5", cmp(6.1, 2.3, 0.003), 40, 41) == stats.Verdict(
        "better", "v5 is better on medically_correct by 6.1 ± 2.3 points (p = 0.003)")
    assert verdict("medically_correct", "v3", "v5", cmp(1.2, 3.0, 0.41), 40, 41) == stats.Verdict(
        "no_difference", "no significant difference on medically_correct between v3 and v5 (p = 0.41)")
    assert verdict("medically_correct", "v3", "v5", cmp(9.0, 1.0, 0.0), 12, 8) == stats.Verdict(
        "too_few", "too few samples to tell (v3: 12, v5: 8; need 30 each)")
    assert verdict("accuracy", "v1", "v2", cmp(-4.0, 1.5, 1e-7), 100, 100).text == \
        "v2 is worse on accuracy by 4.0 ± 1.5 points (p < 0.001)"


def test_verdict_direction_units_and_precision():
    errors = verdict("error_rate", "v1", "v2", cmp(2.1, 0.8, 0.01), 500, 500, higher_is_better=False,
                     unit="percentage points")
    assert errors == stats.Verdict("worse", "v2 is worse on error_rate by 2.1 ± 0.8 percentage points (p = 0.01)")
    assert verdict("latency", "v1", "v2", cmp(-30.0, 10.0, 0.02), 50, 50, higher_is_better=False).kind == "better"
    small = verdict("f1", "v1", "v2", cmp(0.031, 0.023, 0.008), 50, 50)
    assert small.text == "v2 is better on f1 by 0.031 ± 0.023 points (p = 0.008)"
    # p just under alpha must not print as 0.05 next to a "significant" verdict
    assert verdict("f1", "v1", "v2", cmp(1.0, 0.9, 0.0496), 50, 50).text.endswith("(p = 0.0496)")
    assert verdict("f1", "v1", "v2", None, 50, 50).kind == "too_few"
    assert verdict("f1", "v1", "v2", cmp(1.0, 0.5, 0.01), 5, 5, min_n=5).kind == "better"


def test_verdict_end_to_end_from_welch():
    a = normal_sample(21, 60, 70, 8)
    b = normal_sample(22, 60, 78, 8)
    v = verdict("medically_correct", "v3", "v5", welch(a, b), len(a), len(b))
    assert v.kind == "better" and v.text.startswith("v5 is better on medically_correct by ")
    flat = verdict("medically_correct", "v3", "v5", welch(a, a), len(a), len(a))
    assert flat.kind == "no_difference" and flat.text.endswith("(p = 1)")
