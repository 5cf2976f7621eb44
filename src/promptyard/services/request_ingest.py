"""Ingesting the request log: batches of logs (idempotent by client id) and one log at a time
(the PromptLayer-compatible routes), linked to the prompt version that produced them, redacted,
assigned to experiments, with the running totals kept in step and the annotations that arrived
first (pending) applied. Annotating is services/request_annotations.py, reading
services/request_reads.py."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from promptyard.domain import access, costs
from promptyard.domain import logs as rl
from promptyard.domain.records import Principal
from promptyard.errors import InvalidInput, NotFound, PromptyardError
from promptyard.services import changes, experiment_records, labels, prompts, redaction
from promptyard.services.request_annotations import apply_pending, score_context, score_row, unit
from promptyard.services.request_reads import find
from promptyard.store import bulk, rollups, text_search
from promptyard.store.models import RedactionCount, Request, RequestMetadata, RequestTag, Score
from promptyard.store.types import utcnow


def ingest(session: Session, p: Principal, logs: list[Any], *, max_batch: int, source: str = "api",
           publishable_max_batch: int | None = None, red: Any = redaction.LOOK_UP) -> dict:
    """Store each valid log; report invalid ones by index. Replayed ids store nothing twice.
    A publishable (browser) key gets the smaller `publishable_max_batch`, when given. `red`: the
    workspace's redactor when the caller has it already (redaction.for_workspace), to share its memory
    of texts seen."""
    access.require(p, "ingest")
    if not logs:
        raise InvalidInput("errors.requests.requests_batch_empty")
    if p.key_kind == "publishable" and publishable_max_batch is not None:
        max_batch = min(max_batch, publishable_max_batch)
    if len(logs) > max_batch:
        raise InvalidInput("errors.requests.requests_batch_may_hold", max_batch=max_batch, n=len(logs))
    now = utcnow()
    configs = score_context(session, p)
    good: list[tuple[int, rl.NormalLog]] = []
    errors = []
    for i, raw in enumerate(logs):
        try:
            good.append((i, rl.normalise(raw, now=now, configs=configs)))
        except rl.FIELD_ERRORS as exc:
            errors.append({"index": i, "field": exc.field, "message": exc.message})
    inserted, warnings = _ingest(session, p, good, source, red)
    return {"accepted": len(inserted), "duplicates": len(good) - len(inserted),
            "ids": [log.client_id for _, log in good], "errors": errors, "warnings": warnings}


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
    log = rl.normalise(raw, now=utcnow(), configs=score_context(session, p))
    inserted, _ = _ingest(session, p, [(0, log)], source)
    return find(session, p, log.client_id), bool(inserted)


def _ingest(session: Session, p: Principal, good: list[tuple[int, rl.NormalLog]],
            source: str, red: Any = redaction.LOOK_UP) -> tuple[set[str], list[dict]]:
    """Valid logs (by their index in the batch) stored: the client ids inserted now, and warnings."""
    seen: set[str] = set()
    unique = [(i, log) for i, log in good if not (log.client_id in seen or seen.add(log.client_id))]
    attribution = _Attribution(session, p)
    assigner = experiment_records.Assigner(session, p.workspace_id)
    if red is redaction.LOOK_UP:
        red = redaction.for_workspace(session, p.workspace_id)
    rows, counts, warnings = [], [], []
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
    return _store(session, p, rows, [log for _, log in unique], counts), warnings


def _row(p: Principal, log: rl.NormalLog, source: str) -> dict[str, Any]:
    cost = log.cost if log.cost is not None else costs.cost(log.model, log.input_tokens, log.output_tokens)
    return {
        "workspace_id": p.workspace_id, "client_id": log.client_id, "received_at": utcnow(),
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


def _store(session: Session, p: Principal, rows: list[dict], logs: list[rl.NormalLog],
           counts: list[dict[str, int]]) -> set[str]:
    if not rows:
        return set()
    inserted = dict(bulk.insert(session, Request.__table__, rows, skip_conflicts_on=("workspace_id", "client_id"),
                                returning=("client_id", "id")))
    meta, tags, scores, redacted, texts = [], [], [], [], []
    changes = rollups.Changes()
    for log, row, found in zip(logs, rows, counts):
        rid = inserted.get(log.client_id)
        if rid is None:
            continue
        texts.append((rid, p.workspace_id, log.input_text, log.output_text))
        redacted += redaction.count_rows(p.workspace_id, rid, found)
        meta += [{"request_id": rid, "key": k, "value": v, "workspace_id": p.workspace_id}
                 for k, v in log.metadata.items()]
        tags += [{"request_id": rid, "tag": t, "workspace_id": p.workspace_id} for t in log.tags]
        scores += [score_row(p, rid, s) for s in log.scores]
        version = rollups.key(row["prompt_name"], row["version_number"])
        where = unit(row["experiment_id"], row["version_number"], row["routing"])
        changes.request(version, at=row["start_time"], status=row["status"], total_tokens=row["total_tokens"], cost=row["cost"],
                        latency_ms=row["latency_ms"], unit=where)
        for sc in log.scores:
            changes.score(version, sc["name"], sc["value"], at=row["start_time"], unit=where)
    for model, values in ((RequestMetadata, meta), (RequestTag, tags), (Score, scores), (RedactionCount, redacted)):
        bulk.insert(session, model.__table__, values)
    text_search.add(session, texts)
    apply_pending(session, p, inserted, changes)
    changes.apply(session, p.workspace_id)  # last: its rows stay locked only until the commit
    return set(inserted)
