"""PromptLayer's read routes for request logs and traces, in its shapes: `GET
/api/public/v2/requests/{id}`, `POST /api/public/v2/requests/search` and `GET
/api/public/v2/traces/{id}` (which the SDK's evaluation runner reads to wait for a trace's price).
Every read is one of our services (services/request_reads, services/traces) in the caller's
workspace; the search's filter is translated into our filter language (search_filters)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from promptyard.domain.numbers import ROW_ID_MAX, ascii_int
from promptyard.errors import InvalidInput, NotFound
from promptyard.services import request_reads, traces
from promptyard.services.render_pool import engine_for
from promptyard.web.compat import inputs, request_logs, search_filters
from promptyard.web.compat.inputs import Call

router = APIRouter()
CallDep = Annotated[Call, Depends(inputs.call)]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


@router.get("/api/public/v2/requests/{request_id}")
def get_request(request_id: str, call: CallDep):
    number = ascii_int(request_id, hi=ROW_ID_MAX)
    if number is None:
        raise InvalidInput("errors.compat_reads.request_id", value=request_id[:40])
    with call.c.db.read() as s:
        ref = str(number)
        if request_reads.find(s, call.p, ref) != number:  # PromptLayer's ids are our numbers only
            raise NotFound("errors.compat_reads.no_request", id=number)
        r = request_reads.get(s, call.p, ref, engine_for(call.c.settings))
    trace = r["trace"] or {}
    return {"success": True, "request_id": r["number"], "prompt_blueprint": request_logs.blueprint(r),
            "provider": r["provider"], "model": r["model"], "input_tokens": r["input_tokens"],
            "output_tokens": r["output_tokens"], "tokens": r["total_tokens"], "price": r["cost"],
            "request_start_time": _iso(r["start_time"]), "request_end_time": _iso(r["end_time"]),
            "latency_ms": r["latency_ms"], "trace_id": trace.get("trace_id"), "span_id": trace.get("span_id"),
            "status": "ERROR" if r["status"] == "error" else "SUCCESS", "prompt_name": r["prompt"],
            "prompt_version_number": r["version"], "tags": r["tags"], "metadata": r["metadata"],
            "scores": {sc["name"]: sc["value"] for sc in r["scores"]}}


@router.post("/api/public/v2/requests/search")
def search_requests(call: CallDep):
    node = search_filters.search_filter(call.body)
    sort, descending, page, per_page = search_filters.paging(call.body)
    with call.c.db.read() as s:
        found = request_reads.numbered(s, call.p, node=node, sort=sort, descending=descending, page=page,
                                       per_page=per_page)
    total = found["total"]
    pages = math.ceil(total / per_page)
    return {"success": True, "items": [_item(i) for i in found["items"]], "page": page, "per_page": per_page,
            "pages": pages, "total": total, "has_next": page < pages, "has_prev": page > 1,
            "next_num": page + 1 if page < pages else None, "prev_num": page - 1 if page > 1 else None}


def _item(i: dict[str, Any]) -> dict[str, Any]:
    latency = i["latency_ms"]
    return {"id": i["number"], "engine": i["model"], "provider_type": i["provider"],
            "input_tokens": i["input_tokens"], "output_tokens": i["output_tokens"], "price": i["cost"],
            "request_start_time": _iso(i["start_time"]), "request_end_time": _iso(i["end_time"]),
            "latency": latency / 1000 if latency is not None else None, "latency_ms": latency,
            "tags_array": i["tags"], "metadata": i["metadata"], "scores": i["scores"], "prompt_name": i["prompt"],
            "prompt_version_number": i["version"], "status": "ERROR" if i["status"] == "error" else "SUCCESS",
            "trace_id": i["trace_id"], "span_id": i["span_id"]}


@router.get("/api/public/v2/traces/{trace_id}")
def get_trace(trace_id: str, call: CallDep):
    """Our trace (services/traces.get) with PromptLayer's names added: each span's
    `request_log_id` (the number of the request log it is, or null), as the SDK reads it."""
    with call.c.db.read() as s:
        t = traces.get(s, call.p, trace_id)
    spans = [{"span_id": sp["span_id"], "parent_id": sp["parent_id"], "name": sp["name"], "kind": sp["kind"],
              "start_time": _iso(sp["start_time"]), "end_time": _iso(sp["end_time"]),
              "duration_ms": sp["duration_ms"], "depth": sp["depth"], "status": sp["status"],
              "attributes": sp["attributes"],
              "request_log_id": sp["request"]["number"] if sp["request"] else None} for sp in t["spans"]]
    return {"success": True, "trace_id": t["trace_id"], "start_time": _iso(t["start_time"]),
            "end_time": _iso(t["end_time"]), "duration_ms": t["duration_ms"], "span_count": t["span_count"],
            "spans": spans}
