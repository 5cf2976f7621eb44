"""Annotating the request log: metadata, tags and scores (also before the log itself has arrived:
kept pending, applied when it arrives), relinking a stored request to a prompt version, putting
it in a group; the running totals kept in step. Each annotation kind is a `Kind`: how its payload
is checked, redacted and applied. Ingest is services/request_ingest.py, reading
services/request_reads.py."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

from sqlalchemy import and_, bindparam, delete, or_, select, update
from sqlalchemy.orm import Session

from promptyard.domain import access
from promptyard.domain import logs as rl
from promptyard.domain import redaction_policy as rp
from promptyard.domain.numbers import ROW_ID_MAX, ascii_int, is_ascii_digits
from promptyard.domain.records import Principal
from promptyard.errors import InvalidInput, NotFound
from promptyard.services import experiment_records, keys, labels, redaction, score_configs
from promptyard.services.request_reads import find
from promptyard.store import bulk, rollups
from promptyard.store.experiment_totals import UnitKey
from promptyard.store.models import PendingUpdate, Request, RequestMetadata, RequestTag, Score
from promptyard.store.types import utcnow


def unit(experiment_id: int | None, version: int | None, routing: dict | None) -> UnitKey | None:
    """The experiment unit a request's totals count for (None outside experiments)."""
    routing = routing or {}
    return experiment_records.unit_key(experiment_id, version, routing.get("rule"), routing.get("unit"))


def score_row(p: Principal, request_id: int, s: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """`now`: the time of the batch it came with (one object: store/bulk converts it once)."""
    now = now or utcnow()
    return {"workspace_id": p.workspace_id, "request_id": request_id, "name": s["name"], "value": s["value"],
            "comment": s["comment"], "source": s["source"], "author": s["author"] or p.actor,
            "created_at": now, "updated_at": now}


# --- the requests annotated: found and locked together --------------------------------------------


@dataclass(frozen=True)
class Target:
    """A stored request being annotated (locked until the commit) and what its totals count for."""
    id: int
    version: rollups.Key
    unit: UnitKey | None
    at: datetime  # its start time (the hour its scores count in)


def _locked(session: Session, workspace_id: int, cond: Any) -> dict[int, tuple[str, Target]]:
    # The requests' row locks serialise every score write and relink of them: the value replaced
    # (and subtracted from the totals) is the one stored last, and the version it counts for cannot
    # change underneath (PostgreSQL; SQLite writers are serial anyway). Taken in id order, so two
    # writers of overlapping requests never wait for each other in a cycle.
    rows = session.execute(
        select(Request.id, Request.client_id, Request.prompt_name, Request.version_number, Request.experiment_id,
               Request.routing, Request.start_time).where(Request.workspace_id == workspace_id, cond)
        .order_by(Request.id).with_for_update()).all()
    return {r.id: (r.client_id, Target(r.id, rollups.key(r.prompt_name, r.version_number),
                                      unit(r.experiment_id, r.version_number, r.routing), r.start_time)) for r in rows}


def targets(session: Session, p: Principal, refs: Iterable[str]) -> dict[str, Target]:
    """The stored requests by ref (client id, or number in digits), locked; a ref of none is left
    out. A ref that is one request's client id and another's number names the first."""
    refs = set(refs)
    numbers = {ref: n for ref in refs if (n := ascii_int(ref, hi=ROW_ID_MAX)) is not None}
    cond = bulk.one_of(Request.client_id, refs)
    if numbers:
        cond = or_(cond, bulk.one_of(Request.id, set(numbers.values())))
    found = _locked(session, p.workspace_id, cond)
    by_client = {client_id: t for client_id, t in found.values()}
    out = {ref: by_client.get(ref) or found.get(numbers.get(ref), (None, None))[1] for ref in refs}
    return {ref: t for ref, t in out.items() if t is not None}


def _may_wait(ref: str) -> bool:
    """Whether an update for a request not stored may wait for it: a number never arrives later."""
    return not is_ascii_digits(ref) and len(ref) <= 64


# --- the three kinds: each applies many items (a request and what to do to it) at once -------------

Item = tuple[Target, dict]


def _no_context(session: Session, p: Principal) -> None:
    return None


def _check_metadata(payload: Any, p: Principal, context: Any = None) -> list[dict]:
    return [rl.metadata(payload)]


def _apply_metadata(session: Session, p: Principal, items: list[Item], changes: rollups.Changes) -> None:
    latest = {(t.id, k): v for t, item in items for k, v in item.items()}  # a later item overwrites
    if not latest:
        return
    table = RequestMetadata.__table__
    have = {(rid, k) for rid, k in session.execute(select(table.c.request_id, table.c.key).where(
        bulk.one_of(table.c.request_id, {rid for rid, _ in latest}), bulk.one_of(table.c.key, {k for _, k in latest})))}
    old = [{"rid": rid, "k": k, "v": v} for (rid, k), v in latest.items() if (rid, k) in have]
    if old:
        session.execute(update(table).where(table.c.request_id == bindparam("rid"), table.c.key == bindparam("k"))
                        .values(value=bindparam("v")), old)
    bulk.insert(session, table, [{"request_id": rid, "key": k, "value": v, "workspace_id": p.workspace_id}
                                 for (rid, k), v in latest.items() if (rid, k) not in have])


def _check_tags(payload: Any, p: Principal, context: Any = None) -> list[dict]:
    if not isinstance(payload, dict):
        raise InvalidInput("errors.requests.tags_send_add_remove")
    return [{"add": rl.tags(payload.get("add"), "add"), "remove": rl.tags(payload.get("remove"), "remove")}]


def _apply_tags(session: Session, p: Principal, items: list[Item], changes: rollups.Changes) -> None:
    for target, item in items:
        have = set(session.scalars(select(RequestTag.tag).where(RequestTag.request_id == target.id)))
        for t in item.get("add", []):
            if t not in have:
                session.add(RequestTag(request_id=target.id, tag=t, workspace_id=p.workspace_id))
        if item.get("remove"):
            session.execute(delete(RequestTag).where(RequestTag.request_id == target.id,
                                                     RequestTag.tag.in_(item["remove"])))
        req = session.get(Request, target.id)
        req.tags = sorted((have | set(item.get("add", []))) - set(item.get("remove", [])))


def score_context(session: Session, p: Principal) -> dict[str, Any]:
    """What checking scores needs: the workspace's score configs by name (loaded once per call)."""
    return score_configs.for_scoring(session, p.workspace_id)


def _score(item: Any, p: Principal, name: str, configs: dict[str, Any] | None) -> dict:
    """One score as sent (checked against its config) -> as stored: it keeps its author (the
    sender's, unless named), whoever applies it later when it is kept pending."""
    s = rl.score(item, name, configs)
    return s | {"author": s["author"] or p.actor}


def _check_scores(payload: Any, p: Principal, configs: dict[str, Any] | None) -> list[dict]:
    """One score or a list."""
    items = payload if isinstance(payload, list) else [payload]
    return [_score(s, p, f"scores[{i}]", configs) for i, s in enumerate(items)]


def _apply_scores(session: Session, p: Principal, items: list[Item], changes: rollups.Changes) -> None:
    """A score per (request, name): a new one is added to the totals, a replaced one's old value
    taken out (items for the same request and name replace each other in the order they came)."""
    table = Score.__table__
    stored = {(r.request_id, r.name): (r.id, r.value) for r in session.execute(
        select(table.c.id, table.c.request_id, table.c.name, table.c.value).where(
            bulk.one_of(table.c.request_id, {t.id for t, _ in items}), bulk.one_of(table.c.name,
                        {s["name"] for _, s in items})))}
    current = {k: value for k, (_, value) in stored.items()}
    latest: dict[tuple[int, str], dict] = {}
    for t, s in items:
        k = (t.id, s["name"])
        if k in current:
            changes.score(t.version, s["name"], current[k], at=t.at, sign=-1, unit=t.unit)
        changes.score(t.version, s["name"], s["value"], at=t.at, unit=t.unit)
        current[k], latest[k] = s["value"], s
    now = utcnow()
    old = [{"sid": stored[k][0], "v": s["value"], "c": s["comment"], "src": s["source"], "a": s["author"] or p.actor,
            "t": now} for k, s in latest.items() if k in stored]
    if old:
        session.execute(update(table).where(table.c.id == bindparam("sid")).values(
            value=bindparam("v"), comment=bindparam("c"), source=bindparam("src"), author=bindparam("a"),
            updated_at=bindparam("t")), old)
    bulk.insert(session, table, [score_row(p, k[0], s) for k, s in latest.items() if k not in stored])


@dataclass(frozen=True)
class Kind:
    name: str  # as a pending update stores it
    check: Callable[[Any, Principal, Any], list[dict]]  # payload as sent, context -> items (or InvalidInput)
    redact: Callable[[rp.Redactor | None, dict], tuple[dict, dict[str, int]]]
    apply: Callable[[Session, Principal, list[Item], rollups.Changes], None]
    context: Callable[[Session, Principal], Any] = _no_context  # what `check` needs, loaded once per call


METADATA = Kind("metadata", _check_metadata, redaction.metadata_update, _apply_metadata)
TAGS = Kind("tags", _check_tags, redaction.tags_update, _apply_tags)
SCORES = Kind("scores", _check_scores, redaction.score_update, _apply_scores, score_context)
KINDS = {k.name: k for k in (METADATA, TAGS, SCORES)}


def _apply(session: Session, p: Principal, kind: Kind, items: list[tuple[Target, dict, dict[str, int]]],
           changes: rollups.Changes) -> None:
    """Items (a request, what to do, the spans redacted from it) applied; the redaction counts added."""
    if not items:
        return
    kind.apply(session, p, [(t, item) for t, item, _ in items], changes)
    session.flush()
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    for t, _, found in items:
        counts[t.id].update(found)
    for rid, found in sorted(counts.items()):
        redaction.add_counts(session, p.workspace_id, rid, dict(found))


def _keep_pending(session: Session, p: Principal, kind: Kind, items: list[tuple[str, dict, dict[str, int]]],
                  grace_s: int) -> None:
    """Items for requests whose log has not arrived (by client id), kept until it does (or the grace
    window is over: those past it are dropped here)."""
    cutoff = utcnow() - timedelta(seconds=grace_s)
    session.execute(delete(PendingUpdate).where(PendingUpdate.workspace_id == p.workspace_id,
                                                PendingUpdate.created_at < cutoff))
    session.add_all(PendingUpdate(workspace_id=p.workspace_id, client_id=ref, kind=kind.name, payload=item,
                                  redacted=found or None) for ref, item, found in items)


def annotate(session: Session, p: Principal, ref: str, kind: Kind, payload: Any, *, grace_s: int,
             stored_only: bool = False) -> dict:
    """Metadata/tags/scores for a logged request, or kept pending for one whose log has not
    arrived yet (applied when it arrives, within the grace window). `stored_only` (the UI): an
    unknown id is NotFound, never kept pending (that is for SDKs whose log is still on its way)."""
    access.require(p, "ingest")
    red = redaction.for_workspace(session, p.workspace_id)
    redacted = [kind.redact(red, item) for item in kind.check(payload, p, kind.context(session, p))]
    target = targets(session, p, [ref]).get(ref)
    if target is None:
        if stored_only or not _may_wait(ref):
            raise NotFound("errors.requests.no_request_id", ref=ref)
        _keep_pending(session, p, kind, [(ref, item, found) for item, found in redacted], grace_s)
        return {"id": ref, "pending": True}
    changes = rollups.Changes()
    _apply(session, p, kind, [(target, item, found) for item, found in redacted], changes)
    changes.apply(session, p.workspace_id)
    return {"id": ref, "pending": False}


# --- pending updates ---------------------------------------------------------------------------


def _apply_stored(session: Session, p: Principal, pending: list[tuple[PendingUpdate, int]],
                  changes: rollups.Changes) -> None:
    """Pending updates (with their request's row id) applied and deleted: per kind, in the order they came."""
    found = _locked(session, p.workspace_id, bulk.one_of(Request.id, {rid for _, rid in pending}))
    by_kind: dict[str, list] = defaultdict(list)
    for item, rid in pending:
        if rid in found:  # else erased meanwhile
            by_kind[item.kind].append((found[rid][1], item.payload, item.redacted or {}))
        session.delete(item)
    for name, items in by_kind.items():
        _apply(session, p, KINDS[name], items, changes)


def apply_pending(session: Session, p: Principal, inserted: dict[str, int], changes: rollups.Changes) -> None:
    """Pending updates for logs just stored (client id -> row id)."""
    pending = session.scalars(select(PendingUpdate).where(
        PendingUpdate.workspace_id == p.workspace_id, bulk.one_of(PendingUpdate.client_id, inserted))
        .order_by(PendingUpdate.id)).all()
    if pending:
        _apply_stored(session, p, [(item, inserted[item.client_id]) for item in pending], changes)


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
    by_workspace: dict[int, list[tuple[PendingUpdate, int]]] = defaultdict(list)
    for item, request_id in found:
        by_workspace[item.workspace_id].append((item, request_id))
    changes = {ws: rollups.Changes() for ws in by_workspace}
    for workspace_id, pending in sorted(by_workspace.items()):
        _apply_stored(session, keys.system_principal(workspace_id, actor="pending"), pending, changes[workspace_id])
    for workspace_id, c in sorted(changes.items()):
        c.apply(session, workspace_id)
    return len(found)


# --- many requests in one call ------------------------------------------------------------------


def _ref(entry: Any, name: str) -> str:
    if not isinstance(entry, dict):
        raise rl.LogError(name, "errors.requests.object_request")
    ref = entry.get("request")
    if isinstance(ref, int) and not isinstance(ref, bool) and 1 <= ref <= ROW_ID_MAX:
        return str(ref)
    if isinstance(ref, str) and 1 <= len(ref) <= 64:
        return ref
    raise rl.LogError(f"{name}.request", "errors.requests.request_id_1_64")


def _metadata_entry(entry: dict, p: Principal, name: str, context: Any = None) -> dict:
    if not isinstance(entry.get("metadata"), dict):
        raise rl.LogError(f"{name}.metadata", "errors.requests.object_key_value")
    return rl.metadata(entry["metadata"], f"{name}.metadata")


@dataclass(frozen=True)
class Batch:
    """A bulk call's body, {key: [{"request": id or number, ...}, ...]}: `item` checks one entry."""
    key: str
    kind: Kind
    item: Callable[[dict, Principal, str, Any], dict]  # entry, context -> the kind's item (or rl.FIELD_ERRORS)


SCORE_BATCH = Batch("scores", SCORES, _score)  # {request, name, value, comment?, source?, author?}
METADATA_BATCH = Batch("updates", METADATA, _metadata_entry)  # {request, metadata: {key: value}}


def batch_limit(p: Principal, max_batch: int, publishable_max_batch: int | None) -> int:
    """The most items one call may carry: a publishable (browser) key gets the smaller limit, when given."""
    if p.key_kind == "publishable" and publishable_max_batch is not None:
        return min(max_batch, publishable_max_batch)
    return max_batch


def annotate_many(session: Session, p: Principal, batch: Batch, body: Any, *, grace_s: int, max_items: int) -> dict:
    """Scores or metadata for many requests in one transaction, each entry as its single-request
    route would store it (also kept pending). Entries are checked on their own: refused ones are
    reported by index (like a batch of logs), the others applied."""
    access.require(p, "ingest")
    entries = body.get(batch.key) if isinstance(body, dict) else None
    if not isinstance(entries, list) or not entries:
        raise InvalidInput("errors.requests.send_least_entry", key=batch.key)
    if len(entries) > max_items:
        raise InvalidInput("errors.requests.call_may_hold_most", key=batch.key, max_items=max_items, n=len(entries))
    red = redaction.for_workspace(session, p.workspace_id)
    context = batch.kind.context(session, p)
    checked, errors = [], []
    for i, entry in enumerate(entries):
        name = f"{batch.key}[{i}]"
        try:
            checked.append((i, _ref(entry, name), *batch.kind.redact(red, batch.item(entry, p, name, context))))
        except rl.FIELD_ERRORS as exc:
            errors.append({"index": i, "field": exc.field, "message": exc.message})
    found = targets(session, p, {ref for _, ref, _, _ in checked})
    now, later = [], []
    for i, ref, item, counts in checked:
        if ref in found:
            now.append((found[ref], item, counts))
        elif _may_wait(ref):
            later.append((ref, item, counts))
        else:
            errors.append({"index": i, "field": f"{batch.key}[{i}].request", "message": f"no request with id {ref}"})
    changes = rollups.Changes()
    _apply(session, p, batch.kind, now, changes)
    changes.apply(session, p.workspace_id)
    if later:
        _keep_pending(session, p, batch.kind, later, grace_s)
    return {"accepted": len(now), "pending": len(later), "errors": sorted(errors, key=lambda e: e["index"])}


# --- relinking and grouping --------------------------------------------------------------------


def _stored(session: Session, p: Principal, ref: str) -> int:
    access.require(p, "ingest")
    rid = find(session, p, ref)
    if rid is None:
        raise NotFound("errors.requests.no_request_id", ref=ref)
    return rid


def link_prompt(session: Session, p: Principal, ref: str, *, name: str, version: int | None = None,
                label: str | None = None, variables: dict | None = None) -> dict:
    """Attach an already stored request to the prompt version that produced it (a label resolves,
    with the request's own metadata for routing policies, to the version it serves)."""
    rid = _stored(session, p, ref)
    if variables is not None and not isinstance(variables, dict):
        raise InvalidInput("errors.requests.prompt_input_variables_object")
    meta = {m.key: m.value for m in session.scalars(select(RequestMetadata).where(RequestMetadata.request_id == rid))}
    found = labels.resolve(session, p, name, version=version, label=label, metadata=meta)
    red = redaction.for_workspace(session, p.workspace_id)
    variables, counts = redaction.variables(red, variables)
    row = session.get(Request, rid, with_for_update=True)  # see _locked
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
        changes.request(version, at=row.start_time, status=row.status, total_tokens=row.total_tokens, cost=row.cost,
                        latency_ms=row.latency_ms, sign=sign, unit=where)
        for name, value in scores:
            changes.score(version, name, value, at=row.start_time, sign=sign, unit=where)
    changes.apply(session, p.workspace_id)


def set_group(session: Session, p: Principal, ref: str, group: str) -> None:
    rid = _stored(session, p, ref)
    session.get(Request, rid).group_id = group
    session.flush()
