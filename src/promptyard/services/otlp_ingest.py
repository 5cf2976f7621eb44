"""OTLP spans stored: LLM spans become request logs through services/request_ingest.ingest (its
checks, limits, redaction, prompt links and idempotency apply unchanged; the client id is derived
from the trace and span ids), and every span is kept in the trace store (traces, spans), an LLM
span linked to its request and without message text of its own. Reading traces:
services/traces.py."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from promptyard.domain import access, genai_spans
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


def ingest(session: Session, p: Principal, spans: list[Span], *, max_batch: int,
           publishable_max_batch: int | None = None) -> dict[str, Any]:
    """Store a batch of spans; {"spans", "logs", "rejected", "message"}. A re-sent span stores
    nothing twice (spans by (trace id, span id), logs by their derived client id)."""
    access.require(p, "ingest")
    if p.key_kind == "publishable" and publishable_max_batch is not None:
        max_batch = min(max_batch, publishable_max_batch)
    if len(spans) > max_batch:
        raise TooLarge("errors.traces.batch_may_hold_most", max_batch=max_batch, n=len(spans))
    seen: set[tuple[str, str]] = set()
    spans = [s for s in spans if not ((s.trace_id, s.span_id) in seen or seen.add((s.trace_id, s.span_id)))]
    llm = [s for s in spans if genai_spans.is_llm(s)]
    elsewhere = [s for s in llm if genai_spans.logged_elsewhere(s)]
    red = redaction.for_workspace(session, p.workspace_id)  # one for logs and spans: they share many texts
    requests, refused = _logs(session, p, [s for s in llm if not genai_spans.logged_elsewhere(s)], max_batch, red)
    requests |= _logged_elsewhere(session, p, elsewhere)
    kept = [s for s in spans if (s.trace_id, s.span_id) not in refused]
    stored = _store(session, p, kept, requests, {id(s) for s in llm}, red)
    problems = [f"span {span_id}: {message}" for (_, span_id), message in list(refused.items())[:MAX_REPORTED]]
    return {"spans": stored, "logs": len(requests), "rejected": len(refused), "message": "; ".join(problems)}


def _logs(session: Session, p: Principal, llm: list[Span], max_batch: int, red: rp.Redactor | None
          ) -> tuple[dict[str, int], dict[tuple[str, str], str]]:
    """The request number of each LLM span's log (by client id), and the spans whose log was refused."""
    if not llm:
        return {}, {}
    result = request_ingest.ingest(session, p, [genai_spans.log_of(s) for s in llm], max_batch=max_batch,
                                   source=SOURCE, red=red)
    refused = {(llm[e["index"]].trace_id, llm[e["index"]].span_id): f"{e['field']}: {e['message']}"
               for e in result["errors"]}
    numbers = dict(session.execute(select(Request.client_id, Request.id).where(
        Request.workspace_id == p.workspace_id, bulk.one_of(Request.client_id, result["ids"]))).all())
    return numbers, refused


def _logged_elsewhere(session: Session, p: Principal, spans: list[Span]) -> dict[str, int]:
    """The request number of each span whose log came by another route and names it (metadata
    `otel.span_id`, which the PromptLayer routes set from the SDK's `span_id`), by the span's client id.
    A log that arrives after its span stays unlinked."""
    named = [(genai_spans.client_id(s), genai_spans.logged_as(s)) for s in spans]
    wanted = sorted({v for _, v in named if v})
    if not wanted:
        return {}
    found: dict[str, int] = {}
    for value, rid in session.execute(select(RequestMetadata.value, RequestMetadata.request_id).where(
            RequestMetadata.workspace_id == p.workspace_id, RequestMetadata.key == genai_spans.SPAN_ID_KEY,
            bulk.one_of(RequestMetadata.value, wanted)).order_by(RequestMetadata.request_id)):
        found.setdefault(value, rid)
    return {cid: found[v] for cid, v in named if v in found}


def _store(session: Session, p: Principal, spans: list[Span], requests: dict[str, int], llm: set[int],
           red: rp.Redactor | None) -> int:
    if not spans:
        return 0
    traces = sorted({s.trace_id for s in spans})
    bulk.insert(session, Trace.__table__, [{"workspace_id": p.workspace_id, "trace_id": t, "created_at": utcnow()}
                                           for t in traces], skip_conflicts_on=("workspace_id", "trace_id"))
    rows_of = dict(session.execute(select(Trace.trace_id, Trace.id).where(
        Trace.workspace_id == p.workspace_id, bulk.one_of(Trace.trace_id, traces))).all())
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
        rows.append({"workspace_id": p.workspace_id, "trace_row": rows_of[s.trace_id], "span_id": s.span_id,
                     "parent_id": s.parent_id, "name": s.name[:500], "kind": s.kind, "start_time": _time(s.start_ns),
                     "end_time": _time(s.end_ns) if s.end_ns else None, "status": s.status,
                     "status_message": message, "attributes": attributes, "events": events, "resource": resource,
                     "scope": s.scope[:200], "request_id": requests.get(genai_spans.client_id(s))})
    return len(bulk.insert(session, SpanRow.__table__, rows, skip_conflicts_on=("trace_row", "span_id"),
                           returning=("id",)))


def _time(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, timezone.utc)
