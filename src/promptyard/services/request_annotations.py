"""Annotating the request log: metadata, tags and scores (also before the log itself has arrived:
kept pending, applied when it arrives), relinking a stored request to a prompt version, putting
it in a group; the running totals kept in step. Each annotation kind is a `Kind`: how its payload
is checked, redacted and applied. Ingest is services/request_ingest.py, reading
services/request_reads.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable

from sqlalchemy import and_, delete, select
from sqlalchemy.orm import Session

from promptyard.domain import access
from promptyard.domain import logs as rl
from promptyard.domain import redaction_policy as rp
from promptyard.domain.numbers import is_ascii_digits
from promptyard.domain.records import Principal
from promptyard.errors import InvalidInput, NotFound
from promptyard.services import experiment_records, keys, labels, redaction
from promptyard.services.request_reads import find
from promptyard.store import rollups
from promptyard.store.experiment_totals import UnitKey
from promptyard.store.models import PendingUpdate, Request, RequestMetadata, RequestTag, Score
from promptyard.store.types import utcnow


def unit(experiment_id: int | None, version: int | None, routing: dict | None) -> UnitKey | None:
    """The experiment unit a request's totals count for (None outside experiments)."""
    routing = routing or {}
    return experiment_records.unit_key(experiment_id, version, routing.get("rule"), routing.get("unit"))


def score_row(p: Principal, request_id: int, s: dict[str, Any]) -> dict[str, Any]:
    now = utcnow()
    return {"workspace_id": p.workspace_id, "request_id": request_id, "name": s["name"], "value": s["value"],
            "comment": s["comment"], "source": s["source"], "author": s["author"] or p.actor,
            "created_at": now, "updated_at": now}


# --- the three kinds ---------------------------------------------------------------------------


def _check_metadata(payload: Any, p: Principal) -> list[dict]:
    return [rl.metadata(payload)]


def _apply_metadata(session: Session, p: Principal, request_id: int, item: dict, changes: rollups.Changes) -> None:
    for k, v in item.items():
        row = session.get(RequestMetadata, (request_id, k))
        if row:
            row.value = v
        else:
            session.add(RequestMetadata(request_id=request_id, key=k, value=v, workspace_id=p.workspace_id))


def _check_tags(payload: Any, p: Principal) -> list[dict]:
    if not isinstance(payload, dict):
        raise InvalidInput("tags: send {\"add\": [...], \"remove\": [...]}")
    return [{"add": rl.tags(payload.get("add"), "add"), "remove": rl.tags(payload.get("remove"), "remove")}]


def _apply_tags(session: Session, p: Principal, request_id: int, item: dict, changes: rollups.Changes) -> None:
    have = set(session.scalars(select(RequestTag.tag).where(RequestTag.request_id == request_id)))
    for t in item.get("add", []):
        if t not in have:
            session.add(RequestTag(request_id=request_id, tag=t, workspace_id=p.workspace_id))
    if item.get("remove"):
        session.execute(delete(RequestTag).where(RequestTag.request_id == request_id,
                                                 RequestTag.tag.in_(item["remove"])))
    req = session.get(Request, request_id)
    req.tags = sorted((have | set(item.get("add", []))) - set(item.get("remove", [])))


def _check_scores(payload: Any, p: Principal) -> list[dict]:
    """One score or a list; each keeps its author (the sender's, unless named), whoever applies it
    later when it is kept pending."""
    items = payload if isinstance(payload, list) else [payload]
    checked = [rl.score(s, f"scores[{i}]") for i, s in enumerate(items)]
    return [s | {"author": s["author"] or p.actor} for s in checked]


def _apply_score(session: Session, p: Principal, request_id: int, s: dict[str, Any],
                 changes: rollups.Changes) -> None:
    # The request's row lock serialises every score write and relink of this request: the value
    # replaced (and subtracted from the totals) is the one stored last, and the version it counts
    # for cannot change underneath (PostgreSQL; SQLite writers are serial anyway).
    name, number, experiment_id, routing = session.execute(
        select(Request.prompt_name, Request.version_number, Request.experiment_id, Request.routing)
        .where(Request.id == request_id).with_for_update()).one()
    version, where = rollups.key(name, number), unit(experiment_id, number, routing)
    changes.score(version, s["name"], s["value"], unit=where)
    row = session.scalar(select(Score).where(Score.request_id == request_id, Score.name == s["name"]))
    if row is None:
        session.add(Score(**score_row(p, request_id, s)))
        return
    changes.score(version, s["name"], row.value, sign=-1, unit=where)
    row.value, row.comment, row.source = s["value"], s["comment"], s["source"]
    row.author, row.updated_at = s["author"] or p.actor, utcnow()


@dataclass(frozen=True)
class Kind:
    name: str  # as a pending update stores it
    check: Callable[[Any, Principal], list[dict]]  # the payload as sent -> items (or InvalidInput)
    redact: Callable[[rp.Redactor | None, dict], tuple[dict, dict[str, int]]]
    apply: Callable[[Session, Principal, int, dict, rollups.Changes], None]


METADATA = Kind("metadata", _check_metadata, redaction.metadata_update, _apply_metadata)
TAGS = Kind("tags", _check_tags, redaction.tags_update, _apply_tags)
SCORES = Kind("scores", _check_scores, redaction.score_update, _apply_score)
KINDS = {k.name: k for k in (METADATA, TAGS, SCORES)}


def _apply(session: Session, p: Principal, request_id: int, kind: Kind, item: dict, found: dict[str, int],
           changes: rollups.Changes) -> None:
    kind.apply(session, p, request_id, item, changes)
    session.flush()
    redaction.add_counts(session, p.workspace_id, request_id, found)


def annotate(session: Session, p: Principal, ref: str, kind: Kind, payload: Any, *, grace_s: int,
             stored_only: bool = False) -> dict:
    """Metadata/tags/scores for a logged request, or kept pending for one whose log has not
    arrived yet (applied when it arrives, within the grace window). `stored_only` (the UI): an
    unknown id is NotFound, never kept pending (that is for SDKs whose log is still on its way)."""
    access.require(p, "ingest")
    red = redaction.for_workspace(session, p.workspace_id)
    redacted = [kind.redact(red, item) for item in kind.check(payload, p)]
    request_id = find(session, p, ref)
    if request_id is None:
        if stored_only or is_ascii_digits(ref) or len(ref) > 64:
            raise NotFound(f"no request with id {ref}")
        cutoff = utcnow() - timedelta(seconds=grace_s)
        session.execute(delete(PendingUpdate).where(PendingUpdate.workspace_id == p.workspace_id,
                                                    PendingUpdate.created_at < cutoff))
        session.add_all(PendingUpdate(workspace_id=p.workspace_id, client_id=ref, kind=kind.name, payload=item,
                                      redacted=found or None) for item, found in redacted)
        return {"id": ref, "pending": True}
    changes = rollups.Changes()
    for item, found in redacted:
        _apply(session, p, request_id, kind, item, found, changes)
    changes.apply(session, p.workspace_id)
    return {"id": ref, "pending": False}


# --- pending updates ---------------------------------------------------------------------------


def apply_pending(session: Session, p: Principal, inserted: dict[str, int], changes: rollups.Changes) -> None:
    """Pending updates for logs just stored (client id -> row id), applied in the order they came."""
    pending = session.scalars(select(PendingUpdate).where(
        PendingUpdate.workspace_id == p.workspace_id, PendingUpdate.client_id.in_(list(inserted)))
        .order_by(PendingUpdate.id)).all()
    for item in pending:
        _apply(session, p, inserted[item.client_id], KINDS[item.kind], item.payload, item.redacted or {}, changes)
        session.delete(item)


def apply_late_pending(session: Session, *, grace_s: int, limit: int = 1000) -> int:
    """Apply pending updates whose log is stored after all, and drop those past the grace window.
    A score sent while its log was being stored is kept pending (the log's transaction had not
    committed), and that transaction looked for pending updates before this one was committed:
    neither saw the other. The server runs this every PROMPTYARD_RAMP_TICK_S, from any number of
    processes (rows are locked, skipped by the others)."""
    session.execute(delete(PendingUpdate).where(PendingUpdate.created_at < utcnow() - timedelta(seconds=grace_s)))
    found = session.execute(
        select(PendingUpdate, Request.id).join(Request, and_(Request.workspace_id == PendingUpdate.workspace_id,
                                                             Request.client_id == PendingUpdate.client_id))
        .order_by(PendingUpdate.id).limit(limit).with_for_update(skip_locked=True, of=PendingUpdate)).all()
    by_workspace: dict[int, rollups.Changes] = {}
    for item, request_id in found:
        changes = by_workspace.setdefault(item.workspace_id, rollups.Changes())
        _apply(session, keys.system_principal(item.workspace_id, actor="pending"), request_id, KINDS[item.kind],
               item.payload, item.redacted or {}, changes)
        session.delete(item)
    for workspace_id, changes in sorted(by_workspace.items()):
        changes.apply(session, workspace_id)
    return len(found)


# --- relinking and grouping --------------------------------------------------------------------


def _stored(session: Session, p: Principal, ref: str) -> int:
    access.require(p, "ingest")
    rid = find(session, p, ref)
    if rid is None:
        raise NotFound(f"no request with id {ref}")
    return rid


def link_prompt(session: Session, p: Principal, ref: str, *, name: str, version: int | None = None,
                label: str | None = None, variables: dict | None = None) -> dict:
    """Attach an already stored request to the prompt version that produced it (a label resolves,
    with the request's own metadata for routing policies, to the version it serves)."""
    rid = _stored(session, p, ref)
    if variables is not None and not isinstance(variables, dict):
        raise InvalidInput("prompt_input_variables: must be an object")
    meta = {m.key: m.value for m in session.scalars(select(RequestMetadata).where(RequestMetadata.request_id == rid))}
    found = labels.resolve(session, p, name, version=version, label=label, metadata=meta)
    red = redaction.for_workspace(session, p.workspace_id)
    variables, counts = redaction.variables(red, variables)
    row = session.get(Request, rid, with_for_update=True)  # see _apply_score
    routing = redaction.routing_of(red, {"label": found.label, "rule": found.rule, "unit": found.unit}) \
        if found.rule else row.routing
    experiment_id = experiment_records.Assigner(session, p.workspace_id).experiment_for(
        found.prompt.id, found.label, row.start_time, routing, found.version.number)
    _move_totals(session, p, row, rollups.key(found.prompt.name, found.version.number),
                 unit(experiment_id, found.version.number, routing))
    row.prompt_id, row.prompt_version_id = found.prompt.id, found.version.id
    row.prompt_name, row.version_number, row.label = found.prompt.name, found.version.number, found.label
    row.input_variables, row.routing, row.experiment_id = variables, routing, experiment_id
    redaction.add_counts(session, p.workspace_id, rid, counts)
    session.flush()
    return {"id": row.client_id, "prompt": found.prompt.name, "version": found.version.number}


def _move_totals(session: Session, p: Principal, row: Request, new: rollups.Key, new_unit: UnitKey | None) -> None:
    """A relinked request (and its scores) counts for its new version (and experiment) from now on."""
    old, old_unit = rollups.key(row.prompt_name, row.version_number), unit(row.experiment_id, row.version_number,
                                                                            row.routing)
    if old == new and old_unit == new_unit:
        return
    changes = rollups.Changes()
    scores = session.execute(select(Score.name, Score.value).where(Score.request_id == row.id)).all()
    for version, where, sign in ((old, old_unit, -1), (new, new_unit, 1)):
        changes.request(version, status=row.status, total_tokens=row.total_tokens, cost=row.cost,
                        latency_ms=row.latency_ms, sign=sign, unit=where)
        for name, value in scores:
            changes.score(version, name, value, sign=sign, unit=where)
    changes.apply(session, p.workspace_id)


def set_group(session: Session, p: Principal, ref: str, group: str) -> None:
    rid = _stored(session, p, ref)
    session.get(Request, rid).group_id = group
    session.flush()
