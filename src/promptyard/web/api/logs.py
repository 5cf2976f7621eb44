"""/api/v1/requests: ingest, annotate, read, search, statistics, export."""

from __future__ import annotations

import email.message
import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.convertors import StringConvertor, register_url_convertor

from promptyard.domain import query
from promptyard.domain.records import Principal
from promptyard.errors import InvalidInput
from promptyard.services import exports, ingest_workers, log_stats, request_annotations, request_ingest, request_reads
from promptyard.services.render_pool import engine_for
from promptyard.web.api import errors, schemas, shapes
from promptyard.web.api.deps import MAX_ID, Auth, Ctx
from promptyard.web.body_checks import Problem
from promptyard.web.context import AppContext
from promptyard.web.downloads import download
from promptyard.web.middleware import JsonLimits, refusal, scope_lang


class _RefConvertor(StringConvertor):
    # A request ref is never one of this router's own names: without this, GET /requests/search
    # (a POST-only path) was answered by the {ref} lookup, and a 405's Allow could not be right.
    regex = "(?!(?:search|stats|export|erase|metadata)$)[^/]+"


register_url_convertor("request_ref", _RefConvertor())

router = APIRouter(prefix="/api/v1/requests", tags=["requests"], responses=errors.READ)
Limit = Annotated[int, Query(ge=1, le=500)]


def _filter(text: str | None = None, obj: Any = None) -> query.Node | None:
    if obj is not None and not isinstance(obj, str):
        return query.from_json(obj)
    return query.parse(obj if isinstance(obj, str) else text or "")


@router.post("", responses=errors.WRITE | {
    200: {"model": schemas.IngestOut, "description": "stored (some logs of a batch may be refused: see errors)"},
    422: {"model": schemas.IngestOut | errors.ErrorOut, "description": "no log of the batch could be stored"}},
    openapi_extra=schemas.body(schemas.INGEST_BODY))
async def ingest(request: Request, c: Ctx, p: Auth):
    """Store one log or a batch (up to PROMPTYARD_MAX_BATCH). Valid logs are stored even when others
    in the batch are not; those are reported by index. 422 only when nothing was valid."""
    # The body is read here, not by FastAPI: an ingest worker checks and decodes it (services/ingest_workers.py).
    raw = await request.body()
    most = request_ingest.limit(p, c.settings.max_batch, c.settings.publishable_max_batch)
    result = await run_in_threadpool(_ingest, c, p, raw, request.headers.get("content-type"), most)
    if isinstance(result, Problem):
        return refusal(result, scope_lang(request.scope))
    return JSONResponse(result, status_code=422 if result["errors"] and not result["ids"] else 200)


def _ingest(c: AppContext, p: Principal, raw: bytes, content_type: str | None, most: int) -> dict | Problem:
    with c.db.read() as s:
        ctx = request_ingest.context(s, p)
    limits = JsonLimits(c.settings, p.key_kind == "publishable")
    prepared = None
    if raw and _is_json(content_type):
        prepared = ingest_workers.run(c.settings.ingest_workers, _prepared, raw, content_type, limits, ctx, most,
                                      size=len(raw))
    if prepared is None:  # empty, not JSON, or not valid JSON: answered as FastAPI answers a `Body()` parameter
        prepared = (raw and limits.problem(raw, content_type)) or \
            request_ingest.prepare(_batch(_body(raw, content_type)), ctx, most=most)
    if isinstance(prepared, Problem):
        return prepared
    with c.db.write() as s:
        return request_ingest.store(s, p, prepared, ctx, "api")


def _prepared(raw: bytes, content_type: str | None, limits: JsonLimits, ctx: request_ingest.Context,
              most: int) -> request_ingest.Prepared | Problem | None:
    """In an ingest worker: the guard's checks of the body, then the batch it holds, prepared; None for a
    body that is not JSON (the server process answers it)."""
    problem = limits.problem(raw, content_type)
    if problem:
        return problem
    try:
        body = json.loads(raw)
    except ValueError:  # JSONDecodeError, UnicodeDecodeError
        return None
    return request_ingest.prepare(_batch(body), ctx, most=most)


def _batch(body: Any) -> Any:
    return body.get("requests") if isinstance(body, dict) and "requests" in body else [body]


def _is_json(content_type: str | None) -> bool:
    message = email.message.Message()
    message["content-type"] = content_type or ""
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


def _body(raw: bytes, content_type: str | None) -> Any:
    """The body as FastAPI reads a `Body()` parameter: JSON for a JSON content type, else the bytes;
    its errors for an empty body or one that is not JSON (answered by the app's handlers)."""
    if not raw:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}])
    if not _is_json(content_type):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise RequestValidationError([{"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error",
                                       "input": {}, "ctx": {"error": exc.msg}}], body=exc.doc) from None
    except UnicodeDecodeError:
        raise HTTPException(400, "There was an error parsing the body") from None


PAGE = {200: {"description": "one page of requests, newest first", "content": {"application/json": {"schema": {
    "type": "object", "required": ["items", "next_cursor", "matching"], "properties": {
        "items": {"type": "array", "items": {"type": "object", "properties": {
            "trace_id": {"anyOf": [{"type": "string"}, {"type": "null"}],
                         "description": "the OTLP trace the log came from (docs/otel.md); null for other logs"},
            "span_id": {"anyOf": [{"type": "string"}, {"type": "null"}]}}}},
        "next_cursor": {"anyOf": [{"type": "string"}, {"type": "null"}],
                        "description": "pass it back as `cursor` for the next (older) page; null on the last"},
        "matching": {"type": "object", "required": ["count", "more"], "description":
                     "how many requests match the filter and scope (all pages): exact up to 10,000; "
                     "`more` true means more than `count`", "properties": {
                         "count": {"type": "integer", "minimum": 0}, "more": {"type": "boolean"}}}}}}}}}


@router.get("", responses=PAGE)
def list_requests(c: Ctx, p: Auth, filter: str | None = None, prompt: str | None = None,
                  version: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None, limit: Limit = 50,
                  cursor: str | None = None):
    with c.db.read() as s:
        found = request_reads.search(s, p, node=_filter(filter), prompt=prompt, version=version, limit=limit,
                                     cursor=cursor)
    return JSONResponse(shapes.plain(found))


@router.post("/search", responses=errors.documented(413) | PAGE)
def search(c: Ctx, p: Auth, body: Annotated[dict, Body()]):
    """Body: {filter: text or JSON form, prompt?, version?, limit?, cursor?}."""
    limit = body.get("limit", 50)
    if not isinstance(limit, int) or not 1 <= limit <= 500:
        raise InvalidInput("errors.requests.limit_whole_number_from")
    with c.db.read() as s:
        found = request_reads.search(s, p, node=_filter(obj=body.get("filter")), prompt=body.get("prompt"),
                                     version=body.get("version"), limit=limit, cursor=body.get("cursor"))
    return JSONResponse(shapes.plain(found))


@router.get("/stats")
def stats(c: Ctx, p: Auth, prompt: str | None = None, filter: str | None = None):
    """Per prompt version: count, error rate, latency, tokens, cost, scores; and `redacted`: per kind, the spans
    redacted before storage and the logs they were in."""
    node = _filter(filter)
    with c.db.read() as s:
        return {"items": shapes.plain(log_stats.per_version(s, p, prompt=prompt, node=node)),
                "redacted": log_stats.redactions(s, p, prompt=prompt, node=node)}


@router.get("/export", response_class=Response, responses={200: {
    "description": "the matching requests, one JSON object per line (jsonl) or CSV with a header row",
    "content": {exports.MEDIA["jsonl"]: {}, exports.MEDIA["csv"].split(";")[0]: {}}}})
def export(c: Ctx, p: Auth, format: Annotated[str, Query(pattern="^(csv|jsonl)$")] = "jsonl",
           filter: str | None = None, bom: Annotated[bool, Query(
               description="CSV: UTF-8 with a byte order mark, so that Excel reads Japanese text")] = False):
    """Every matching request, streamed (constant memory)."""
    node = _filter(filter)
    return download(c.db.read, lambda s: exports.export(s, p, node, format, bom=bom), media_type=exports.MEDIA[format],
                    filename=f"requests.{format}")


DETAIL = {200: {"description": "the request with everything linked to it", "content": {"application/json": {"schema": {
    "type": "object", "properties": {"trace": {
        "description": "the OTLP trace and span this log came from (docs/otel.md); null for other logs",
        "anyOf": [{"type": "object", "required": ["trace_id", "span_id"], "properties": {
            "trace_id": {"type": "string"}, "span_id": {"type": "string"}}}, {"type": "null"}]}}}}}}}


@router.get("/{ref:request_ref}", responses=errors.FOUND | DETAIL)
def get_request(ref: str, c: Ctx, p: Auth):
    with c.db.read() as s:
        return JSONResponse(shapes.plain(request_reads.get(s, p, ref, engine_for(c.settings))))


def _annotate(c: Ctx, p: Auth, ref: str, kind: request_annotations.Kind, payload: Any) -> Any:
    with c.db.write() as s:
        return request_annotations.annotate(s, p, ref, kind, payload, grace_s=c.settings.pending_grace_s)


@router.post("/{ref}/metadata", responses=errors.WRITE | errors.FOUND,
             openapi_extra=schemas.body(schemas.METADATA_BODY))
def add_metadata(ref: str, c: Ctx, p: Auth, body: Annotated[dict, Body()]):
    """Add or overwrite metadata keys (string values; numbers and booleans become text)."""
    return _annotate(c, p, ref, request_annotations.METADATA, body)


@router.post("/{ref}/tags", responses=errors.WRITE | errors.FOUND, openapi_extra=schemas.body(schemas.TAGS_BODY))
def update_tags(ref: str, c: Ctx, p: Auth, body: Annotated[dict, Body()]):
    return _annotate(c, p, ref, request_annotations.TAGS, body)


@router.post("/{ref}/scores", responses=errors.WRITE | errors.FOUND, openapi_extra=schemas.body(schemas.SCORES_BODY))
def add_scores(ref: str, c: Ctx, p: Auth, body: Annotated[Any, Body()]):
    """{name, value 0-100, comment?, source: api|human|rule, author?} or a list of them. Re-scoring
    a name updates it."""
    return _annotate(c, p, ref, request_annotations.SCORES, body)
