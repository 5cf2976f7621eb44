"""Writing the request log: ingest (idempotent by client id), annotate (metadata, tags, scores -
also before the log itself has arrived), relink to a prompt version; the running totals kept in
step. Reading is services/request_reads.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.orm import Session

from promptyard.domain import access, costs
from promptyard.domain import logs as rl
from promptyard.domain.numbers import ROW_ID_MAX, ascii_int, is_ascii_digits
from promptyard.domain.records import Principal
from promptyard.errors import InvalidInput, NotFound, PromptyardError
from promptyard.services import changes, experiment_records, keys, labels, prompts, redaction
from promptyard.store import bulk, rollups
from promptyard.store.experiment_totals import UnitKey
from promptyard.store.models import PendingUpdate, RedactionCount, Request, RequestMetadata, RequestTag, Score
from promptyard.store.types import utcnow


def ingest(session: Session, p: Principal, logs: list[Any], *, max_batch: int, source: str = "api",
           publishable_max_batch: int | None = None) -> dict:
    """Store each valid log; report invalid ones by index. Replayed ids store nothing twice.
    A publishable (browser) key gets the smaller `publishable_max_batch`, when given."""
    access.require(p, "ingest")
    if not logs:
        raise InvalidInput("requests: the batch is empty")
    if p.key_kind == "publishable" and publishable_max_batch is not None:
        max_batch = min(max_batch, publishable_max_batch)
    if len(logs) > max_batch:
        raise InvalidInput(f"requests: a batch may hold at most {max_batch} logs (got {len(logs)})")
    now = utcnow()
    good: list[tuple[int, rl.NormalLog]] = []
    errors, warnings = [], []
    for i, raw in enumerate(logs):
        try:
            good.append((i, rl.normalise(raw, now=now)))
        except rl.LogError as exc:
            errors.append({"index": i, "field": exc.field, "message": exc.message})
    seen: set[str] = set()
    unique = [(i, log) for i, log in good if not (log.client_id in seen or seen.add(log.client_id))]
    attribution = _Attribution(session, p)
    assigner = experiment_records.Assigner(session, p.workspace_id)
    red = redaction.for_workspace(session, p.workspace_id)
    rows, counts = [], []
    for i, log in unique:  # ids stored before are skipped by the insert itself (a replay answers the same)
        sent_metadata = log.metadata  # routing sees what was sent; only the redacted log is stored
        counts.append(redaction.log(red, log))
        row = _row(p, log, source)
        warning = attribution.apply(row, log, metadata=sent_metadata)
        if warning:
            warnings.append({"index": i, "message": warning})
        row["routing"] = redaction.routing_of(red, row["routing"])
        row["experiment_id"] = assigner.experiment_for(row["prompt_id"], row["label"], row["start_time"],
                                                       row["routing"], row["version_number"])
        rows.append(row)
    inserted = _store(session, p, rows, [log for _, log in unique], counts)
    return {"accepted": len(inserted), "duplicates": len(good) - len(inserted),
            "ids": [log.client_id for _, log in good], "errors": errors, "warnings": warnings}


def _row(p: Principal, log: rl.NormalLog, source: str) -> dict[str, Any]:
    cost = log.cost if log.cost is not None else costs.cost(log.model, log.input_tokens, log.output_tokens)
    return {
        "workspace_id": p.workspace_id, "client_id": log.client_id, "received_at": utcnow(),
        "start_time": log.start_time, "end_time": log.end_time, "latency_ms": log.latency_ms,
        "provider": log.provider, "model": log.model, "function_name": log.function_name, "input": log.input,
        "output": log.output, "parameters": log.parameters, "input_text": log.input_text,
        "output_text": log.output_text, "status": log.status, "error_type": log.error_type,
        "error_message": log.error_message, "input_tokens": log.input_tokens, "output_tokens": log.output_tokens,
        "total_tokens": log.total_tokens, "cost": cost, "prompt_id": None, "prompt_version_id": None,
        "prompt_name": None, "version_number": None, "label": None, "input_variables": None,
        "routing": log.routing, "group_id": log.group_id, "span_id": log.span_id, "tags": log.tags,
        "source": source,
    }


class _Attribution:
    """Links logs to the prompt version that produced them; a label resolves to the version it
    serves (a routing decision sent by the SDK wins, since it chose the version). Each log is
    resolved on its own: a policy without a sticky unit draws a version per request, so one
    resolution must not stand for all the logs of a batch with the same metadata."""

    def __init__(self, session: Session, p: Principal):
        self.session, self.p = session, p
        self.cursor: int | None = None  # the workspace's change cursor, read once per batch
        self.failed: dict[tuple, PromptyardError] = {}

    def apply(self, row: dict[str, Any], log: rl.NormalLog, *, metadata: dict[str, str]) -> str | None:
        prompt = log.prompt
        if not prompt:
            return None
        name, version, label = prompt["name"], prompt.get("version"), prompt.get("label")
        row["prompt_name"], row["input_variables"] = name, prompt.get("variables")
        row["label"] = label or (log.routing or {}).get("label")
        key = (name, version, None if version else label)
        if self.cursor is None:
            self.cursor = changes.cursor(self.session, self.p.workspace_id)
        found = self.failed.get(key)
        if found is None:
            try:
                found = labels.resolve(self.session, self.p, name, version=version, label=label,
                                       metadata=metadata, cursor=self.cursor)
            except PromptyardError as exc:
                found = self.failed[key] = exc
        if isinstance(found, PromptyardError):
            return f"stored without a prompt link: {found.message}"
        row.update(prompt_id=found.prompt.id, prompt_version_id=found.version.id,
                   version_number=found.version.number, prompt_name=found.prompt.name)
        if not version and label and not log.routing and found.rule:
            row["routing"] = {"label": found.label, "rule": found.rule, "unit": found.unit}
        return None


def _store(session: Session, p: Principal, rows: list[dict], logs: list[rl.NormalLog],
           counts: list[dict[str, int]]) -> set[str]:
    if not rows:
        return set()
    inserted = dict(bulk.insert(session, Request.__table__, rows, skip_conflicts_on=("workspace_id", "client_id"),
                                returning=("client_id", "id")))
    meta, tags, scores, redacted = [], [], [], []
    changes = rollups.Changes()
    for log, row, found in zip(logs, rows, counts):
        rid = inserted.get(log.client_id)
        if rid is None:
            continue
        redacted += redaction.count_rows(p.workspace_id, rid, found)
        meta += [{"request_id": rid, "key": k, "value": v, "workspace_id": p.workspace_id}
                 for k, v in log.metadata.items()]
        tags += [{"request_id": rid, "tag": t, "workspace_id": p.workspace_id} for t in log.tags]
        scores += [_score_row(p, rid, s) for s in log.scores]
        version = rollups.key(row["prompt_name"], row["version_number"])
        unit = _unit(row["experiment_id"], row["version_number"], row["routing"])
        changes.request(version, status=row["status"], total_tokens=row["total_tokens"], cost=row["cost"],
                        latency_ms=row["latency_ms"], unit=unit)
        for sc in log.scores:
            changes.score(version, sc["name"], sc["value"], unit=unit)
    for model, values in ((RequestMetadata, meta), (RequestTag, tags), (Score, scores), (RedactionCount, redacted)):
        bulk.insert(session, model.__table__, values)
    _apply_pending(session, p, inserted, changes)
    changes.apply(session, p.workspace_id)  # last: its rows stay locked only until the commit
    return set(inserted)


def _unit(experiment_id: int | None, version: int | None, routing: dict | None) -> UnitKey | None:
    routing = routing or {}
    return experiment_records.unit_key(experiment_id, version, routing.get("rule"), routing.get("unit"))


def _score_row(p: Principal, request_id: int, s: dict[str, Any]) -> dict[str, Any]:
    now = utcnow()
    return {"workspace_id": p.workspace_id, "request_id": request_id, "name": s["name"], "value": s["value"],
            "comment": s["comment"], "source": s["source"], "author": s["author"] or p.actor,
            "created_at": now, "updated_at": now}


def _apply_pending(session: Session, p: Principal, inserted: dict[str, int], changes: rollups.Changes) -> None:
    pending = session.scalars(select(PendingUpdate).where(
        PendingUpdate.workspace_id == p.workspace_id, PendingUpdate.client_id.in_(list(inserted)))
        .order_by(PendingUpdate.id)).all()
    for item in pending:
        _annotate(session, p, inserted[item.client_id], item.kind, item.payload, changes)
        redaction.add_counts(session, p.workspace_id, inserted[item.client_id], item.redacted or {})
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
        _annotate(session, keys.system_principal(item.workspace_id, actor="pending"), request_id, item.kind,
                  item.payload, changes)
        redaction.add_counts(session, item.workspace_id, request_id, item.redacted or {})
        session.delete(item)
    for workspace_id, changes in sorted(by_workspace.items()):
        changes.apply(session, workspace_id)
    return len(found)


def _annotate(session: Session, p: Principal, request_id: int, kind: str, payload: dict,
              changes: rollups.Changes) -> None:
    if kind == "metadata":
        for k, v in payload.items():
            row = session.get(RequestMetadata, (request_id, k))
            if row:
                row.value = v
            else:
                session.add(RequestMetadata(request_id=request_id, key=k, value=v, workspace_id=p.workspace_id))
    elif kind == "tags":
        have = set(session.scalars(select(RequestTag.tag).where(RequestTag.request_id == request_id)))
        for t in payload.get("add", []):
            if t not in have:
                session.add(RequestTag(request_id=request_id, tag=t, workspace_id=p.workspace_id))
        if payload.get("remove"):
            session.execute(delete(RequestTag).where(RequestTag.request_id == request_id,
                                                     RequestTag.tag.in_(payload["remove"])))
        req = session.get(Request, request_id)
        req.tags = sorted((have | set(payload.get("add", []))) - set(payload.get("remove", [])))
    else:
        _upsert_score(session, p, request_id, payload, changes)
    session.flush()


def _upsert_score(session: Session, p: Principal, request_id: int, s: dict[str, Any],
                  changes: rollups.Changes) -> None:
    # The request's row lock serialises every score write and relink of this request: the value
    # replaced (and subtracted from the totals) is the one stored last, and the version it counts
    # for cannot change underneath (PostgreSQL; SQLite writers are serial anyway).
    name, number, experiment_id, routing = session.execute(
        select(Request.prompt_name, Request.version_number, Request.experiment_id, Request.routing)
        .where(Request.id == request_id).with_for_update()).one()
    version, unit = rollups.key(name, number), _unit(experiment_id, number, routing)
    changes.score(version, s["name"], s["value"], unit=unit)
    row = session.scalar(select(Score).where(Score.request_id == request_id, Score.name == s["name"]))
    if row is None:
        session.add(Score(**_score_row(p, request_id, s)))
        return
    changes.score(version, s["name"], row.value, sign=-1, unit=unit)
    row.value, row.comment, row.source = s["value"], s["comment"], s["source"]
    row.author, row.updated_at = s["author"] or p.actor, utcnow()


def find(session: Session, p: Principal, ref: str) -> int | None:
    cond = Request.client_id == ref
    number = ascii_int(ref, hi=ROW_ID_MAX)
    if number is not None:
        cond = or_(cond, Request.id == number)
    return session.scalar(select(Request.id).where(Request.workspace_id == p.workspace_id, cond).limit(1))


def annotate(session: Session, p: Principal, ref: str, kind: str, payload: Any, *, grace_s: int) -> dict:
    """Metadata/tags/scores for a logged request, or kept pending for one whose log has not
    arrived yet (applied when it arrives, within the grace window)."""
    access.require(p, "ingest")
    red = redaction.for_workspace(session, p.workspace_id)
    redacted = [redaction.annotation(red, kind, item) for item in _check_annotation(kind, payload)]
    request_id = find(session, p, ref)
    if request_id is None:
        if is_ascii_digits(ref) or len(ref) > 64:
            raise NotFound(f"no request with id {ref}")
        cutoff = utcnow() - timedelta(seconds=grace_s)
        session.execute(delete(PendingUpdate).where(PendingUpdate.workspace_id == p.workspace_id,
                                                    PendingUpdate.created_at < cutoff))
        if kind == "scores":  # whoever applies it later, the score keeps its author
            redacted = [(item | {"author": item.get("author") or p.actor}, found) for item, found in redacted]
        session.add_all(PendingUpdate(workspace_id=p.workspace_id, client_id=ref, kind=kind, payload=item,
                                      redacted=found or None) for item, found in redacted)
        return {"id": ref, "pending": True}
    changes = rollups.Changes()
    for item, found in redacted:
        _annotate(session, p, request_id, kind, item, changes)
        redaction.add_counts(session, p.workspace_id, request_id, found)
    changes.apply(session, p.workspace_id)
    return {"id": ref, "pending": False}


def _check_annotation(kind: str, payload: Any) -> list[dict]:
    if kind == "metadata":
        return [rl.metadata(payload)]
    if kind == "tags":
        if not isinstance(payload, dict):
            raise InvalidInput("tags: send {\"add\": [...], \"remove\": [...]}")
        return [{"add": rl.tags(payload.get("add"), "add"), "remove": rl.tags(payload.get("remove"), "remove")}]
    items = payload if isinstance(payload, list) else [payload]
    return [rl.score(s, f"scores[{i}]") for i, s in enumerate(items)]


# --- used by the PromptLayer-compatible routes (web/compat) ------------------------------------


def ingest_one(session: Session, p: Principal, raw: dict, *, source: str = "api",
               prompt_id: int | None = None) -> tuple[int, bool]:
    """Store one log; (row id, created). A replayed client id returns the stored row's id, so
    a client that resends the same log gets the same answer. `prompt_id` links the log to a
    prompt known by id only (the name is what attribution resolves)."""
    if prompt_id is not None and isinstance(raw.get("prompt"), dict):
        try:
            raw = raw | {"prompt": raw["prompt"] | {"name": prompts.load(session, p, prompt_id).name}}
        except NotFound:
            raw = {k: v for k, v in raw.items() if k != "prompt"}  # stored unlinked, like a bad name
    result = ingest(session, p, [raw], max_batch=1, source=source)
    if result["errors"]:
        err = result["errors"][0]
        raise rl.LogError(err["field"], err["message"].split(": ", 1)[-1])
    rid = find(session, p, result["ids"][0])
    return rid, bool(result["accepted"])


def link_prompt(session: Session, p: Principal, ref: str, *, name: str, version: int | None = None,
                label: str | None = None, variables: dict | None = None) -> dict:
    """Attach an already stored request to the prompt version that produced it (a label resolves,
    with the request's own metadata for routing policies, to the version it serves)."""
    access.require(p, "ingest")
    rid = find(session, p, ref)
    if rid is None:
        raise NotFound(f"no request with id {ref}")
    if variables is not None and not isinstance(variables, dict):
        raise InvalidInput("prompt_input_variables: must be an object")
    meta = {m.key: m.value for m in session.scalars(select(RequestMetadata).where(RequestMetadata.request_id == rid))}
    found = labels.resolve(session, p, name, version=version, label=label, metadata=meta)
    red = redaction.for_workspace(session, p.workspace_id)
    variables, counts = redaction.variables(red, variables)
    row = session.get(Request, rid, with_for_update=True)  # see _upsert_score
    routing = redaction.routing_of(red, {"label": found.label, "rule": found.rule, "unit": found.unit}) \
        if found.rule else row.routing
    experiment_id = experiment_records.Assigner(session, p.workspace_id).experiment_for(
        found.prompt.id, found.label, row.start_time, routing, found.version.number)
    _move_totals(session, p, row, rollups.key(found.prompt.name, found.version.number),
                 _unit(experiment_id, found.version.number, routing))
    row.prompt_id, row.prompt_version_id = found.prompt.id, found.version.id
    row.prompt_name, row.version_number, row.label = found.prompt.name, found.version.number, found.label
    row.input_variables, row.routing, row.experiment_id = variables, routing, experiment_id
    redaction.add_counts(session, p.workspace_id, rid, counts)
    session.flush()
    return {"id": row.client_id, "prompt": found.prompt.name, "version": found.version.number}


def _move_totals(session: Session, p: Principal, row: Request, new: rollups.Key, new_unit: UnitKey | None) -> None:
    """A relinked request (and its scores) counts for its new version (and experiment) from now on."""
    old, old_unit = rollups.key(row.prompt_name, row.version_number), _unit(row.experiment_id, row.version_number,
                                                                             row.routing)
    if old == new and old_unit == new_unit:
        return
    changes = rollups.Changes()
    scores = session.execute(select(Score.name, Score.value).where(Score.request_id == row.id)).all()
    for version, unit, sign in ((old, old_unit, -1), (new, new_unit, 1)):
        changes.request(version, status=row.status, total_tokens=row.total_tokens, cost=row.cost,
                        latency_ms=row.latency_ms, sign=sign, unit=unit)
        for name, value in scores:
            changes.score(version, name, value, sign=sign, unit=unit)
    changes.apply(session, p.workspace_id)


def set_group(session: Session, p: Principal, ref: str, group: str) -> None:
    access.require(p, "ingest")
    rid = find(session, p, ref)
    if rid is None:
        raise NotFound(f"no request with id {ref}")
    session.get(Request, rid).group_id = group
    session.flush()
