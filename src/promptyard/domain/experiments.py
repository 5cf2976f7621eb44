"""Statistics of production experiments: randomised comparisons in the unit that was randomised,
safe to read at any time (pure, standard library only; special functions from domain/stats.py).

What this module assumes, and how each number is made:

- **Only randomised arms are compared.** Each routing rule that splits traffic between versions
  (the default split, or a segment's own split) is one *stratum*. Candidate minus baseline is
  estimated inside every stratum where both were randomised, and the strata are combined with
  weights proportional to their number of units (the average effect over the randomised traffic).
  A rule that serves one version only is never compared: it has no control group.
- **The unit is what was randomised.** With a sticky key (e.g. `user_id`) all requests of one user
  get the same version, so they are not independent. A metric is then a ratio of sums over units,
  R = sum(y_u) / sum(n_u), and its variance comes from the delta method over units (Deng, Knoblich
  & Lu 2018, "Applying the Delta Method in Metric Analytics"): cluster-robust, nominal coverage
  however many requests a unit sends. Without a sticky key every request is its own unit and this
  reduces to the usual variance of a mean. The database hands over six sums per arm and stratum
  (`UnitMoments`), never rows.
- **Always-valid inference.** The live verdict uses an asymptotic confidence sequence (the normal
  mixture boundary of Howard et al. 2021 / Waudby-Smith et al. 2023, as GrowthBook ships): its
  intervals hold simultaneously at every look, so the page may be read every hour. Its mixture
  parameter is tuned to the planned number of units. The fixed-horizon z interval and p-value are
  kept beside it for a planned analysis at a sample size fixed in advance.
- **Several metrics.** One primary metric decides; the others are guardrails. The p-values of all
  tested metrics are adjusted together by Holm's step-down method before any verdict.
- **Sample-ratio mismatch.** A chi-square test of the units each arm received against the
  configured weights, per stratum; when p < SRM_ALPHA the randomisation is broken and every verdict
  is withheld.

Numbers are returned as numbers; the `display` of a result (stats.Shown) carries the one rounding
every surface shows, so no page rounds a p = 0.045 into "p = 0.05" beside "better".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from promptyard.domain.logs import SCORE_NAME
from promptyard.domain.stats import Shown, chi2_sf, norm_ppf, norm_two_sided, p_phrase, shown_effect
from promptyard.errors import InvalidInput

ALPHA = 0.05
SRM_ALPHA = 0.001  # a mismatch this unlikely by chance means the assignment is broken
MIN_UNITS = 30  # below this per arm, the normal approximations are not trusted: "too few"
DEFAULT_PLANNED_UNITS = 1000  # tunes the confidence sequence when the experiment names no plan
POWER = 0.8
ERROR_RATE = "error_rate"  # the built-in tested metric, beside the scores (percent of requests)
MAX_HYPOTHESIS = 2000
MAX_PLANNED_UNITS = 10 ** 9


def declaration(raw: Mapping[str, object]) -> dict[str, object]:
    """What an experiment declares when it starts (or later): hypothesis, primary metric (a score
    name or error_rate), planned units (in all arms; tunes the live interval) and the smallest
    effect worth finding. Only the keys given are returned, checked."""
    allowed = ("hypothesis", "primary_metric", "planned_units", "min_effect")
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        raise InvalidInput("errors.experiments.experiment_unknown_field_allowed", unknown=unknown[0],
                           allowed=', '.join(allowed))
    out: dict[str, object] = {}
    if raw.get("hypothesis") is not None:
        text = raw["hypothesis"]
        if not isinstance(text, str) or len(text) > MAX_HYPOTHESIS or "\x00" in text:
            raise InvalidInput("errors.experiments.experiment_hypothesis_text_most", max_hypothesis=MAX_HYPOTHESIS)
        out["hypothesis"] = text.strip()
    if raw.get("primary_metric") is not None:
        metric = raw["primary_metric"]
        if not isinstance(metric, str) or not (metric == ERROR_RATE or SCORE_NAME.match(metric)):
            raise InvalidInput("errors.experiments.experiment_primary_metric_score")
        out["primary_metric"] = metric
    if raw.get("planned_units") is not None:
        units = raw["planned_units"]
        if isinstance(units, bool) or not isinstance(units, int) or not 2 <= units <= MAX_PLANNED_UNITS:
            raise InvalidInput("errors.experiments.experiment_planned_units_whole", max_planned_units=MAX_PLANNED_UNITS)
        out["planned_units"] = units
    if "min_effect" in raw:
        eff = raw["min_effect"]
        if eff is not None and (isinstance(eff, bool) or not isinstance(eff, (int, float))
                                or not math.isfinite(eff) or eff <= 0):
            raise InvalidInput("errors.experiments.experiment_min_effect_number")
        out["min_effect"] = None if eff is None else float(eff)
    return out


@dataclass(frozen=True)
class UnitMoments:
    """Sums over the units of one arm in one stratum, for one metric. y_u is the sum of the metric
    over unit u's requests that carry it, n_u their number: units = K, n = sum n_u, y = sum y_u,
    yy = sum y_u^2, nn = sum n_u^2, yn = sum y_u n_u. Without a sticky key, n_u = 1."""

    units: int
    n: float
    y: float
    yy: float
    nn: float
    yn: float

    @classmethod
    def of_units(cls, pairs: Iterable[tuple[float, float]]) -> "UnitMoments":
        """From (y_u, n_u) pairs (tests and small callers; the database sums these itself)."""
        k = n = y = yy = nn = yn = 0.0
        for yu, nu in pairs:
            k += 1
            n += nu
            y += yu
            yy += yu * yu
            nn += nu * nu
            yn += yu * nu
        return cls(int(k), n, y, yy, nn, yn)

    def __add__(self, other: "UnitMoments") -> "UnitMoments":
        return UnitMoments(self.units + other.units, self.n + other.n, self.y + other.y,
                           self.yy + other.yy, self.nn + other.nn, self.yn + other.yn)


EMPTY = UnitMoments(0, 0.0, 0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True)
class ArmEstimate:
    """Mean of the metric per request (ratio of sums) and its delta-method standard error."""

    units: int
    requests: float
    mean: float | None
    se: float | None


def estimate(m: UnitMoments) -> ArmEstimate:
    if m.units < 0 or m.n < 0 or not all(math.isfinite(v) for v in (m.n, m.y, m.yy, m.nn, m.yn)):
        raise InvalidInput("errors.experiments.unit_moments_finite_counts")
    if m.units == 0 or m.n <= 0:
        return ArmEstimate(m.units, m.n, None, None)
    ratio = m.y / m.n
    if m.units < 2:
        return ArmEstimate(m.units, m.n, ratio, None)
    k = m.units
    s_yy = (m.yy - m.y * m.y / k) / (k - 1)
    s_nn = (m.nn - m.n * m.n / k) / (k - 1)
    s_yn = (m.yn - m.y * m.n / k) / (k - 1)
    mean_n = m.n / k
    var = max(0.0, (s_yy - 2 * ratio * s_yn + ratio * ratio * s_nn) / (k * mean_n * mean_n))
    return ArmEstimate(k, m.n, ratio, math.sqrt(var))


@dataclass(frozen=True)
class Effect:
    """Candidate minus baseline over the randomised strata: the estimate and its variance, the
    units behind it, the fixed-horizon 95% interval and p, and the always-valid ones."""

    diff: float
    var: float
    units: int
    fixed_low: float
    fixed_high: float
    fixed_p: float
    seq_low: float
    seq_high: float
    seq_p: float


def rho_for(planned_units: int, alpha: float = ALPHA) -> float:
    """The mixture parameter that makes the confidence sequence narrowest at `planned_units`
    (Howard et al. 2021, eq. for the normal mixture; GrowthBook's tuning parameter)."""
    if planned_units < 1:
        raise InvalidInput("errors.experiments.planned_units_1_got", planned_units=planned_units)
    la = -2 * math.log(alpha)
    return math.sqrt((la + math.log(la + 1)) / planned_units)


def cs_radius(var: float, units: int, rho: float, alpha: float = ALPHA) -> float:
    """Half-width of the two-sided asymptotic confidence sequence after `units` units, for an
    estimate whose variance is `var` (so var * units is the variance of one unit's share)."""
    n = units
    s2 = var * n
    return math.sqrt(s2 * 2 * (n * rho * rho + 1) / (n * n * rho * rho)
                     * math.log(math.sqrt(n * rho * rho + 1) / alpha))


def cs_p_value(diff: float, var: float, units: int, rho: float) -> float:
    """Always-valid p-value: the smallest alpha whose confidence sequence excludes 0 (closed
    form: solve cs_radius(alpha) = |diff| for alpha)."""
    if var <= 0:
        return 1.0 if diff == 0 else 0.0
    n = units
    a = n * rho * rho
    return min(1.0, math.sqrt(a + 1) * math.exp(-diff * diff * n * a / (2 * var * n * (a + 1))))


def effect(strata: Sequence[tuple[UnitMoments, UnitMoments]], *, planned_units: int = DEFAULT_PLANNED_UNITS,
           alpha: float = ALPHA) -> Effect | None:
    """Candidate minus baseline, stratified: each (baseline, candidate) pair is one randomised
    rule. Strata where either arm has no estimate are skipped; None when none is left."""
    parts = []
    for base, cand in strata:
        a, b = estimate(base), estimate(cand)
        if a.se is None or b.se is None:
            continue
        parts.append((b.mean - a.mean, a.se ** 2 + b.se ** 2, a.units + b.units))
    if not parts:
        return None
    total = sum(k for _, _, k in parts)
    diff = sum(d * k / total for d, _, k in parts)
    var = sum(v * (k / total) ** 2 for _, v, k in parts)
    z = norm_ppf(1 - alpha / 2)
    se = math.sqrt(var)
    fixed_p = norm_two_sided(diff / se) if se > 0 else (1.0 if diff == 0 else 0.0)
    rho = rho_for(planned_units, alpha)
    radius = cs_radius(var, total, rho, alpha)
    return Effect(diff, var, total, diff - z * se, diff + z * se, fixed_p,
                  diff - radius, diff + radius, cs_p_value(diff, var, total, rho))


def holm(p_values: Mapping[str, float]) -> dict[str, float]:
    """Holm's step-down adjusted p-values (family-wise error at most alpha over the family)."""
    order = sorted(p_values, key=lambda k: p_values[k])
    m = len(order)
    out: dict[str, float] = {}
    running = 0.0
    for i, key in enumerate(order):
        running = max(running, min(1.0, (m - i) * p_values[key]))
        out[key] = running
    return out


@dataclass(frozen=True)
class SampleRatio:
    """Observed units per version against the configured weights, in one randomised rule."""

    observed: dict[int, int]
    expected_share: dict[int, float]
    chi2: float
    p_value: float
    mismatch: bool


def sample_ratio(observed: Mapping[int, int], weights: Mapping[int, float]) -> SampleRatio | None:
    """Chi-square goodness of fit of the observed units to the configured weights (versions with
    weight > 0). None below 2 arms or with no traffic."""
    live = {v: w for v, w in weights.items() if w > 0}
    total_w = sum(live.values())
    counts = {v: int(observed.get(v, 0)) for v in live}
    n = sum(counts.values())
    if len(live) < 2 or n == 0:
        return None
    share = {v: w / total_w for v, w in live.items()}
    stat = sum((counts[v] - n * share[v]) ** 2 / (n * share[v]) for v in live)
    p = chi2_sf(stat, len(live) - 1)
    return SampleRatio(counts, share, stat, p, p < SRM_ALPHA)


def units_needed(diff: float, unit_var_a: float, unit_var_b: float, *, planned_units: int,
                 alpha: float = ALPHA, power: float = POWER) -> int | None:
    """Units per arm (equal arms) at which the confidence sequence finds a true difference `diff`
    with probability `power`: the smallest n with cs_radius <= |diff| - z_power * se. unit_var_*
    is the variance of one unit's contribution (se^2 * units of that arm). None if diff is 0."""
    if diff == 0 or unit_var_a + unit_var_b <= 0:
        return None
    rho = rho_for(planned_units, alpha)
    z_power = norm_ppf(power)

    def enough(n: int) -> bool:
        var = (unit_var_a + unit_var_b) / n
        return cs_radius(var, 2 * n, rho, alpha) + z_power * math.sqrt(var) <= abs(diff)

    hi = 2
    while not enough(hi):
        hi *= 2
        if hi > 10 ** 12:
            return None
    lo = hi // 2
    while lo + 1 < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if enough(mid) else (mid, hi)
    return hi


# --- verdicts ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class MetricVerdict:
    """One candidate on one metric. kind: better | worse | no_difference | too_few | withheld
    (sample-ratio mismatch). `p_adjusted` is the Holm-adjusted always-valid p-value the verdict
    is based on (None when the metric was not tested)."""

    candidate: int
    metric: str
    kind: str
    primary: bool
    effect: Effect | None
    p_adjusted: float | None
    display: Shown | None


def display(eff: Effect, p: float) -> Shown:
    """The always-valid interval as every surface prints it (stats.shown_effect)."""
    return shown_effect(eff.diff, (eff.seq_high - eff.seq_low) / 2, p)


Key = tuple[int, str]  # (candidate version, metric)


def verdicts(effects: Mapping[Key, Effect | None], *, primary: str, higher_is_better: Mapping[str, bool],
             min_units: int = MIN_UNITS, units_per_arm: Mapping[Key, tuple[int, int]] | None = None,
             srm_failed: bool = False, alpha: float = ALPHA) -> list[MetricVerdict]:
    """One verdict per (candidate, metric), each candidate's primary metric first. Pairs with too
    few units per arm are not tested (and not in the family); Holm's correction runs over every
    tested pair, all candidates and metrics together; a sample-ratio mismatch withholds all."""
    if primary not in {metric for _, metric in effects}:
        raise InvalidInput("errors.experiments.primary_metric_has_no", primary=primary)
    per_arm = units_per_arm or {}
    tested = {k: e.seq_p for k, e in effects.items()
              if e is not None and min(per_arm.get(k, (e.units, e.units))) >= min_units}
    adjusted = holm(tested)
    out = []
    for key in sorted(effects, key=lambda k: (k[0], k[1] != primary, k[1])):
        candidate, metric = key
        eff, p = effects[key], adjusted.get(key)
        if srm_failed:
            kind = "withheld"
        elif eff is None or p is None:
            kind = "too_few"
        elif p >= alpha or eff.diff == 0:
            kind = "no_difference"
        else:
            kind = "better" if (eff.diff > 0) == higher_is_better.get(metric, True) else "worse"
        shown = display(eff, p) if eff is not None and p is not None else None
        out.append(MetricVerdict(candidate, metric, kind, metric == primary, eff, p, shown))
    return out


def sentence(v: MetricVerdict, baseline: int, units: tuple[int, int], need: int = MIN_UNITS) -> str:
    """The verdict as one English sentence (API and CLI; the UI says the same from the numbers,
    in the user's language)."""
    cand, base = f"v{v.candidate}", f"v{baseline}"
    unit = "percentage points" if v.metric == ERROR_RATE else "points"
    if v.kind == "withheld":
        return f"{cand} vs {base} on {v.metric}: no verdict, the traffic split does not match the policy"
    if v.kind == "too_few" or v.display is None:
        return (f"{cand} vs {base} on {v.metric}: too few units to tell ({base}: {units[0]}, {cand}: {units[1]}; "
                f"need {need} each)")
    p = p_phrase(v.display.p)
    if v.kind == "no_difference":
        return f"no difference shown on {v.metric} between {base} and {cand} (always-valid {p})"
    return f"{cand} is {v.kind} on {v.metric} by {v.display.diff} ± {v.display.half} {unit} (always-valid {p})"


def winner(found: Sequence[MetricVerdict], baseline: int) -> int | None:
    """The version the evidence favours: the candidate better on the primary metric and worse on
    no guardrail (the largest primary effect if several); the baseline when every candidate is
    worse on it; None while the evidence decides nothing."""
    primary = [v for v in found if v.primary]
    if not primary:
        return None
    harmed = {v.candidate for v in found if not v.primary and v.kind == "worse"}
    better = [v for v in primary if v.kind == "better" and v.candidate not in harmed]
    if better:
        return max(better, key=lambda v: abs(v.effect.diff)).candidate
    return baseline if all(v.kind == "worse" for v in primary) else None


def detectable(eff: Effect, *, planned_units: int = DEFAULT_PLANNED_UNITS, alpha: float = ALPHA,
               power: float = POWER) -> float:
    """The smallest true difference the confidence sequence finds with probability `power` at the
    units seen so far (the minimum detectable effect now)."""
    rho = rho_for(planned_units, alpha)
    return cs_radius(eff.var, eff.units, rho, alpha) + norm_ppf(power) * math.sqrt(eff.var)


def ramp_decision(eff: Effect | None, *, margin: float, higher_is_better: bool = True) -> str:
    """Guarded ramps (non-inferiority on the guard metric, always-valid bounds):
    'step' when the bound says the candidate is worse by less than `margin`, 'revert' when it is
    confidently worse by more, 'hold' otherwise (or with no estimate yet)."""
    if margin < 0 or not math.isfinite(margin):
        raise InvalidInput("errors.experiments.ramp_margin_finite_number", margin=margin)
    if eff is None:
        return "hold"
    low, high = (eff.seq_low, eff.seq_high) if higher_is_better else (-eff.seq_high, -eff.seq_low)
    if low > -margin:
        return "step"
    if high < -margin:
        return "revert"
    return "hold"
