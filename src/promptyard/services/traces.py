"""Reading traces: one trace's spans as a tree (depth-first, each with its depth and timings, an LLM
span with its request's number), and the trace and span a request log came from. Storing them is
services/otlp_ingest.py."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from promptyard.domain import access
from promptyard.domain.records import Principal
from promptyard.errors import InvalidInput, NotFound
from promptyard.store import bulk
from promptyard.store.models import Request, Span, Trace

TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


def get(session: Session, p: Principal, trace_id: str) -> dict[str, Any]:
    access.require(p, "read")
    trace_id = trace_id.lower()
    if not TRACE_ID.match(trace_id):
        raise InvalidInput("errors.traces.trace_id_32_hex")
    row = session.scalar(select(Trace.id).where(Trace.workspace_id == p.workspace_id, Trace.trace_id == trace_id))
    if row is None:
        raise NotFound("errors.traces.no_trace", trace_id=trace_id)
    found = session.execute(select(Span, Request.client_id).outerjoin(Request, Request.id == Span.request_id)
                            .where(Span.trace_row == row).order_by(Span.start_time, Span.id)).all()
    spans = [_span(s, client_id) for s, client_id in found]
    start = min((s["start_time"] for s in spans), default=None)
    ends = [s["end_time"] for s in spans if s["end_time"] is not None]
    end = max(ends) if ends else None
    for s in spans:
        s["offset_ms"] = (s["start_time"] - start).total_seconds() * 1000
    return {"trace_id": trace_id, "start_time": start, "end_time": end,
            "duration_ms": (end - start).total_seconds() * 1000 if end else None,
            "span_count": len(spans), "spans": _depth_first(spans)}


def _span(s: Span, client_id: str | None) -> dict[str, Any]:
    return {"span_id": s.span_id, "parent_id": s.parent_id, "name": s.name, "kind": s.kind,
            "start_time": s.start_time, "end_time": s.end_time,
            "duration_ms": (s.end_time - s.start_time).total_seconds() * 1000 if s.end_time else None,
            "status": s.status, "status_message": s.status_message, "attributes": s.attributes, "events": s.events,
            "resource": s.resource, "scope": s.scope,
            "request": {"number": s.request_id, "id": client_id} if s.request_id else None}


def _depth_first(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Parents before their children (in start order); a span whose parent is not here is a root, and
    so are spans in a loop of parents (which no exporter sends, but a body may). Iterative, so a deep
    chain of spans costs no recursion."""
    ids = {s["span_id"] for s in spans}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for s in spans:
        children.setdefault(s["parent_id"] if s["parent_id"] in ids else None, []).append(s)
    out: list[dict[str, Any]] = []
    stack = [(s, 0) for s in reversed(children.get(None, []))]
    while stack:
        s, depth = stack.pop()
        out.append(s | {"depth": depth})
        stack.extend((c, depth + 1) for c in reversed(children.get(s["span_id"], [])))
    placed = {s["span_id"] for s in out}
    return out + [s | {"depth": 0} for s in spans if s["span_id"] not in placed]


def link_of(session: Session, workspace_id: int, request_id: int) -> dict[str, str] | None:
    """{"trace_id", "span_id"} of the span a request log came from, or None."""
    return links_of(session, workspace_id, [request_id]).get(request_id)


def links_of(session: Session, workspace_id: int, request_ids: list[int]) -> dict[int, dict[str, str]]:
    """{"trace_id", "span_id"} of the span each request log came from, by request number (logs
    without a span are left out): one statement for a page of logs, by the spans' request index."""
    if not request_ids:
        return {}
    found = session.execute(select(Span.request_id, Trace.trace_id, Span.span_id)
                            .join(Trace, Trace.id == Span.trace_row)
                            .where(bulk.one_of(Span.request_id, request_ids), Span.workspace_id == workspace_id)
                            .order_by(Span.id))
    out: dict[int, dict[str, str]] = {}
    for rid, trace_id, span_id in found:
        out.setdefault(rid, {"trace_id": trace_id, "span_id": span_id})
    return out
