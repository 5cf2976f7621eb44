"""Ingesting the request log: batches of logs (idempotent by client id) and one log at a time
(the PromptLayer-compatible routes), linked to the prompt version that produced them, redacted,
assigned to experiments, with the running totals kept in step and the annotations that arrived
first (pending) applied. In two steps: `prepare` (checks, redaction, the stored forms; no database, so
the API runs it before the write transaction, in the ingest workers' processes) and `store`. Annotating
is services/request_annotations.py, reading services/request_reads.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from promptyard.domain import access, costs
from promptyard.domain import logs as rl
from promptyard.domain.records import Principal
from promptyard.errors import InvalidInput, NotFound, PromptyardError
from promptyard.services import changes, experiment_records, labels, prompts, redaction
from promptyard.services.request_annotations import apply_pending, score_context, score_row, unit
from promptyard.services.request_reads import find
from promptyard.store import bulk, partitions, rollups, text_search
from promptyard.store.models import RedactionCount, Request, RequestMetadata, RequestTag, Score
from promptyard.store.types import utcnow


@dataclass(frozen=True)
class Context:
    """What preparing logs needs from the database, read before the write transaction. It pickles:
    the ingest workers (services/ingest_workers.py) prepare batches with it in other processes."""
    now: datetime
    configs: dict[str, Any]  # the workspace's score configs by name
    redaction: redaction.Spec | None
    dialect: str  # "sqlite" | "postgresql": the form values are bound in


@dataclass
class Ready:
    """One log checked, redacted and bound for its database, not yet stored: its JSON values and texts are
    in `bound` and `index_entry` only (the log's own fields for them are emptied, so it pickles small)."""
    index: int  # in the batch
    log: rl.NormalLog
    counts: dict[str, int]  # redacted spans by kind
    bound: dict[str, Any]  # input, output, parameters and the times in the driver's form (store/bulk.bind)
    index_entry: Any  # store/text_search.entry
    sent_metadata: dict[str, str] | None  # as sent, for routing (only for a log that names a prompt)


@dataclass
class Prepared:
    """A batch made ready to store (picklable): its valid logs, each client id once; those refused by index."""
    logs: list[Ready]
    errors: list[dict[str, Any]]
    ids: list[str]  # the client ids of the valid logs, in the batch's order (repeats kept)


def limit(p: Principal, max_batch: int, publishable_max_batch: int | None = None) -> int:
    """How many logs one batch from this caller may hold (a publishable, browser key gets the smaller
    `publishable_max_batch`, when given); the caller must be allowed to ingest."""
    access.require(p, "ingest")
    if p.key_kind == "publishable" and publishable_max_batch is not None:
        return min(max_batch, publishable_max_batch)
    return max_batch


def context(session: Session, p: Principal) -> Context:
    return Context(utcnow(), score_context(session, p), redaction.spec(session, p.workspace_id),
                   session.get_bind().dialect.name)


def ingest(session: Session, p: Principal, logs: list[Any], *, max_batch: int, source: str = "api",
           publishable_max_batch: int | None = None) -> dict:
    """Store each valid log; report invalid ones by index. Replayed ids store nothing twice. All in this
    process and transaction (the API's batches are prepared before it, in the ingest workers)."""
    most = limit(p, max_batch, publishable_max_batch)
    ctx = context(session, p)
    return store(session, p, prepare(logs, ctx, most=most), ctx, source)


def prepare(logs: list[Any], ctx: Context, *, most: int, red: Any = redaction.LOOK_UP) -> Prepared:
    """A batch checked (at most `most` logs), normalised, redacted and bound, without the database. `red`:
    a redactor to share (OTLP's logs and spans share many texts); by default one from `ctx`."""
    if not isinstance(logs, list):
        raise InvalidInput("errors.requests.requests_list_logs")
    if not logs:
        raise InvalidInput("errors.requests.requests_batch_empty")
    if len(logs) > most:
        raise InvalidInput("errors.requests.requests_batch_may_hold", max_batch=most, n=len(logs))
    good: list[tuple[int, rl.NormalLog]] = []
    errors = []
    for i, raw in enumerate(logs):
        try:
            good.append((i, rl.normalise(raw, now=ctx.now, configs=ctx.configs)))
        except rl.FIELD_ERRORS as exc:
            errors.append({"index": i, "field": exc.field, "message": exc.message})
    return Prepared(_ready(ctx, good, red), errors, [log.client_id for _, log in good])


def _ready(ctx: Context, good: list[tuple[int, rl.NormalLog]], red: Any = redaction.LOOK_UP) -> list[Ready]:
    seen: set[str] = set()
    unique = [(i, log) for i, log in good if not (log.client_id in seen or seen.add(log.client_id))]
    if red is redaction.LOOK_UP:
        red = redaction.redactor(ctx.redaction)
    sent = [log.metadata if log.prompt else None for _, log in unique]  # routing sees what was sent
    counts = [redaction.log(red, log) for _, log in unique]  # only the redacted log is stored
    table = Request.__table__
    bound = [bulk.bind(table, name, [getattr(log, name) for _, log in unique], ctx.dialect) for name in _BOUND]
    memo: dict[str, str] = {}
    ready = []
    for n, (i, log) in enumerate(unique):
        entry = text_search.entry(ctx.dialect, log.input_text, log.output_text, memo)
        log.input = log.output = log.parameters = None
        log.input_text = log.output_text = ""
        ready.append(Ready(i, log, counts[n], {name: values[n] for name, values in zip(_BOUND, bound)}, entry,
                           sent[n]))
    return ready


_BOUND = ("input", "output", "parameters", "start_time", "end_time", "tags")  # bound before the transaction


def store(session: Session, p: Principal, prepared: Prepared, ctx: Context, source: str) -> dict:
    """Store a prepared batch (in the caller's write transaction): the answer ingest gives."""
    inserted, warnings = _ingest(session, p, prepared.logs, ctx, source)
    return {"accepted": len(inserted), "duplicates": len(prepared.ids) - len(inserted), "ids": prepared.ids,
            "errors": prepared.errors, "warnings": warnings}


def ingest_one(session: Session, p: Principal, raw: dict, *, source: str = "api",
               prompt_id: int | None = None) -> tuple[int, bool]:
    """Store one log; (row id, created), or rl.LogError when it is not a valid log. A replayed
    client id returns the stored row's id, so a client that resends the same log gets the same
    answer. `prompt_id` links the log to a prompt known by id only (the name is what attribution
    resolves)."""
    if prompt_id is not None and isinstance(raw.get("prompt"), dict):
        try:
            raw = raw | {"prompt": raw["prompt"] | {"name": prompts.load(session, p, prompt_id).name}}
        except NotFound:
            raw = {k: v for k, v in raw.items() if k != "prompt"}  # stored unlinked, like a bad name
    access.require(p, "ingest")
    ctx = context(session, p)
    log = rl.normalise(raw, now=ctx.now, configs=ctx.configs)
    inserted, _ = _ingest(session, p, _ready(ctx, [(0, log)]), ctx, source)
    return find(session, p, log.client_id), bool(inserted)


def _ingest(session: Session, p: Principal, ready: list[Ready], ctx: Context,
            source: str) -> tuple[set[str], list[dict]]:
    """Prepared logs stored: the client ids inserted now, and warnings."""
    attribution = _Attribution(session, p)
    assigner = experiment_records.Assigner(session, p.workspace_id)
    red = redaction.redactor(ctx.redaction)  # for routing decisions' units (the logs are redacted already)
    rows, warnings = [], []
    now = utcnow()  # when the batch was received: one object, converted once
    for item in ready:  # ids stored before are skipped by the insert itself (a replay answers the same)
        log = item.log
        row = _row(p, log, source, now) | item.bound
        warning = attribution.apply(row, log, metadata=item.sent_metadata or {})
        if warning:
            warnings.append({"index": item.index, "message": warning})
        row["routing"] = redaction.routing_of(red, row["routing"])
        row["experiment_id"] = assigner.experiment_for(row["prompt_id"], row["label"], log.start_time,
                                                       row["routing"], row["version_number"])
        rows.append(row)
    return _store(session, p, rows, ready, now), warnings


def _row(p: Principal, log: rl.NormalLog, source: str, now: datetime) -> dict[str, Any]:
    cost = log.cost if log.cost is not None else costs.cost(log.model, log.input_tokens, log.output_tokens)
    return {
        "workspace_id": p.workspace_id, "client_id": log.client_id, "received_at": now,
        "start_time": log.start_time, "end_time": log.end_time, "latency_ms": log.latency_ms,
        "provider": log.provider, "model": log.model, "function_name": log.function_name, "input": log.input,
        "output": log.output, "parameters": log.parameters, "status": log.status, "error_type": log.error_type,
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


def _store(session: Session, p: Principal, rows: list[dict], ready: list[Ready], now: datetime) -> set[str]:
    if not rows:
        return set()
    for row, rid in zip(rows, partitions.new_ids(session, now, len(rows)) or ()):
        row["id"] = rid
    inserted = dict(bulk.insert(session, Request.__table__, rows, skip_conflicts_on=("workspace_id", "client_id"),
                                returning=("client_id", "id"), bound=_BOUND))
    meta, tags, scores, redacted, entries = [], [], [], [], []
    changes = rollups.Changes()
    for item, row in zip(ready, rows):
        log = item.log
        rid = inserted.get(log.client_id)
        if rid is None:
            continue
        entries.append((rid, p.workspace_id, item.index_entry))
        redacted += redaction.count_rows(p.workspace_id, rid, item.counts)
        meta += [{"request_id": rid, "key": k, "value": v, "workspace_id": p.workspace_id}
                 for k, v in log.metadata.items()]
        tags += [{"request_id": rid, "tag": t, "workspace_id": p.workspace_id} for t in log.tags]
        scores += [score_row(p, rid, s, now) for s in log.scores]
        version = rollups.key(row["prompt_name"], row["version_number"])
        where = unit(row["experiment_id"], row["version_number"], row["routing"])
        changes.request(version, at=log.start_time, status=row["status"], total_tokens=row["total_tokens"], cost=row["cost"],
                        latency_ms=row["latency_ms"], unit=where)
        for sc in log.scores:
            changes.score(version, sc["name"], sc["value"], at=log.start_time, unit=where)
    for model, values in ((RequestMetadata, meta), (RequestTag, tags), (Score, scores), (RedactionCount, redacted)):
        bulk.insert(session, model.__table__, values)
    text_search.add_entries(session, entries)
    apply_pending(session, p, inserted, changes)
    changes.apply(session, p.workspace_id)  # last: its rows stay locked only until the commit
    return set(inserted)
