"""The trace page: one trace's spans as a waterfall (services/traces.get), each LLM span linking to its
request's page; a request's page links here (templates/ui/requests/detail.html)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request

from promptyard.services import traces
from promptyard.web.context import db
from promptyard.web.ui import render
from promptyard.web.ui.session import Viewer

router = APIRouter()
TraceId = Annotated[str, Path(pattern="^[0-9a-fA-F]{32}$")]
WIDTH = 1000  # the bars' SVG width in user units; the page scales it
DEEPEST = 12  # indentation classes in traces.css


@router.get("/traces/{trace_id}", name="trace")
def trace_page(request: Request, trace_id: TraceId, user: Viewer):
    with db(request).read() as s:
        trace = traces.get(s, user.principal, trace_id)
    return render.page(request, user, "ui/traces/trace.html", trace=trace, rows=rows(trace), width=WIDTH)


def rows(trace: dict[str, Any]) -> list[dict[str, Any]]:
    """Each span with its bar: where it starts and how long it lasts, in WIDTH units of the trace's
    duration (a span too short to see gets one unit)."""
    total = trace["duration_ms"] or 0
    out = []
    for span in trace["spans"]:
        x = span["offset_ms"] / total * WIDTH if total else 0
        width = (span["duration_ms"] or 0) / total * WIDTH if total else WIDTH
        out.append({"span": span, "x": round(min(x, WIDTH - 1), 1), "width": round(max(min(width, WIDTH - x), 1), 1),
                    "indent": min(span["depth"], DEEPEST)})
    return out
