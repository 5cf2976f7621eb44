"""OTLP spans stored: LLM spans become request logs through services/request_ingest (its
checks, limits, redaction, prompt links and idempotency apply unchanged; the client id is derived
from the trace and span ids), and every span is kept in the trace store (traces, spans), an LLM
span linked to its request and without message text of its own. Reading traces:
services/traces.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from promptyard.domain import genai_spans
from promptyard.domain import redaction_policy as rp
from promptyard.domain.records import Principal
from promptyard.domain.span_records import Span
from promptyard.errors import TooLarge
from promptyard.services import redaction, request_ingest
from promptyard.store import bulk
from promptyard.store.models import Request, RequestMetadata, Trace
from promptyard.store.models import Span as SpanRow
from promptyard.store.types import utcnow

SOURCE = "otel"
MAX_REPORTED = 5  # refused spans named in partial_success.error_message


@dataclass
class SpanReady:
    """One span's row, redacted and bound for its database (store/bulk.bind), without the workspace, trace
    row and request that storing fills in."""
    trace_id: str
    row: dict[str, Any]
    client_id: str | None  # an LLM span's: its log's client id


@dataclass
class PreparedSpans:
    """A batch of spans made ready to store without the database (it pickles: services/ingest_workers.py)."""
    spans: list[SpanReady]  # each (trace id, span id) once, those whose log was refused left out
    logs: request_ingest.Prepared | None  # the logs of the LLM spans not logged by another route
    refused: dict[tuple[str, str], str]  # (trace id, span id) -> why its log was refused
    elsewhere: list[tuple[str, str | None]]  # (client id, what it was logged as) of those logged elsewhere


def ingest(session: Session, p: Principal, spans: list[Span], *, max_batch: int,
           publishable_max_batch: int | None = None) -> dict[str, Any]:
    """Store a batch of spans; {"spans", "logs", "rejected", "message"}. A re-sent span stores
    nothing twice (spans by (trace id, span id), logs by their derived client id). All in this process
    and transaction (`POST /v1/traces` prepares before it, in the ingest workers)."""
    most = request_ingest.limit(p, max_batch, publishable_max_batch)
    ctx = request_ingest.context(session, p)
    return store(session, p, prepare(spans, ctx, most=most), ctx)


def prepare(spans: list[Span], ctx: request_ingest.Context, *, most: int) -> PreparedSpans:
    """Spans checked (at most `most`), their LLM spans' logs prepared (services/request_ingest.prepare) and
    every span's row redacted and bound, with one redactor: logs and spans share many texts."""
    if len(spans) > most:
        raise TooLarge("errors.traces.batch_may_hold_most", max_batch=most, n=len(spans))
    seen: set[tuple[str, str]] = set()
    spans = [s for s in spans if not ((s.trace_id, s.span_id) in seen or seen.add((s.trace_id, s.span_id)))]
    llm = [s for s in spans if genai_spans.is_llm(s)]
    own = [s for s in llm if not genai_spans.logged_elsewhere(s)]
    red = redaction.redactor(ctx.redaction)
    logs = request_ingest.prepare([genai_spans.log_of(s) for s in own], ctx, most=most, red=red) if own else None
    refused = {(own[e["index"]].trace_id, own[e["index"]].span_id): f"{e['field']}: {e['message']}"
               for e in (logs.errors if logs else [])}
    kept = [s for s in spans if (s.trace_id, s.span_id) not in refused]
    elsewhere = [(genai_spans.client_id(s), genai_spans.logged_as(s)) for s in llm if genai_spans.logged_elsewhere(s)]
    return PreparedSpans(_rows(kept, {id(s) for s in llm}, red, ctx.dialect), logs, refused, elsewhere)


def store(session: Session, p: Principal, prepared: PreparedSpans, ctx: request_ingest.Context) -> dict[str, Any]:
    """Store prepared spans (in the caller's write transaction): the answer `ingest` gives."""
    requests: dict[str, int] = {}
    if prepared.logs:
        ids = request_ingest.store(session, p, prepared.logs, ctx, SOURCE)["ids"]
        requests = dict(session.execute(select(Request.client_id, Request.id).where(
            Request.workspace_id == p.workspace_id, bulk.one_of(Request.client_id, ids))).all())
    requests |= _logged_elsewhere(session, p, prepared.elsewhere)
    stored = _store(session, p, prepared.spans, requests)
    problems = [f"span {span_id}: {message}" for (_, span_id), message in list(prepared.refused.items())[:MAX_REPORTED]]
    return {"spans": stored, "logs": len(requests), "rejected": len(prepared.refused), "message": "; ".join(problems)}


def _logged_elsewhere(session: Session, p: Principal, named: list[tuple[str, str | None]]) -> dict[str, int]:
    """The request number of each span whose log came by another route and names it (metadata
    `otel.span_id`, which the PromptLayer routes set from the SDK's `span_id`), by the span's client id.
    A log that arrives after its span stays unlinked."""
    wanted = sorted({v for _, v in named if v})
    if not wanted:
        return {}
    found: dict[str, int] = {}
    for value, rid in session.execute(select(RequestMetadata.value, RequestMetadata.request_id).where(
            RequestMetadata.workspace_id == p.workspace_id, RequestMetadata.key == genai_spans.SPAN_ID_KEY,
            bulk.one_of(RequestMetadata.value, wanted)).order_by(RequestMetadata.request_id)):
        found.setdefault(value, rid)
    return {cid: found[v] for cid, v in named if v in found}


_BOUND = ("attributes", "events", "resource")  # the span row's JSON values, bound before the transaction


def _rows(spans: list[Span], llm: set[int], red: rp.Redactor | None, dialect: str) -> list[SpanReady]:
    resources: dict[int, Any] = {}  # a body's spans share their resource's dict: redacted once
    rows = []
    for s in spans:
        attributes, events = genai_spans.span_row_parts(s, id(s) in llm)
        resource, message = s.resource, s.status_message
        if red is not None:  # what the span keeps is redacted like a log (counts belong to requests only)
            if id(resource) not in resources:
                resources[id(resource)] = red.value(resource)
            attributes, events, resource, message = (red.value(attributes), red.value(events) if events else events,
                                                     resources[id(resource)], red.text(message))
            red.take()
        rows.append({"span_id": s.span_id, "parent_id": s.parent_id, "name": s.name[:500], "kind": s.kind,
                     "start_time": _time(s.start_ns), "end_time": _time(s.end_ns) if s.end_ns else None,
                     "status": s.status, "status_message": message, "attributes": attributes, "events": events,
                     "resource": resource, "scope": s.scope[:200]})
    table = SpanRow.__table__
    for name in _BOUND:
        for row, value in zip(rows, bulk.bind(table, name, [row[name] for row in rows], dialect)):
            row[name] = value
    return [SpanReady(s.trace_id, row, genai_spans.client_id(s) if id(s) in llm else None)
            for s, row in zip(spans, rows)]


def _store(session: Session, p: Principal, spans: list[SpanReady], requests: dict[str, int]) -> int:
    if not spans:
        return 0
    traces = sorted({s.trace_id for s in spans})
    bulk.insert(session, Trace.__table__, [{"workspace_id": p.workspace_id, "trace_id": t, "created_at": utcnow()}
                                           for t in traces], skip_conflicts_on=("workspace_id", "trace_id"))
    rows_of = dict(session.execute(select(Trace.trace_id, Trace.id).where(
        Trace.workspace_id == p.workspace_id, bulk.one_of(Trace.trace_id, traces))).all())
    rows = [{"workspace_id": p.workspace_id, "trace_row": rows_of[s.trace_id], **s.row,
             "request_id": requests.get(s.client_id) if s.client_id else None} for s in spans]
    return len(bulk.insert(session, SpanRow.__table__, rows, skip_conflicts_on=("trace_row", "span_id"),
                           returning=("id",), bound=_BOUND))


def _time(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, timezone.utc)
