"""domain/paired.py, the paired comparison of two evaluation runs: checked against scipy.stats (ttest_rel and
bootstrap on fixed data) and by simulation (95% interval coverage under H0 and a shifted alternative)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from scipy import stats as sp

from promptyard.domain import paired


def pairs(seed: int, n: int, shift: float, kind: str = "normal") -> tuple[dict, dict]:
    """n items with a baseline score and a candidate score `shift` points better on average."""
    rng = random.Random(seed)
    base, cand = {}, {}
    for i in range(n):
        if kind == "normal":
            quality = rng.uniform(30, 90)
            base[i] = quality + rng.gauss(0, 8)
            cand[i] = quality + shift + rng.gauss(0, 8)
        elif kind == "passfail":
            p = rng.uniform(0.2, 0.8)
            base[i] = 100.0 * (rng.random() < p)
            cand[i] = 100.0 * (rng.random() < min(1.0, p + shift / 100))
        else:  # judge scores 1-5 mapped to 0-100
            level = rng.choice([1, 2, 3, 4, 5])
            base[i] = 25.0 * (min(5, max(1, level + rng.choice([-1, 0, 0, 1]))) - 1)
            cand[i] = 25.0 * (min(5, max(1, level + rng.choice([-1, 0, 0, 1]) + (shift > 0))) - 1)
    return base, cand


FIXED = [("normal", pairs(1, 40, 2.0)), ("pass/fail", pairs(2, 60, 10.0, "passfail")),
         ("judge 1-5", pairs(3, 25, 1.0, "judge")), ("n = 3", ({1: 10.0, 2: 20.0, 3: 35.0}, {1: 12.0, 2: 19.0, 3: 40.0})),
         ("large", pairs(4, 3000, -0.3))]


@pytest.mark.parametrize("name,data", FIXED, ids=[f[0] for f in FIXED])
def test_paired_t_matches_scipy_ttest_rel(name, data):
    base, cand = data
    got = paired.compare(base, cand)
    keys = sorted(base)
    b, c = np.array([base[k] for k in keys]), np.array([cand[k] for k in keys])
    want = sp.ttest_rel(c, b)
    ci = want.confidence_interval(0.95)
    assert got.n == len(keys)
    assert math.isclose(got.mean_diff, float(np.mean(c - b)), rel_tol=1e-9, abs_tol=1e-12)
    assert math.isclose(got.sd_diff, float(np.std(c - b, ddof=1)), rel_tol=1e-9)
    assert math.isclose(got.p, float(want.pvalue), rel_tol=1e-6, abs_tol=1e-300)
    assert math.isclose(got.t_low, float(ci.low), rel_tol=1e-6, abs_tol=1e-9)
    assert math.isclose(got.t_high, float(ci.high), rel_tol=1e-6, abs_tol=1e-9)
    assert (got.low, got.high) == (got.t_low, got.t_high)  # the paired t interval is the one shown
    assert math.isclose(got.base_mean, float(b.mean())) and math.isclose(got.candidate_mean, float(c.mean()))


@pytest.mark.parametrize("name,data", FIXED[:3], ids=[f[0] for f in FIXED[:3]])
def test_bootstrap_interval_agrees_with_scipy_bootstrap(name, data):
    base, cand = data
    keys = sorted(base)
    diffs = np.array([cand[k] - base[k] for k in keys])
    got = paired.compare(base, cand, resamples=10_000)
    want = sp.bootstrap((diffs,), np.mean, n_resamples=10_000, method="percentile", confidence_level=0.95,
                        random_state=np.random.default_rng(7)).confidence_interval
    # Two Monte Carlo estimates of the same quantiles: they agree to a small share of the mean's standard
    # error, plus one step of the lattice the resampled means live on when the scores are discrete.
    gaps = np.diff(np.unique(diffs))
    lattice = float(gaps.min()) / len(diffs) if name != "normal" else 0.0
    tol = 0.15 * diffs.std(ddof=1) / math.sqrt(len(diffs)) + lattice
    assert abs(got.boot_low - want.low) < tol and abs(got.boot_high - want.high) < tol
    # the bootstrap of the mean sits around the t interval, narrower at small n (plug-in spread, normal quantiles)
    assert got.boot_low < got.mean_diff < got.boot_high


def test_bootstrap_is_reproducible_and_seeded():
    base, cand = pairs(5, 50, 1.0)
    one, two = paired.compare(base, cand), paired.compare(base, cand)
    assert (one.boot_low, one.boot_high) == (two.boot_low, two.boot_high)
    other = paired.compare(base, cand, seed=1)
    assert (other.boot_low, other.boot_high) != (one.boot_low, one.boot_high)


def test_items_worst_first_and_unpaired_items_counted():
    base = {"a": 80.0, "b": 50.0, "c": 90.0, "d": 70.0, "only-base": 10.0}
    cand = {"a": 85.0, "b": 20.0, "c": 60.0, "d": 70.0, "only-cand": 99.0, "x": 1.0}
    got = paired.compare(base, cand)
    assert [it.key for it in got.items] == ["b", "c", "d", "a"]
    assert [it.diff for it in got.items] == [-30.0, -30.0, 0.0, 5.0]
    assert (got.n, got.only_base, got.only_candidate) == (4, 1, 2)


def test_degenerate_inputs():
    empty = paired.compare({}, {})
    assert empty.n == 0 and empty.mean_diff is None and empty.low is None and empty.p is None
    one = paired.compare({1: 50.0}, {1: 70.0})
    assert one.n == 1 and one.mean_diff == 20.0 and one.low is None and one.boot_low is None
    same = paired.compare({1: 50.0, 2: 60.0}, {1: 55.0, 2: 65.0})  # every difference 5: no spread
    assert (same.t_low, same.t_high, same.p) == (5.0, 5.0, 0.0)
    equal = paired.compare({1: 50.0, 2: 60.0}, {1: 50.0, 2: 60.0})
    assert (equal.mean_diff, equal.p) == (0.0, 1.0)


def test_gate_rule_uses_the_lower_bound():
    base, cand = pairs(6, 80, 0.0)
    result = paired.compare(base, cand)
    assert result.low < 0 < result.high
    assert paired.not_worse(result, max_drop=-result.low + 0.01) == (True, None)
    assert paired.not_worse(result, max_drop=-result.low - 0.01) == (False, "errors.gates.worse")
    assert paired.not_worse(paired.compare({1: 1.0}, {1: 2.0}), 5) == (False, "errors.gates.too_few_items")


def coverage(kind: str, n: int, shift: float, truth: float, reps: int, resamples: int) -> tuple[float, float]:
    t_hits = boot_hits = 0
    for rep in range(reps):
        base, cand = pairs(10_000 + rep, n, shift, kind)
        got = paired.compare(base, cand, resamples=resamples, seed=rep)
        t_hits += got.t_low <= truth <= got.t_high
        boot_hits += got.boot_low <= truth <= got.boot_high
    return t_hits / reps, boot_hits / reps


@pytest.mark.slow
@pytest.mark.parametrize("kind,n,shift,truth", [("normal", 20, 0.0, 0.0), ("normal", 20, 3.0, 3.0),
                                                ("passfail", 60, 0.0, 0.0)])
def test_interval_coverage_by_simulation(kind, n, shift, truth):
    reps = 400
    t_cov, boot_cov = coverage(kind, n, shift, truth, reps, resamples=400)
    se = math.sqrt(0.95 * 0.05 / reps)  # ~0.011
    assert abs(t_cov - 0.95) < 3 * se, t_cov
    assert 0.95 - 5 * se < boot_cov < 0.95 + 3 * se, boot_cov  # the percentile bootstrap runs a little short


@pytest.mark.slow
def test_power_under_a_shifted_alternative():
    """A real 5-point improvement is found (interval above 0) as often as the noncentral t says it should."""
    reps, found, n, shift = 300, 0, 40, 5.0
    for rep in range(reps):
        base, cand = pairs(50_000 + rep, n, shift)
        found += paired.compare(base, cand, resamples=10).t_low > 0
    sd = 8 * math.sqrt(2)  # of a difference: two independent N(0, 8) noises
    crit = sp.t.ppf(0.975, n - 1)
    power = float(sp.nct.sf(crit, n - 1, shift / (sd / math.sqrt(n))))  # ~0.78
    assert abs(found / reps - power) < 3 * math.sqrt(power * (1 - power) / reps), (found / reps, power)
