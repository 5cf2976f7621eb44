"""Experiments on a release label: the running experiment (or any past one) with its evidence,
promotion of the winner, and rollback; both end the experiment and are linked to it."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from promptyard.domain import access, routing
from promptyard.domain import experiments as ex
from promptyard.domain.records import LabelRecord, Principal
from promptyard.errors import Conflict, InvalidInput, NotFound
from promptyard.services import experiment_records, experiment_results, labels, prompts
from promptyard.store.models import Experiment, LabelEvent, ReleaseLabel

ERROR_RATE = ex.ERROR_RATE


def _label(session: Session, p: Principal, prompt_id: int, name: str) -> ReleaseLabel:
    row = session.scalar(select(ReleaseLabel).where(ReleaseLabel.workspace_id == p.workspace_id,
                                                    ReleaseLabel.prompt_id == prompt_id, ReleaseLabel.name == name))
    if row is None:
        raise NotFound("errors.experiments.prompt_has_no_label", name=name)
    return row


def _shown(session: Session, row: Experiment, *, baseline: int | None, min_units: int) -> dict[str, Any]:
    """An experiment's record with its evidence: frozen when it has ended (and was asked as it
    was), else computed now."""
    live = row.ended_at is None or row.results is None or baseline not in (None, row.baseline) \
        or min_units != ex.MIN_UNITS
    evidence = experiment_results.compute(session, row, baseline=baseline, min_units=min_units) if live \
        else row.results
    return {"experiment": asdict(experiment_records.record(row)), "frozen": not live} | evidence


def view(session: Session, p: Principal, prompt_id: int, label: str, *, baseline: int | None = None,
         min_units: int = ex.MIN_UNITS) -> dict[str, Any] | None:
    """The running experiment of a label with its evidence; None when the label has no policy."""
    access.require(p, "read")
    prompt = prompts.load(session, p, prompt_id)
    _label(session, p, prompt.id, label)
    row = experiment_records.running(session, p.workspace_id, prompt.id, label)
    return None if row is None else _shown(session, row, baseline=baseline, min_units=min_units)


def get(session: Session, p: Principal, experiment_id: int, *, baseline: int | None = None,
        min_units: int = ex.MIN_UNITS) -> dict[str, Any]:
    row = experiment_records.get_row(session, p, experiment_id)
    return _shown(session, row, baseline=baseline, min_units=min_units)


def set_policy(session: Session, p: Principal, prompt_id: int, label: str, *, policy: dict[str, Any] | None,
               version: int | None = None, reason: str = "", declared: dict[str, Any] | None = None) -> LabelRecord:
    """Give a label a routing policy (which starts an experiment, declared with `declared`:
    hypothesis, primary metric, planned units, minimum effect), or take it away (None)."""
    checked = ex.declaration(declared or {})
    if checked and policy is None:
        raise InvalidInput("errors.experiments.experiment_needs_policy_split")
    moved = labels.move(session, p, prompt_id, label, version=version, policy=policy, reason=reason)
    row = experiment_records.running(session, p.workspace_id, prompt_id, label)
    if checked and row is not None:
        experiment_records.declare(session, p, row.id, checked)
    return moved


def promote(session: Session, p: Principal, prompt_id: int, label: str, *, version: int | None = None,
            policy: dict[str, Any] | None = None, reason: str, force: bool = False) -> LabelRecord:
    """End the label's experiment by making `version` its single version (or giving it a new
    split), with who and why. Without a version, the experiment's winner is promoted; a version
    that was not in the experiment needs `force` (and the reason says why)."""
    if not reason or not reason.strip():
        raise InvalidInput("errors.experiments.promoting_needs_reason_goes")
    prompts.load(session, p, prompt_id)
    row = experiment_records.running(session, p.workspace_id, prompt_id, label)
    winner, forced = None, False
    if row is not None and policy is None:
        evidence = experiment_results.compute(session, row)
        winner = evidence["winner"]
        served = {v for weights in routing.rules(row.policy).values() for v, w in weights.items() if w > 0}
        if version is None:
            if winner is None:
                raise Conflict("errors.experiments.experiment_has_no_winner", id=row.id)
            version = winner
        elif version not in served and not force:
            raise Conflict("errors.experiments.version_not_in_experiment", version=version, id=row.id,
                           v=', '.join(f'v{v}' for v in sorted(served)))
        forced = version not in served
    elif version is None and policy is None:
        raise InvalidInput("errors.experiments.promote_needs_version_or_policy")
    moved = labels.move(session, p, prompt_id, label, version=version, policy=policy, reason=reason)
    if row is not None and row.end_event_id is not None:
        experiment_records.set_outcome(session, p, prompt_id, label, row.end_event_id, {
            "kind": "promoted" if policy is None else "changed", "version": moved.version,
            "forced": forced, "winner": winner})
    return moved


def rollback(session: Session, p: Principal, prompt_id: int, label: str, *, reason: str) -> LabelRecord:
    """Put the label back where its last move took it from (ending its experiment, if any)."""
    prompts.load(session, p, prompt_id)
    last = session.scalar(select(LabelEvent).where(LabelEvent.workspace_id == p.workspace_id,
                                                   LabelEvent.prompt_id == prompt_id, LabelEvent.label == label)
                          .order_by(LabelEvent.id.desc()).limit(1))
    if last is None or last.from_version is None:
        raise Conflict("errors.experiments.label_has_no_earlier", label=label)
    row = experiment_records.running(session, p.workspace_id, prompt_id, label)
    moved = labels.move(session, p, prompt_id, label, version=last.from_version, policy=last.from_policy,
                        reason=reason or f"rollback of move {last.id}")
    if row is not None and row.end_event_id is not None:
        experiment_records.set_outcome(session, p, prompt_id, label, row.end_event_id,
                                       {"kind": "rolled_back", "version": moved.version})
    return moved
