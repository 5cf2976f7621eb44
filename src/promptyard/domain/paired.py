"""Paired comparison of two evaluation runs on the same dataset version (issue 16), one score at a time.

Each dataset item scored in both runs gives a pair (baseline, candidate) and a difference
candidate - baseline. For those differences: n, the mean difference, the paired-t 95% interval and
p-value (identical to scipy.stats.ttest_rel), and a percentile bootstrap 95% interval (BOOTSTRAP_RESAMPLES
resamples of the items, a fixed seed: the same data always gives the same interval).

Shown by default, and used by the gate: the **paired t interval**. It is exact arithmetic on the data
(no resampling noise, so a gate decision can be reproduced), it is what ttest_rel reports, and the
simulations in tests/test_eval_stats.py find its coverage at 95% for continuous scores from n = 10 and
for pass/fail scores from n of about 30. The percentile bootstrap is shown beside it as a check that
needs no normality: it undercovers at small n (its spread is the plug-in n-denominator one and its
quantiles are normal, not t, ones), which is why it is not the default.

Items scored in only one of the two runs (the scorer failed, the item failed) are left out and counted.
"""

from __future__ import annotations

import math
import random
from collections.abc import Hashable, Mapping
from dataclasses import dataclass

from promptyard.domain.stats import ALPHA, t_ppf, t_two_sided

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20261202
SHOWN = "t"  # which interval surfaces show first and the gate uses: "t" (see above)


@dataclass(frozen=True)
class ItemDiff:
    key: Hashable  # the dataset item
    base: float
    candidate: float

    @property
    def diff(self) -> float:
        return self.candidate - self.base


@dataclass(frozen=True)
class Paired:
    n: int
    base_mean: float | None
    candidate_mean: float | None
    mean_diff: float | None
    sd_diff: float | None
    t_low: float | None  # the paired t 95% interval of the mean difference
    t_high: float | None
    p: float | None  # two-sided paired t-test
    boot_low: float | None  # the percentile bootstrap 95% interval
    boot_high: float | None
    only_base: int  # items scored in the baseline run only
    only_candidate: int
    items: tuple[ItemDiff, ...]  # worst first: the largest drop from baseline to candidate first

    @property
    def low(self) -> float | None:
        """The shown interval's lower bound (SHOWN)."""
        return self.t_low

    @property
    def high(self) -> float | None:
        return self.t_high


def t_interval(diffs: list[float]) -> tuple[float | None, float | None, float | None, float | None]:
    """Mean, sd and the 95% paired-t interval of the differences (sd and interval None below n = 2)."""
    n = len(diffs)
    if n == 0:
        return None, None, None, None
    mean = math.fsum(diffs) / n
    if n < 2:
        return mean, None, None, None
    sd = math.sqrt(math.fsum((d - mean) ** 2 for d in diffs) / (n - 1))
    half = t_ppf(1 - ALPHA / 2, n - 1) * sd / math.sqrt(n)
    return mean, sd, mean - half, mean + half


def t_test_p(mean: float, sd: float, n: int) -> float:
    """Two-sided p of the paired t-test (sd = 0: 1 when every difference is 0, else 0)."""
    if sd == 0:
        return 1.0 if mean == 0 else 0.0
    return t_two_sided(mean / (sd / math.sqrt(n)), n - 1)


def _quantile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between order statistics (numpy's default)."""
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def bootstrap_interval(diffs: list[float], resamples: int = BOOTSTRAP_RESAMPLES,
                       seed: int = BOOTSTRAP_SEED) -> tuple[float | None, float | None]:
    """Percentile bootstrap 95% interval of the mean of `diffs` (None below n = 2)."""
    n = len(diffs)
    if n < 2:
        return None, None
    rng = random.Random(seed)
    means = sorted(sum(rng.choices(diffs, k=n)) / n for _ in range(resamples))
    return _quantile(means, ALPHA / 2), _quantile(means, 1 - ALPHA / 2)


def compare(base: Mapping[Hashable, float], candidate: Mapping[Hashable, float], *,
            resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> Paired:
    """The paired comparison of one score: item -> value in the baseline run and in the candidate run."""
    common = [k for k in base if k in candidate]
    items = sorted((ItemDiff(k, float(base[k]), float(candidate[k])) for k in common),
                   key=lambda it: (it.diff, str(it.key)))
    diffs = [it.diff for it in items]
    n = len(diffs)
    mean, sd, low, high = t_interval(diffs)
    p = t_test_p(mean, sd, n) if sd is not None else None
    boot_low, boot_high = bootstrap_interval(diffs, resamples, seed)
    return Paired(
        n=n,
        base_mean=math.fsum(it.base for it in items) / n if n else None,
        candidate_mean=math.fsum(it.candidate for it in items) / n if n else None,
        mean_diff=mean, sd_diff=sd, t_low=low, t_high=high, p=p, boot_low=boot_low, boot_high=boot_high,
        only_base=len(base) - n, only_candidate=len(candidate) - n, items=tuple(items),
    )


MIN_GATE_ITEMS = 2


def not_worse(result: Paired, max_drop: float) -> tuple[bool, str | None]:
    """The gate's rule: the candidate is not worse than the baseline by more than `max_drop` points, by the
    shown interval's lower bound. (passed, None) or (False, the catalogue key saying why)."""
    if result.n < MIN_GATE_ITEMS or result.low is None:
        return False, "errors.gates.too_few_items"
    if result.low < -max_drop:
        return False, "errors.gates.worse"
    return True, None
