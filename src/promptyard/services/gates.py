"""Label gates (issue 16): a release label may require a passing evaluation before it moves to a new version
(services/labels.move) or a ramp starts on it (services/ramps.start).

A gate says: on dataset D, the candidate's score S is not worse than the label's current version's by more
than `max_drop` points, by the lower bound of the paired 95% interval (domain/paired.not_worse). The
evidence is the newest finished evaluation runs on one version of D that ran both versions (one run with
both as variants, or two runs on the same dataset version); their items are paired by dataset item. A move
without such runs, or with a lower bound below -max_drop, is refused (a rollback to an older version is
never held: labels.move gates only moves to a newer version) with a Conflict whose key names the
reason; a passing decision is audited with the runs it rests on ("gate.pass").
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from promptyard.domain import access, names, paired
from promptyard.domain.logs import SCORE_NAME
from promptyard.domain.records import Principal
from promptyard.errors import Conflict, InvalidInput, NotFound
from promptyard.services import audit, evaluations, prompts
from promptyard.store.models import AuditEvent, Dataset, LabelGate
from promptyard.store.types import utcnow

MAX_DROP = 100.0


def _record(g: LabelGate) -> dict[str, Any]:
    return {"label": g.label, "dataset": g.dataset_id, "score": g.score, "max_drop": g.max_drop,
            "created_by": g.created_by, "created_at": g.created_at}


def _may_set(p: Principal, label: str) -> None:
    access.require(p, "write")
    if not access.may_move(p, label):
        raise access.Forbidden("errors.gates.needs_admin", label=label)


def get(session: Session, p: Principal, prompt_id: int, label: str) -> dict[str, Any] | None:
    access.require(p, "read")
    prompts.load(session, p, prompt_id)
    label = names.label_name(label)
    g = session.scalar(select(LabelGate).where(LabelGate.prompt_id == prompt_id, LabelGate.label == label))
    return _record(g) if g else None


def list_gates(session: Session, p: Principal, prompt_id: int) -> list[dict[str, Any]]:
    """The prompt's gates by label, each with its dataset's name."""
    access.require(p, "read")
    prompt = prompts.load(session, p, prompt_id)
    rows = session.execute(select(LabelGate, Dataset.name).join(Dataset, Dataset.id == LabelGate.dataset_id)
                           .where(LabelGate.prompt_id == prompt.id).order_by(LabelGate.label))
    return [_record(g) | {"dataset_name": name} for g, name in rows]


def decisions(session: Session, p: Principal, prompt_id: int, *, limit: int = 20) -> list[dict[str, Any]]:
    """The prompt's passing gate decisions, newest first: what check() audited (the runs, n, the interval),
    who moved the label and when."""
    access.require(p, "read")
    prompt = prompts.load(session, p, prompt_id)
    rows = session.scalars(select(AuditEvent).where(
        AuditEvent.workspace_id == p.workspace_id, AuditEvent.object_type == "prompt",
        AuditEvent.object_id == str(prompt.id), AuditEvent.action == "gate.pass")
        .order_by(AuditEvent.id.desc()).limit(limit))
    return [dict(e.details or {}) | {"actor": e.actor, "created_at": e.created_at} for e in rows]


def set_gate(session: Session, p: Principal, prompt_id: int, label: str, *, dataset: Any, score: Any,
             max_drop: Any = 0.0) -> dict[str, Any]:
    """Require a passing evaluation before `label` moves (replaces the label's gate). Audited."""
    label = names.label_name(label)
    _may_set(p, label)
    prompt = prompts.load(session, p, prompt_id, lock=True)
    if type(dataset) is not int:
        raise InvalidInput("errors.gates.dataset", field="dataset")
    if not isinstance(score, str) or not SCORE_NAME.match(score):
        raise InvalidInput("errors.gates.score", field="score")
    if isinstance(max_drop, bool) or not isinstance(max_drop, (int, float)) or not (
            math.isfinite(max_drop) and 0 <= max_drop <= MAX_DROP):
        raise InvalidInput("errors.gates.max_drop", field="max_drop", most=f"{MAX_DROP:g}")
    from promptyard.services import datasets  # the dataset must exist in this workspace

    datasets.get(session, p, dataset)
    g = session.scalar(select(LabelGate).where(LabelGate.prompt_id == prompt.id, LabelGate.label == label))
    if g is None:
        g = LabelGate(workspace_id=p.workspace_id, prompt_id=prompt.id, label=label)
        session.add(g)
    g.dataset_id, g.score, g.max_drop, g.created_by, g.created_at = dataset, score, float(max_drop), p.actor, utcnow()
    session.flush()
    audit.record(session, p.workspace_id, p.actor, "gate.set", "prompt", prompt.id,
                 {"label": label, "dataset": dataset, "score": score, "max_drop": float(max_drop)})
    return _record(g)


def delete(session: Session, p: Principal, prompt_id: int, label: str) -> None:
    _may_set(p, label)
    prompt = prompts.load(session, p, prompt_id, lock=True)
    g = session.scalar(select(LabelGate).where(LabelGate.prompt_id == prompt.id, LabelGate.label == label))
    if g is None:
        raise NotFound("errors.gates.none", label=label)
    session.delete(g)
    audit.record(session, p.workspace_id, p.actor, "gate.delete", "prompt", prompt.id, {"label": label})


def _evidence(session: Session, p: Principal, g: LabelGate, baseline: int, candidate: int):
    """The newest (base run, variant), (candidate run, variant) on one dataset version, or None."""
    base_runs = evaluations.finished_runs_with(session, p.workspace_id, g.dataset_id, g.prompt_id, baseline)
    cand_runs = evaluations.finished_runs_with(session, p.workspace_id, g.dataset_id, g.prompt_id, candidate)
    best = None
    for cand in cand_runs:
        for base in base_runs:
            if base[0].dataset_version != cand[0].dataset_version:
                continue
            if g.score not in evaluations.score_names(base[0]) or g.score not in evaluations.score_names(cand[0]):
                continue
            key = (cand[0].dataset_version, cand[0].id, base[0].id == cand[0].id, base[0].id)
            if best is None or key > best[0]:
                best = (key, base, cand)
    return None if best is None else (best[1], best[2])


def check(session: Session, p: Principal, prompt_id: int, label: str, *, baseline: int | None,
          candidate: int, action: str) -> dict[str, Any] | None:
    """Whether moving `label` from `baseline` to `candidate` may go ahead: None without a gate (or when
    nothing changes); the decision (audited) when it passes; Conflict naming the reason when it does not."""
    g = session.scalar(select(LabelGate).where(LabelGate.prompt_id == prompt_id, LabelGate.label == label))
    if g is None or baseline is None or baseline == candidate:
        return None
    found = _evidence(session, p, g, baseline, candidate)
    if found is None:
        raise Conflict("errors.gates.no_run", label=label, candidate=candidate, baseline=baseline,
                       dataset=g.dataset_id, score=g.score)
    base, cand = found
    result, _, _ = evaluations.paired_scores(session, base, cand, g.score)
    ok, reason = paired.not_worse(result, g.max_drop)
    decision = {"label": label, "action": action, "baseline": baseline, "candidate": candidate,
                "dataset": g.dataset_id, "dataset_version": cand[0].dataset_version, "score": g.score,
                "max_drop": g.max_drop, "base_run": base[0].id, "candidate_run": cand[0].id,
                "base_variant": base[1], "candidate_variant": cand[1], "n": result.n,
                "mean_diff": result.mean_diff, "ci_low": result.low, "ci_high": result.high, "passed": ok}
    if not ok:
        drop = "-" if result.low is None else f"{-result.low:.1f}"  # a refused bound is a drop: said as points worse
        fields = {"label": label, "score": g.score, "drop": drop, "max_drop": f"{g.max_drop:g}", "n": result.n,
                  "runs": ", ".join(f"#{r}" for r in dict.fromkeys((base[0].id, cand[0].id)))}  # one run: named once
        if reason == "errors.gates.worse":
            raise Conflict("errors.gates.worse", details=decision, **fields)
        raise Conflict("errors.gates.too_few_items", details=decision, **fields)
    audit.record(session, p.workspace_id, p.actor, "gate.pass", "prompt", prompt_id, decision)
    return decision
