"""/api/v1/traces: one trace's spans (sent over OTLP to /v1/traces, docs/otel.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from promptyard.services import traces
from promptyard.web.api import errors, shapes
from promptyard.web.api.deps import Auth, Ctx

router = APIRouter(prefix="/api/v1/traces", tags=["traces"], responses=errors.READ)

_TIME = {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]}
_MS = {"anyOf": [{"type": "number"}, {"type": "null"}]}
SPAN = {"type": "object", "required": ["span_id", "parent_id", "name", "depth", "start_time", "request"], "properties": {
    "span_id": {"type": "string", "description": "16 hex digits"},
    "parent_id": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    "depth": {"type": "integer", "minimum": 0, "description": "0 for a root; parents come before their children"},
    "name": {"type": "string"}, "kind": {"type": "string"},
    "start_time": {"type": "string", "format": "date-time"}, "end_time": _TIME,
    "duration_ms": _MS, "offset_ms": {"type": "number", "description": "start, from the trace's start"},
    "status": {"type": "string", "enum": ["unset", "ok", "error"]}, "status_message": {"type": "string"},
    "attributes": {"type": "object"}, "events": {"type": "array", "items": {"type": "object"}},
    "resource": {"type": "object"}, "scope": {"type": "string"},
    "request": {"description": "the request log of an LLM span (its number and client id); null for other spans",
                "anyOf": [{"type": "object", "properties": {"number": {"type": "integer"}, "id": {"type": "string"}}},
                          {"type": "null"}]}}}
TRACE = {200: {"description": "the trace's spans as a tree, depth first, with timings", "content": {
    "application/json": {"schema": {"type": "object", "required": ["trace_id", "spans"], "properties": {
        "trace_id": {"type": "string"}, "start_time": _TIME, "end_time": _TIME, "duration_ms": _MS,
        "span_count": {"type": "integer"}, "spans": {"type": "array", "items": SPAN}}}}}}}


@router.get("/{trace_id}", responses=errors.FOUND | TRACE)
def get_trace(c: Ctx, p: Auth,
              trace_id: Annotated[str, Path(description="32 hex digits", pattern="^[0-9a-fA-F]{32}$")]):
    """The spans of one trace, parents before children; an LLM span names its request log."""
    with c.db.read() as s:
        return JSONResponse(shapes.plain(traces.get(s, p, trace_id)))
