"""Guarded ramps: step a candidate version's share of a label up on a schedule while its always-
valid interval on the guard metric shows it is worse by less than a set margin (non-inferiority),
and revert automatically when it is shown to be worse by more."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from promptyard.domain import access
from promptyard.domain import experiments as ex
from promptyard.domain.records import Principal
from promptyard.errors import Conflict, InvalidInput, NotFound
from promptyard.services import audit, experiment_records, experiment_results, keys, labels, prompts, versions
from promptyard.store.models import Experiment, LabelRamp, ReleaseLabel
from promptyard.store.types import utcnow


@dataclass(frozen=True)
class RampRecord:
    id: int
    label: str
    plan: dict[str, Any]
    state: str  # running | done | reverted | stopped
    step: int
    weight: float  # the candidate's current share, percent
    next_at: datetime | None
    note: str
    created_by: str
    created_at: datetime


def _record(r: LabelRamp, label: str) -> RampRecord:
    steps = r.plan["steps"]
    weight = steps[min(r.step, len(steps) - 1)] if r.state == "running" else (100 if r.state == "done" else 0)
    return RampRecord(r.id, label, r.plan, r.state, r.step, weight, r.next_at, r.note, r.created_by, r.created_at)


def check_plan(plan: dict[str, Any], existing: set[int]) -> dict[str, Any]:
    try:
        candidate, baseline = int(plan["candidate"]), int(plan["baseline"])
        steps = [float(s) for s in plan.get("steps") or [10, 25, 50, 100]]
        interval = float(plan.get("interval_s", 3600))
        guard = plan.get("guard") or {"metric": ex.ERROR_RATE, "margin": 2.0}
        metric, margin = str(guard["metric"]), float(guard["margin"])
        min_n = int(plan.get("min_n", ex.MIN_UNITS))
        planned = int(plan.get("planned_units", ex.DEFAULT_PLANNED_UNITS))
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput("errors.experiments.ramp_plan_needs_candidate", exc=exc)
    if candidate == baseline or not {candidate, baseline} <= existing:
        raise InvalidInput("errors.experiments.candidate_baseline_two_different")
    if not steps or steps != sorted(steps) or steps[0] <= 0 or steps[-1] != 100 or len(set(steps)) != len(steps):
        raise InvalidInput("errors.experiments.steps_rise_strictly_from")
    if interval < 1 or not 0 <= margin < float("inf") or min_n < 2 or not 2 <= planned <= ex.MAX_PLANNED_UNITS:
        raise InvalidInput("errors.experiments.ramp_numbers_out_of_range")
    return {"candidate": candidate, "baseline": baseline, "steps": steps, "interval_s": interval,
            "guard": {"metric": metric, "margin": margin}, "min_n": min_n, "planned_units": planned,
            "sticky_key": plan.get("sticky_key")}


def _split(plan: dict[str, Any], weight: float, old_policy: dict[str, Any] | None) -> dict[str, Any]:
    policy = dict(old_policy or {})
    policy["split"] = [{"version": plan["baseline"], "weight": 100 - weight},
                       {"version": plan["candidate"], "weight": weight}]
    policy["split"] = [s for s in policy["split"] if s["weight"] > 0]
    if plan.get("sticky_key"):
        policy["sticky_key"] = plan["sticky_key"]
    return policy


def start(session: Session, p: Principal, prompt_id: int, label: str, plan: dict[str, Any], *,
          reason: str) -> RampRecord:
    access.require(p, "write")
    prompt = prompts.load(session, p, prompt_id, lock=True)
    row = session.scalar(select(ReleaseLabel).where(ReleaseLabel.prompt_id == prompt.id, ReleaseLabel.name == label))
    if row is None:
        raise NotFound("errors.experiments.prompt_has_no_label_2", name=prompt.name, label=label)
    if session.scalar(select(LabelRamp.id).where(LabelRamp.label_id == row.id, LabelRamp.state == "running")):
        raise Conflict("errors.experiments.label_already_has_running", label=label)
    existing = {v.number for v in versions.list_versions(session, p, prompt_id)}
    plan = check_plan(plan, existing)
    labels.move(session, p, prompt.id, label, version=plan["baseline"],
                policy=_split(plan, plan["steps"][0], row.policy), reason=reason or "ramp started")
    started = experiment_records.running(session, p.workspace_id, prompt.id, label)
    ramp = LabelRamp(workspace_id=p.workspace_id, label_id=row.id, plan=plan, state="running", step=0,
                     next_at=utcnow() + timedelta(seconds=plan["interval_s"]), created_by=p.actor,
                     note=f"started at {plan['steps'][0]:g}%", created_at=started.started_at if started else utcnow())
    session.add(ramp)
    session.flush()
    audit.record(session, p.workspace_id, p.actor, "ramp.start", "prompt", prompt.id, {"label": label, "plan": plan})
    return _record(ramp, label)


def list_ramps(session: Session, p: Principal, prompt_id: int, label: str) -> list[RampRecord]:
    access.require(p, "read")
    prompts.load(session, p, prompt_id)
    rows = session.scalars(select(LabelRamp).join(ReleaseLabel, LabelRamp.label_id == ReleaseLabel.id)
                           .where(ReleaseLabel.prompt_id == prompt_id, ReleaseLabel.name == label,
                                  LabelRamp.workspace_id == p.workspace_id).order_by(LabelRamp.id.desc()))
    return [_record(r, label) for r in rows]


def stop(session: Session, p: Principal, ramp_id: int, *, reason: str) -> RampRecord:
    access.require(p, "write")
    ramp = session.scalar(select(LabelRamp).where(LabelRamp.workspace_id == p.workspace_id, LabelRamp.id == ramp_id))
    if ramp is None:
        raise NotFound("errors.experiments.no_ramp_id", ramp_id=ramp_id)
    label = session.scalar(select(ReleaseLabel.name).where(ReleaseLabel.id == ramp.label_id))
    if not access.may_move(p, label):  # stopping fixes the label's split
        raise access.Forbidden("errors.experiments.stopping_ramp_label_needs", label=label)
    if ramp.state == "running":
        ramp.state, ramp.next_at, ramp.note = "stopped", None, f"stopped by {p.actor}: {reason}"
        audit.record(session, p.workspace_id, p.actor, "ramp.stop", "ramp", ramp.id, {"reason": reason})
    return _record(ramp, label)


def tick(session: Session, now: datetime | None = None, workspace_id: int | None = None) -> list[RampRecord]:
    """Advance every due ramp (of one workspace, or all) by one step, or revert it. Safe to call
    from several server processes at once: due rows are locked (skipped when another has them)."""
    now = now or utcnow()
    q = select(LabelRamp).where(LabelRamp.state == "running", LabelRamp.next_at <= now)
    if workspace_id is not None:
        q = q.where(LabelRamp.workspace_id == workspace_id)
    done = []
    for ramp in session.scalars(q.with_for_update(skip_locked=True)):
        label = session.get(ReleaseLabel, ramp.label_id)
        system = keys.system_principal(ramp.workspace_id, actor=f"ramp:{ramp.id}")
        _advance(session, system, ramp, label, now)
        done.append(_record(ramp, label.name))
    return done


def tick_workspace(session: Session, p: Principal) -> list[RampRecord]:
    access.require(p, "admin")
    return tick(session, workspace_id=p.workspace_id)


def _advance(session: Session, p: Principal, ramp: LabelRamp, label: ReleaseLabel, now: datetime) -> None:
    """One tick of a ramp: non-inferiority of the candidate on the guard metric, over every step
    so far (each step's randomised rules are strata), with always-valid bounds."""
    plan = ramp.plan
    metric, margin, min_n = plan["guard"]["metric"], plan["guard"]["margin"], plan["min_n"]
    steps = session.scalars(select(Experiment.id).where(
        Experiment.workspace_id == ramp.workspace_id, Experiment.prompt_id == label.prompt_id,
        Experiment.label == label.name, Experiment.started_at >= ramp.created_at))
    eff, units = experiment_results.ramp_effect(session, steps, baseline=plan["baseline"],
                                                candidate=plan["candidate"], metric=metric,
                                                planned_units=plan.get("planned_units", ex.DEFAULT_PLANNED_UNITS))
    ramp.next_at = now + timedelta(seconds=plan["interval_s"])
    weight = plan["steps"][ramp.step]
    current = experiment_records.running(session, ramp.workspace_id, label.prompt_id, label.name)
    if current is not None and experiment_results.compute(session, current)["srm_failed"]:
        ramp.note = f"held at {weight:g}%: the traffic split does not match the policy (sample-ratio mismatch)"
        return
    if eff is None or min(units) < min_n:
        ramp.note = (f"held at {weight:g}%: too few units to judge {metric} (v{plan['baseline']}: {units[0]}, "
                     f"v{plan['candidate']}: {units[1]}; need {min_n} each)")
        return
    decision = ex.ramp_decision(eff, margin=margin, higher_is_better=metric not in experiment_results.LOWER_IS_BETTER)
    evidence = (f"{metric} v{plan['candidate']} - v{plan['baseline']} = {eff.diff:.2f}, always-valid 95% interval "
                f"[{eff.seq_low:.2f}, {eff.seq_high:.2f}], margin {margin:g}")
    if decision == "hold":
        ramp.note = f"held at {weight:g}%: not yet shown within the margin ({evidence})"
        return
    if decision == "revert":
        labels.move(session, p, label.prompt_id, label.name, version=plan["baseline"], policy=None,
                    reason=f"ramp {ramp.id} reverted: {evidence}")
        ramp.state, ramp.next_at, ramp.note = "reverted", None, f"reverted: {evidence}"
        return
    ramp.step += 1
    weight = plan["steps"][ramp.step]
    if weight >= 100:
        labels.move(session, p, label.prompt_id, label.name, version=plan["candidate"], policy=None,
                    reason=f"ramp {ramp.id} completed: {evidence}")
        ramp.state, ramp.next_at, ramp.note = "done", None, f"promoted v{plan['candidate']}: {evidence}"
        return
    labels.move(session, p, label.prompt_id, label.name, version=plan["baseline"],
                policy=_split(plan, weight, label.policy), reason=f"ramp {ramp.id} step to {weight:g}%")
    ramp.note = f"stepped to {weight:g}%: {evidence}"
