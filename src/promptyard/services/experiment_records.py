"""Experiments as records: every policy period of a release label is one experiment, started by
the label move that set the policy and ended (its results frozen) by the move that changed or
removed it. Which experiment a logged request counts for is decided here too (`Assigner`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from promptyard.domain import access, names, routing
from promptyard.domain import experiments as ex
from promptyard.domain.records import Principal
from promptyard.errors import Conflict, NotFound
from promptyard.services import experiment_results, prompts
from promptyard.store.experiment_totals import UnitKey, unit_digest
from promptyard.store.models import Experiment, LabelEvent
from promptyard.store.types import utcnow


@dataclass(frozen=True)
class ExperimentRecord:
    id: int
    prompt_id: int
    label: str
    state: str  # running | ended
    policy: dict[str, Any]
    baseline: int
    hypothesis: str
    primary_metric: str
    planned_units: int
    min_effect: float | None
    started_by: str
    started_at: datetime
    ended_by: str
    ended_at: datetime | None
    outcome: dict[str, Any] | None
    start_event_id: int | None
    end_event_id: int | None


def record(row: Experiment) -> ExperimentRecord:
    return ExperimentRecord(row.id, row.prompt_id, row.label, "running" if row.ended_at is None else "ended",
                            row.policy, row.baseline, row.hypothesis, row.primary_metric, row.planned_units,
                            row.min_effect, row.started_by, row.started_at, row.ended_by, row.ended_at,
                            row.outcome, row.start_event_id, row.end_event_id)


def running(session: Session, workspace_id: int, prompt_id: int, label: str, *, lock: bool = False
            ) -> Experiment | None:
    q = select(Experiment).where(Experiment.workspace_id == workspace_id, Experiment.prompt_id == prompt_id,
                                 Experiment.label == label, Experiment.ended_at.is_(None))
    return session.scalar(q.with_for_update() if lock else q)


def on_move(session: Session, p: Principal, prompt_id: int, label: str, *, policy: dict[str, Any] | None,
            version: int | None, event: LabelEvent) -> None:
    """Called by every label move (services/labels.py) that changed the label: the running
    experiment ends with this move, and a new one starts when the label now has a policy."""
    current = running(session, p.workspace_id, prompt_id, label, lock=True)
    if current is not None:
        kind = "changed" if policy is not None else ("removed" if version is None else "ended")
        end(session, current, actor=p.actor, event=event, outcome={"kind": kind, "version": version,
                                                                   "forced": False, "reason": event.reason})
    if policy is not None:
        session.add(Experiment(workspace_id=p.workspace_id, prompt_id=prompt_id, label=label, policy=policy,
                               baseline=version, started_by=p.actor, started_at=event.created_at or utcnow(),
                               start_event_id=event.id))
        session.flush()


def end(session: Session, row: Experiment, *, actor: str, event: LabelEvent, outcome: dict[str, Any]) -> None:
    row.results = experiment_results.compute(session, row)
    row.ended_at, row.ended_by, row.end_event_id, row.outcome = event.created_at or utcnow(), actor, event.id, outcome


def set_outcome(session: Session, p: Principal, prompt_id: int, label: str, event_id: int,
                outcome: dict[str, Any]) -> None:
    """Name what the move `event_id` did to the experiment it ended (promotion, rollback)."""
    row = session.scalar(select(Experiment).where(Experiment.workspace_id == p.workspace_id,
                                                  Experiment.prompt_id == prompt_id, Experiment.label == label,
                                                  Experiment.end_event_id == event_id))
    if row is not None:
        row.outcome = (row.outcome or {}) | outcome


def declare(session: Session, p: Principal, experiment_id: int, fields: dict[str, Any]) -> ExperimentRecord:
    """Set what a running experiment tests (hypothesis, primary metric, planned units, minimum
    effect). An ended experiment's declaration is part of its frozen evidence: not changeable."""
    access.require(p, "write")
    row = get_row(session, p, experiment_id, lock=True)
    checked = ex.declaration(fields)
    if row.ended_at is not None:
        raise Conflict("errors.experiments.experiment_has_ended_declaration", experiment_id=experiment_id)
    for key, value in checked.items():
        setattr(row, key, value)
    session.flush()
    return record(row)


def get_row(session: Session, p: Principal, experiment_id: int, *, lock: bool = False) -> Experiment:
    access.require(p, "read")
    q = select(Experiment).where(Experiment.workspace_id == p.workspace_id, Experiment.id == experiment_id)
    row = session.scalar(q.with_for_update() if lock else q)
    if row is None:
        raise NotFound("errors.experiments.no_experiment_id", experiment_id=experiment_id)
    return row


def list_for(session: Session, p: Principal, prompt_id: int, label: str | None = None) -> list[ExperimentRecord]:
    access.require(p, "read")
    prompt = prompts.load(session, p, prompt_id)
    q = select(Experiment).where(Experiment.workspace_id == p.workspace_id, Experiment.prompt_id == prompt.id)
    if label is not None:  # a deleted label keeps its experiments: the name is checked, not the label
        q = q.where(Experiment.label == names.label_name(label))
    return [record(r) for r in session.scalars(q.order_by(Experiment.id.desc()))]


def running_in_workspace(session: Session, p: Principal) -> dict[tuple[int, str], ExperimentRecord]:
    """Every running experiment of the workspace, by (prompt id, label): one query."""
    access.require(p, "read")
    rows = session.scalars(select(Experiment).where(Experiment.workspace_id == p.workspace_id,
                                                    Experiment.ended_at.is_(None)))
    return {(r.prompt_id, r.label): record(r) for r in rows}


# --- which experiment a request counts for -------------------------------------------------------

def counts_for(policy: dict[str, Any], rule: str | None, version: int | None) -> bool:
    """A request counts for an experiment only when the rule that routed it is one of the
    policy's rules and serves its version: a client that routed by a policy cached from before
    the change is not mixed into the new experiment."""
    weights = routing.rules(policy).get(rule or "")
    return bool(weights) and weights.get(version or 0, 0) > 0


def unit_key(experiment_id: int | None, version: int | None, rule: str | None, unit: str | None) -> UnitKey | None:
    if experiment_id is None or version is None or rule is None:
        return None
    return (experiment_id, version, rule, unit_digest(unit))


class Assigner:
    """Finds, for requests of one workspace, the experiment of their label running at their
    start time (periods are loaded once per (prompt, label) and kept for the transaction)."""

    def __init__(self, session: Session, workspace_id: int):
        self.session, self.workspace_id = session, workspace_id
        self.periods: dict[tuple[int, str], list[tuple[int, datetime, datetime | None, dict]]] = {}

    def experiment_for(self, prompt_id: int | None, label: str | None, start_time: datetime,
                       routing_: dict[str, Any] | None, version: int | None) -> int | None:
        if prompt_id is None or not label or not routing_:
            return None
        key = (prompt_id, label)
        if key not in self.periods:
            rows = self.session.execute(
                select(Experiment.id, Experiment.started_at, Experiment.ended_at, Experiment.policy)
                .where(Experiment.workspace_id == self.workspace_id, Experiment.prompt_id == prompt_id,
                       Experiment.label == label).order_by(Experiment.started_at.desc()).limit(50))
            self.periods[key] = [tuple(r) for r in rows]
        for eid, started, ended, policy in self.periods[key]:
            if started <= start_time and (ended is None or start_time < ended):
                return eid if counts_for(policy, routing_.get("rule"), version) else None
        return None
