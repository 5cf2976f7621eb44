"""Release labels: movable pointers (or routing policies) from a prompt to its versions,
every move recorded; and resolving a fetch (name + version | label) to one version."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from promptyard.domain import access, names, routing
from promptyard.domain.records import (
    Bundle,
    LabelEventRecord,
    LabelRecord,
    Principal,
    PromptRecord,
    Resolved,
    VersionRecord,
)
from promptyard.errors import InvalidInput, NotFound
from promptyard.services import audit, changes, experiment_records, prompts, versions
from promptyard.store.models import LabelEvent, PromptVersion, ReleaseLabel
from promptyard.store.types import utcnow

DEFAULT_LABEL = "production"


def _require_move(p: Principal, name: str, reason: str) -> None:
    access.require(p, "write")
    if not access.may_move(p, name):
        raise access.Forbidden("errors.labels.moving_label_needs_admin", name=name)
    if access.is_protected(name) and not reason.strip():
        raise InvalidInput("errors.labels.moving_label_needs_reason", name=name)


def list_labels(session: Session, p: Principal, prompt_id: int) -> list[LabelRecord]:
    return prompts.get(session, p, prompt_id).labels


def move(session: Session, p: Principal, prompt_id: int, name: str, *, version: int | None = None,
         policy: dict[str, Any] | None = None, reason: str = "") -> LabelRecord:
    """Point label `name` at `version`, or give it a routing policy (split + segments).

    With a policy, `version` is the label's base version (what it falls back to when the
    policy is removed); it defaults to the version with the largest weight in the split."""
    name = names.label_name(name)
    reason = reason if isinstance(reason, str) else ""
    _require_move(p, name, reason)
    prompt = prompts.load(session, p, prompt_id, lock=True)
    if policy is not None:
        existing = set(session.scalars(select(PromptVersion.number).where(PromptVersion.prompt_id == prompt.id)))
        policy = routing.validate_policy(policy, existing)
        if version is None:
            version = max(policy["split"], key=lambda s: (s["weight"], -s["version"]))["version"]
    if version is None:
        raise InvalidInput("errors.labels.give_version_label_should")
    target = versions.by_number_or_404(session, prompt, version)
    label = session.scalar(select(ReleaseLabel).where(ReleaseLabel.prompt_id == prompt.id,
                                                      ReleaseLabel.name == name))
    before_version = before_policy = None
    if label is None:
        label = ReleaseLabel(workspace_id=p.workspace_id, prompt_id=prompt.id, name=name, version_id=target.id)
        session.add(label)
    else:
        before_version = session.scalar(select(PromptVersion.number).where(PromptVersion.id == label.version_id))
        before_policy = label.policy
        if before_version == target.number and before_policy == policy:
            return _record(label, target.number)
    label.version_id, label.policy, label.updated_by, label.updated_at = target.id, policy, p.actor, utcnow()
    event = _event(session, p, prompt.id, prompt.name, name, before_version, target.number, before_policy, policy,
                   reason)
    if policy != before_policy or policy is not None and before_version != target.number:
        experiment_records.on_move(session, p, prompt.id, name, policy=policy, version=target.number, event=event)
    return _record(label, target.number)


def delete(session: Session, p: Principal, prompt_id: int, name: str, *, reason: str = "") -> None:
    _require_move(p, name, reason)
    prompt = prompts.load(session, p, prompt_id, lock=True)
    label = session.scalar(select(ReleaseLabel).where(ReleaseLabel.prompt_id == prompt.id,
                                                      ReleaseLabel.name == name))
    if label is None:
        raise NotFound("errors.labels.prompt_has_no_label", name=prompt.name, name2=name)
    before = session.scalar(select(PromptVersion.number).where(PromptVersion.id == label.version_id))
    session.delete(label)
    event = _event(session, p, prompt.id, prompt.name, name, before, None, label.policy, None, reason)
    experiment_records.on_move(session, p, prompt.id, name, policy=None, version=None, event=event)


def _event(session: Session, p: Principal, prompt_id: int, prompt_name: str, label: str, before: int | None,
           after: int | None, before_policy: Any, after_policy: Any, reason: str) -> LabelEvent:
    event = LabelEvent(workspace_id=p.workspace_id, prompt_id=prompt_id, label=label, from_version=before,
                       to_version=after, from_policy=before_policy, to_policy=after_policy, actor=p.actor,
                       reason=reason, created_at=utcnow())
    session.add(event)
    session.flush()
    audit.record(session, p.workspace_id, p.actor, "label.move" if after else "label.delete", "prompt", prompt_id,
                 {"label": label, "from": before, "to": after, "policy": after_policy, "reason": reason})
    audit.changed(session, p.workspace_id, prompt_name, "label")
    return event


def _record(label: ReleaseLabel, number: int) -> LabelRecord:
    return LabelRecord(label.name, number, label.policy, label.updated_by, label.updated_at)


def history(session: Session, p: Principal, prompt_id: int, label: str | None = None) -> list[LabelEventRecord]:
    access.require(p, "read")
    prompt = prompts.load(session, p, prompt_id)
    q = select(LabelEvent).where(LabelEvent.prompt_id == prompt.id)
    if label:
        q = q.where(LabelEvent.label == label)
    return [LabelEventRecord(e.id, e.label, e.from_version, e.to_version, e.from_policy, e.to_policy, e.actor,
                             e.reason, e.created_at) for e in session.scalars(q.order_by(LabelEvent.id.desc()))]


@dataclass
class _Target:
    """What a fetch spec points at, valid while the workspace's change cursor is unchanged."""

    cursor: int
    prompt: PromptRecord
    label: str | None
    number: int | None  # fixed version; None when a policy chooses
    policy: dict[str, Any] | None
    versions: dict[int, VersionRecord] = field(default_factory=dict)


# Fetch is the hot path. Every registry change appends to the change feed in the same
# transaction, so one indexed query (the workspace's newest change id) tells whether a cached
# target is still true - also across server processes.
_targets: dict[tuple, _Target] = {}
_MAX_TARGETS = 10_000


def resolve(session: Session, p: Principal, name: str, *, version: int | None = None, label: str | None = None,
            metadata: dict[str, str] | None = None, rng: random.Random | None = None,
            cursor: int | None = None) -> Resolved:
    """The version a fetch gets: an explicit version; else the label (routing by metadata when
    it carries a policy; 'latest' = newest); with neither, 'production' if set, else the newest.
    `cursor` is the workspace's change cursor when the caller read it already (in the same
    transaction: ingest resolves many logs at once)."""
    target = _cached_target(session, p, name, version, label, cursor)
    rule = unit = None
    number = target.number
    if target.policy:
        chosen = routing.assign(target.policy, metadata or {}, label=target.label, rng=rng)
        number, rule, unit = chosen.version, chosen.rule, chosen.unit
    found = target.versions.get(number)
    if found is None:
        prompt = prompts.load(session, p, target.prompt.id)
        found = target.versions[number] = versions.record(versions.by_number_or_404(session, prompt, number),
                                                          prompt.name)
    return Resolved(target.prompt, found, target.label, rule, unit)


def bundle(session: Session, p: Principal, name: str, *, version: int | None = None,
           label: str | None = None) -> Bundle:
    """The same fetch spec as `resolve`, for clients that route by themselves (our SDKs): no
    draw here; with a routing policy, every version it can serve plus the label's own."""
    target = _cached_target(session, p, name, version, label)
    if target.policy:
        base = next(lab.version for lab in target.prompt.labels if lab.name == target.label)
        numbers = routing.served_versions(target.policy) | {base}
    else:
        base, numbers = target.number, {target.number}
    return Bundle(target.prompt, target.label, target.policy, base,
                  {n: versions.get(session, p, target.prompt.id, n) for n in sorted(numbers)})


def _cached_target(session: Session, p: Principal, name: str, version: int | None, label: str | None,
                   cursor: int | None = None) -> _Target:
    access.require(p, "prompts:read")
    cursor = changes.cursor(session, p.workspace_id) if cursor is None else cursor
    key = (id(session.get_bind().pool), p.workspace_id, name, version, label)
    target = _targets.get(key)
    if target is None or target.cursor != cursor:
        if len(_targets) >= _MAX_TARGETS:
            _targets.clear()
        target = _targets[key] = _target(session, p, name, version, label, cursor)
    return target


def _target(session: Session, p: Principal, name: str, version: int | None, label: str | None,
            cursor: int) -> _Target:
    prompt = prompts.load_by_name(session, p, name)
    if not prompt.latest_version:
        raise NotFound("errors.labels.prompt_has_no_versions", name=prompt.name)
    record = prompts.records(session, p.workspace_id, [prompt])[0]
    if version is not None:
        return _Target(cursor, record, None, version, None)
    if label == "latest":
        return _Target(cursor, record, "latest", prompt.latest_version, None)
    row = next((lab for lab in record.labels if lab.name == (label or DEFAULT_LABEL)), None)
    if row is None and label:
        known = ", ".join(lab.name for lab in record.labels)
        raise NotFound("errors.labels.prompt_has_no_label_2", name=prompt.name, label=label, known=known or 'none')
    if row is None:
        return _Target(cursor, record, "latest", prompt.latest_version, None)
    return _Target(cursor, record, row.name, None if row.policy else row.version, row.policy)


# --- labels addressed by id (PromptLayer's REST paths: /prompt-labels/{id}) --------------------


@dataclass(frozen=True)
class LabelRef:
    id: int
    prompt_id: int
    name: str
    version: int
    version_id: int
    created_at: Any


def refs(session: Session, p: Principal, prompt_id: int, name: str | None = None) -> list[LabelRef]:
    """A prompt's labels with their row and version ids (or just the one called `name`)."""
    access.require(p, "prompts:read")
    prompt = prompts.load(session, p, prompt_id)
    q = (select(ReleaseLabel, PromptVersion.number).join(PromptVersion, ReleaseLabel.version_id == PromptVersion.id)
         .where(ReleaseLabel.prompt_id == prompt.id).order_by(ReleaseLabel.name))
    if name is not None:
        q = q.where(ReleaseLabel.name == name)
    return [LabelRef(lab.id, lab.prompt_id, lab.name, number, lab.version_id, lab.updated_at)
            for lab, number in session.execute(q)]


def ref_by_id(session: Session, p: Principal, label_id: int) -> LabelRef:
    access.require(p, "prompts:read")
    label = session.scalar(select(ReleaseLabel).where(ReleaseLabel.workspace_id == p.workspace_id,
                                                      ReleaseLabel.id == label_id))
    if label is None:
        raise NotFound("errors.labels.no_release_label_id", label_id=label_id)
    return refs(session, p, label.prompt_id, label.name)[0]
