"""An experiment's evidence, from the database's per-unit sums (store/experiment_totals.py) and
the statistics of domain/experiments.py: per rule, the arms with their means and intervals; the
randomised comparisons of every candidate with the baseline; the sample-ratio check; the verdicts
and the winner. Every number a page, the CLI or the API shows comes from here.

Typed scores (services/score_configs.py): a pass/fail score keeps its sequential verdict (a mean of
100/0 values is a pass rate) and adds each arm's pass rate with the Wilson interval and a
fixed-horizon two-proportion test (`proportions`); a categorical score gets no verdict (kind
"unsupported": the sequential test is on means, which ordered labels do not have) and a
Mann-Whitney rank test of the two versions' scores instead (`rank_test`, fixed-horizon, over the
experiment's requests of the two versions, each request one observation)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from promptyard.domain import experiments as ex
from promptyard.domain import routing, score_stats
from promptyard.domain.stats import decimals, norm_ppf, p_shown
from promptyard.services import score_configs
from promptyard.store import bulk
from promptyard.store import experiment_totals as totals
from promptyard.store.models import Experiment, Request, Score

DESCRIPTIVE = {totals.LATENCY: "latency_ms", totals.COST: "cost"}  # shown, never tested
LOWER_IS_BETTER = {ex.ERROR_RATE, "latency_ms", "cost"}
_Z = norm_ppf(1 - ex.ALPHA / 2)


def metric_id(stored: str) -> str:
    """The name the API shows for a stored metric ('@error_rate' -> 'error_rate')."""
    return stored[1:] if stored.startswith("@") else stored


def stored_metric(metric: str) -> str:
    return totals.ERROR_RATE if metric == ex.ERROR_RATE else metric


def _interval(m: ex.UnitMoments) -> dict[str, Any]:
    e = ex.estimate(m)
    half = None if e.se is None else _Z * e.se
    return {"units": e.units, "n": int(e.requests), "mean": e.mean,
            "ci_low": None if half is None else e.mean - half, "ci_high": None if half is None else e.mean + half}


def _arm(version: int, got: dict[str, ex.UnitMoments]) -> dict[str, Any]:
    err = got.get(totals.ERROR_RATE, ex.EMPTY)
    err_est = ex.estimate(err)
    return {"version": version, "units": err.units, "requests": int(err.n),
            "error_rate": None if err_est.mean is None else err_est.mean / 100,
            "latency_ms": _interval(got[totals.LATENCY]) if totals.LATENCY in got else None,
            "cost": _interval(got[totals.COST]) if totals.COST in got else None,
            "scores": {m: _interval(v) for m, v in sorted(got.items()) if not m.startswith("@")}}


def compute(session: Session, row: Experiment, *, baseline: int | None = None,
            min_units: int = ex.MIN_UNITS) -> dict[str, Any]:
    """The evidence of one experiment (JSON-ready: numbers, strings, lists, dicts)."""
    baseline = baseline or row.baseline
    sums = totals.moments(session, [row.id])
    configured = routing.rules(row.policy)
    by_rule: dict[str, dict[int, dict[str, ex.UnitMoments]]] = defaultdict(lambda: defaultdict(dict))
    for (_, version, rule, metric), m in sums.items():
        by_rule[rule][version][metric] = m
    rules, strata, srm_failed, warnings = [], [], False, []
    for rule in [*configured, *sorted(set(by_rule) - set(configured))]:
        weights = configured.get(rule, {})
        arms = by_rule.get(rule, {})
        randomised = routing.is_randomised(weights)
        srm = ex.sample_ratio({v: a.get(totals.ERROR_RATE, ex.EMPTY).units for v, a in arms.items()},
                              weights) if randomised else None
        if srm is not None and srm.mismatch:
            srm_failed = True
            warnings.append({"code": "sample_ratio_mismatch", "rule": rule, "p": srm.p_value,
                             "p_shown": p_shown(srm.p_value)})
        if randomised and baseline in weights:
            strata.append((rule, arms))
        rules.append({"rule": rule, "randomised": randomised, "weights": {str(v): w for v, w in weights.items()},
                      "arms": [_arm(v, arms.get(v, {})) for v in sorted(set(weights) | set(arms))],
                      "sample_ratio": None if srm is None else {
                          "observed": {str(v): n for v, n in srm.observed.items()},
                          "expected_share": {str(v): s for v, s in srm.expected_share.items()},
                          "chi2": srm.chi2, "p": srm.p_value, "p_shown": p_shown(srm.p_value),
                          "mismatch": srm.mismatch}})
    candidates = sorted({v for _, arms in strata for v in arms if v != baseline}
                        | {v for rule, _ in strata for v in configured[rule] if v != baseline})
    metrics = sorted({metric_id(m) for _, arms in strata for a in arms.values() for m in a
                      if m not in DESCRIPTIVE} | {ex.ERROR_RATE, row.primary_metric})
    effects, per_arm, in_strata, sums_of = {}, {}, {}, {}
    for cand in candidates:
        own = [(rule, arms) for rule, arms in strata if cand in configured[rule]]
        in_strata[cand] = [rule for rule, _ in own]
        for metric in metrics:
            pairs = [(arms.get(baseline, {}).get(stored_metric(metric), ex.EMPTY),
                      arms.get(cand, {}).get(stored_metric(metric), ex.EMPTY)) for _, arms in own]
            effects[(cand, metric)] = ex.effect(pairs, planned_units=row.planned_units) if pairs else None
            per_arm[(cand, metric)] = (sum(a.units for a, _ in pairs), sum(b.units for _, b in pairs))
            sums_of[(cand, metric)] = (sum((a for a, _ in pairs), ex.EMPTY), sum((b for _, b in pairs), ex.EMPTY))
    configs = score_configs.for_scoring(session, row.workspace_id)
    kinds = {m: configs[m].type for m in metrics if m in configs}
    ordinal = {m for m, k in kinds.items() if k == "categorical"}
    found = ex.verdicts(effects, primary=row.primary_metric, higher_is_better={
        m: m not in LOWER_IS_BETTER for m in metrics}, min_units=min_units, units_per_arm=per_arm,
        srm_failed=srm_failed, untested=ordinal) if candidates else []
    counts = _value_counts(session, row.id, ordinal, {rule for rule, _ in strata}) if ordinal and candidates else {}
    comparisons = []
    for v in found:
        c = _comparison(v, baseline, per_arm[(v.candidate, v.metric)], in_strata[v.candidate], row, min_units)
        c["score_type"] = kinds.get(v.metric)
        if c["score_type"] == "boolean":
            c["proportions"] = _proportions(*sums_of[(v.candidate, v.metric)])
        elif c["score_type"] == "categorical":
            c["rank_test"] = _rank_test(counts.get((baseline, v.metric), {}), counts.get((v.candidate, v.metric), {}))
        comparisons.append(c)
    if not any(baseline in configured[r] for r in configured):
        warnings.append({"code": "baseline_not_in_policy", "baseline": baseline})
    if not candidates:
        warnings.append({"code": "nothing_randomised"})
    return {"baseline": baseline, "primary_metric": row.primary_metric, "min_units": min_units,
            "rules": rules, "srm_failed": srm_failed, "warnings": warnings,
            "comparisons": comparisons,
            "winner": ex.winner(found, baseline) if candidates else None,
            "method": {"alpha": ex.ALPHA, "unit": row.policy.get("sticky_key") or "request",
                       "planned_units": row.planned_units, "interval": "always-valid confidence sequence",
                       "correction": "holm", "srm_alpha": ex.SRM_ALPHA}}


def _proportions(base: ex.UnitMoments, cand: ex.UnitMoments) -> dict[str, Any]:
    """Pass rates of a pass/fail score (its values 100/0: passes = sum / 100) in the two arms."""
    xb, xc = score_stats.passes(int(base.n), base.y), score_stats.passes(int(cand.n), cand.y)
    rb, rc = score_stats.wilson(xb, int(base.n)), score_stats.wilson(xc, int(cand.n))
    test = score_stats.two_proportions(xb, int(base.n), xc, int(cand.n))
    return {"baseline": asdict(rb), "candidate": asdict(rc),
            "test": None if test is None else asdict(test) | {"p_shown": None if test.p is None else p_shown(test.p)}}


def _value_counts(session: Session, experiment_id: int, names: set[str],
                  rules: set[str]) -> dict[tuple[int, str], dict[float, int]]:
    """(version, score name) -> {value: scores} over the experiment's requests routed by its
    randomised `rules` (a segment's requests, all on one version, would bias the comparison)."""
    rows = session.execute(
        select(Request.version_number, Request.routing, Score.name, Score.value)
        .join(Score, Score.request_id == Request.id)
        .where(Request.experiment_id == experiment_id, bulk.one_of(Score.name, names))).all()
    out: dict[tuple[int, str], dict[float, int]] = {}
    for version, route, name, value in rows:
        if (route or {}).get("rule") in rules:
            cell = out.setdefault((version, name), {})
            cell[float(value)] = cell.get(float(value), 0) + 1
    return out


def _rank_test(base: dict[float, int], cand: dict[float, int]) -> dict[str, Any] | None:
    test = score_stats.mann_whitney(base, cand)
    if test is None:
        return None
    return asdict(test) | {"p_shown": None if test.p is None else p_shown(test.p),
                           "median_baseline": score_stats.ordinal(base).median,
                           "median_candidate": score_stats.ordinal(cand).median}


def _comparison(v: ex.MetricVerdict, baseline: int, units: tuple[int, int], strata: list[str],
                row: Experiment, min_units: int) -> dict[str, Any]:
    e = v.effect
    out: dict[str, Any] = {
        "candidate": v.candidate, "baseline": baseline, "metric": v.metric, "primary": v.primary,
        "verdict": v.kind, "units_baseline": units[0], "units_candidate": units[1], "strata": strata,
        "diff": None, "ci_low": None, "ci_high": None, "p": v.p_adjusted, "fixed": None, "detectable": None,
        "places": None,
        "units_needed": None, "shown": None if v.display is None else asdict(v.display),
        "text": ex.sentence(v, baseline, units, min_units)}
    if e is None:
        return out
    out |= {"diff": e.diff, "ci_low": e.seq_low, "ci_high": e.seq_high,
            "fixed": {"ci_low": e.fixed_low, "ci_high": e.fixed_high, "p": e.fixed_p, "p_shown": p_shown(e.fixed_p)},
            "detectable": ex.detectable(e, planned_units=row.planned_units),
            "places": decimals((e.seq_high - e.seq_low) / 2, e.diff)}  # = shown.places, also when untested
    if v.primary and row.min_effect and e.units >= 4:
        # per-arm variance of one unit's contribution, from the variance of the difference
        unit_var = e.var * e.units / 4
        need = ex.units_needed(row.min_effect, unit_var, unit_var, planned_units=row.planned_units)
        out["units_needed"] = None if need is None else max(0, need - min(units))
    return out


def ramp_effect(session: Session, experiment_ids: Iterable[int], *, baseline: int, candidate: int,
                metric: str, planned_units: int) -> tuple[ex.Effect | None, tuple[int, int]]:
    """Candidate minus baseline on one metric over several experiments (a ramp's steps), each
    randomised rule of each step one stratum; and the units per arm behind it."""
    ids = list(experiment_ids)
    sums = totals.moments(session, ids)
    name = stored_metric(metric)
    cells: dict[tuple[int, str], dict[int, ex.UnitMoments]] = defaultdict(dict)
    for (eid, version, rule, m), moments in sums.items():
        if m == name and version in (baseline, candidate):
            cells[(eid, rule)][version] = moments
    pairs = [(arms[baseline], arms[candidate]) for arms in cells.values() if baseline in arms and candidate in arms]
    if not pairs:
        return None, (0, 0)
    return (ex.effect(pairs, planned_units=planned_units),
            (sum(a.units for a, _ in pairs), sum(b.units for _, b in pairs)))
