"""Experiments on a release label: per-version (and per-segment) results since the label's
policy was set, each candidate compared with the baseline, promotion and rollback."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from promptyard.domain import access, stats
from promptyard.domain.records import LabelRecord, Principal
from promptyard.errors import Conflict, InvalidInput, NotFound
from promptyard.services import labels, prompts
from promptyard.store.models import LabelEvent, PromptVersion, ReleaseLabel, Request, Score

ERROR_RATE = "error_rate"


@dataclass
class Arm:
    """The requests one version got (optionally within one routing rule/segment)."""

    version: int
    rule: str | None
    requests: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    costs: list[float] = field(default_factory=list)
    scores: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))


def _label(session: Session, p: Principal, prompt_id: int, name: str) -> ReleaseLabel:
    row = session.scalar(select(ReleaseLabel).where(ReleaseLabel.workspace_id == p.workspace_id,
                                                    ReleaseLabel.prompt_id == prompt_id, ReleaseLabel.name == name))
    if row is None:
        raise NotFound(f"this prompt has no label {name!r}")
    return row


def collect(session: Session, p: Principal, prompt_id: int, label: str, since: datetime | None) -> list[Arm]:
    """One arm per (version, rule) of the requests served through `label` since `since`."""
    q = (select(Request.id, Request.version_number, Request.routing, Request.status, Request.latency_ms,
                Request.cost)
         .where(Request.workspace_id == p.workspace_id, Request.prompt_id == prompt_id, Request.label == label,
                Request.version_number.is_not(None)))
    if since is not None:
        q = q.where(Request.start_time >= since)
    arms: dict[tuple[int, str | None], Arm] = {}
    by_request: dict[int, Arm] = {}
    for rid, number, routing, status, latency, cost in session.execute(q):
        rule = (routing or {}).get("rule")
        arm = arms.setdefault((number, rule), Arm(number, rule))
        arm.requests += 1
        arm.errors += status == "error"
        if latency is not None:
            arm.latencies.append(latency)
        if cost is not None:
            arm.costs.append(cost)
        by_request[rid] = arm
    if by_request:
        scored = select(Score.request_id, Score.name, Score.value).where(
            Score.workspace_id == p.workspace_id, Score.request_id.in_(q.with_only_columns(Request.id)))
        for rid, name, value in session.execute(scored):
            if rid in by_request:
                by_request[rid].scores[name].append(value)
    return sorted(arms.values(), key=lambda a: (a.version, a.rule or ""))


def merge(arms: list[Arm]) -> dict[int, Arm]:
    """Per version, all rules together."""
    out: dict[int, Arm] = {}
    for a in arms:
        m = out.setdefault(a.version, Arm(a.version, None))
        m.requests += a.requests
        m.errors += a.errors
        m.latencies += a.latencies
        m.costs += a.costs
        for name, values in a.scores.items():
            m.scores[name] += values
    return out


def is_pass_fail(values: list[float]) -> bool:
    """Scores given only as 0/100 (or 0/1) are pass/fail: compared as proportions."""
    distinct = set(values)
    return bool(values) and (distinct <= {0.0, 100.0} or distinct <= {0.0, 1.0})


def compare(baseline: Arm, candidate: Arm, metric: str, min_n: int) -> dict[str, Any]:
    """Candidate minus baseline on one metric, with the test used and a plain-language verdict."""
    a_name, b_name = f"v{baseline.version}", f"v{candidate.version}"
    if metric == ERROR_RATE:
        cmp = _scaled(stats.two_proportions(baseline.errors, baseline.requests, candidate.errors,
                                            candidate.requests), 100.0)
        n_a, n_b, better_high, unit = baseline.requests, candidate.requests, False, "percentage points"
    else:
        a, b = baseline.scores.get(metric, []), candidate.scores.get(metric, [])
        n_a, n_b, better_high, unit = len(a), len(b), True, "points"
        if is_pass_fail(a + b):
            top = 100.0 if max(a + b, default=0) > 1 else 1.0
            cmp = stats.two_proportions(sum(v == top for v in a), n_a, sum(v == top for v in b), n_b)
            cmp, unit = _scaled(cmp, 100.0), "percentage points"
        else:
            cmp = stats.welch(a, b) if n_a >= 2 and n_b >= 2 else None
    verdict = stats.verdict(metric, a_name, b_name, cmp, n_a, n_b, min_n=min_n, higher_is_better=better_high,
                            unit=unit)
    return {"baseline": baseline.version, "candidate": candidate.version, "metric": metric, "n_baseline": n_a,
            "n_candidate": n_b, "test": getattr(cmp, "test", None), "diff": getattr(cmp, "diff", None),
            "ci_low": getattr(cmp, "ci_low", None), "ci_high": getattr(cmp, "ci_high", None),
            "p_value": getattr(cmp, "p_value", None), "verdict": verdict.kind, "text": verdict.text,
            "shown": asdict(stats.shown(cmp)) if cmp is not None else None}


def _scaled(cmp: Any, factor: float) -> Any:
    """Proportions as percentage points, so verdicts read '2.1 ± 0.8 percentage points'."""
    if cmp is None:
        return None
    return replace(cmp, diff=cmp.diff * factor, ci_low=cmp.ci_low * factor, ci_high=cmp.ci_high * factor)


def arm_summary(arm: Arm) -> dict[str, Any]:
    lat = sorted(arm.latencies)
    return {
        "version": arm.version, "rule": arm.rule, "requests": arm.requests,
        "error_rate": arm.errors / arm.requests if arm.requests else None,
        "latency_p50": stats.percentile(lat, 50) if lat else None,
        "latency_p95": stats.percentile(lat, 95) if lat else None,
        "cost_mean": sum(arm.costs) / len(arm.costs) if arm.costs else None,
        "scores": {name: _summary(values) for name, values in sorted(arm.scores.items())},
    }


def _summary(values: list[float]) -> dict[str, Any]:
    s = stats.summary(values)
    return {"n": s.n, "mean": s.mean, "ci_low": s.ci_low, "ci_high": s.ci_high}


def view(session: Session, p: Principal, prompt_id: int, label: str, *, baseline: int | None = None,
         since: datetime | None = None, min_n: int = 30) -> dict[str, Any]:
    """The experiment view of a label: arms, comparisons with the baseline, warnings."""
    access.require(p, "read")
    prompt = prompts.load(session, p, prompt_id)
    row = _label(session, p, prompt.id, label)
    base_number = session.scalar(select(PromptVersion.number).where(PromptVersion.id == row.version_id))
    baseline = baseline or base_number
    since = since if since is not None else row.updated_at
    arms = collect(session, p, prompt.id, label, since)
    merged = merge(arms)
    metrics = sorted({name for a in merged.values() for name in a.scores}) + [ERROR_RATE]
    comparisons, warnings = [], []
    if baseline not in merged:
        warnings.append(f"no requests for the baseline v{baseline} through '{label}' since {since.isoformat()}")
    else:
        for number, arm in sorted(merged.items()):
            if number != baseline:
                comparisons += [compare(merged[baseline], arm, m, min_n) for m in metrics]
    warnings += sorted({c["text"] for c in comparisons if c["verdict"] == "too_few"})
    return {"prompt": prompt.name, "label": label, "policy": row.policy, "baseline": baseline,
            "since": since, "versions": [arm_summary(a) for a in merged.values()],
            "segments": [arm_summary(a) for a in arms], "comparisons": comparisons, "warnings": warnings}


def promote(session: Session, p: Principal, prompt_id: int, label: str, *, version: int | None = None,
            policy: dict[str, Any] | None = None, reason: str) -> LabelRecord:
    """Make `version` the label's single version (or give it a new split), with who and why."""
    if not reason or not reason.strip():
        raise InvalidInput("promoting needs a reason (it goes into the audit trail)")
    if version is None and policy is None:
        raise InvalidInput("give the version to promote, or a new policy")
    return labels.move(session, p, prompt_id, label, version=version, policy=policy, reason=reason)


def rollback(session: Session, p: Principal, prompt_id: int, label: str, *, reason: str) -> LabelRecord:
    """Put the label back where its last move took it from."""
    prompts.load(session, p, prompt_id)
    last = session.scalar(select(LabelEvent).where(LabelEvent.workspace_id == p.workspace_id,
                                                   LabelEvent.prompt_id == prompt_id, LabelEvent.label == label)
                          .order_by(LabelEvent.id.desc()).limit(1))
    if last is None or last.from_version is None:
        raise Conflict(f"label '{label}' has no earlier state to roll back to")
    return labels.move(session, p, prompt_id, label, version=last.from_version, policy=last.from_policy,
                       reason=reason or f"rollback of move {last.id}")
