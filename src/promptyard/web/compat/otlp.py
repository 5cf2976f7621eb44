"""`POST /v1/traces`: OTLP/HTTP trace export (protobuf or JSON, optionally gzip), as OpenTelemetry
exporters send it, authenticated with our keys (Bearer or X-API-KEY) and the `ingest` scope.

Answers are OTLP's: an ExportTraceServiceResponse (with `partial_success` when spans were
refused) in the request's encoding, and for errors a google.rpc.Status with the HTTP status OTLP
exporters act on (400 and 413 are not retried; 503 with Retry-After is)."""

from __future__ import annotations

import zlib

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from promptyard.domain import otlp
from promptyard.domain.records import Principal
from promptyard.errors import InvalidInput, PromptyardError, TooLarge, retry_after
from promptyard.services import ingest_workers, otlp_ingest, request_ingest
from promptyard.web.context import AppContext, api_key, ctx, request_principal
from promptyard.web.middleware import JsonLimits, value_limit

router = APIRouter()

# gRPC codes for google.rpc.Status, by HTTP status
_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 409: 10, 413: 8, 415: 3, 429: 8, 503: 14}


class _Unsupported(InvalidInput):
    status = 415


@router.post("/v1/traces")
async def export_traces(request: Request) -> Response:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    answer_as = media if media in (otlp.PROTOBUF, otlp.JSON) else otlp.JSON
    try:
        if answer_as != media:
            raise _Unsupported("errors.traces.content_type_got", protobuf=otlp.PROTOBUF, json=otlp.JSON,
                               media=media[:60])
        p = await request_principal(request, api_key(request.headers))
        body = await request.body()
        result = await run_in_threadpool(_export, ctx(request), p, body, media,
                                         request.headers.get("content-encoding", "identity"))
    except PromptyardError as exc:
        status = 400 if exc.status == 422 else exc.status
        return Response(otlp.status(answer_as, _CODES.get(status, 2), exc.message), status_code=status,
                        media_type=answer_as, headers=retry_after(exc))
    return Response(otlp.answer(media, result["rejected"], result["message"]), media_type=media)


def _export(c: AppContext, p: Principal, body: bytes, media: str, encoding: str) -> dict:
    s = c.settings
    most = request_ingest.limit(p, s.max_batch, s.publishable_max_batch)
    with c.db.read() as session:
        ctx = request_ingest.context(session, p)
    limits = JsonLimits(s, p.key_kind == "publishable")
    encoding = encoding.strip().lower()
    # A compressed body's size says little of the work (512 spans gzip to a few KB): a worker inflates it too.
    size = len(body) if encoding in ("identity", "") else max(len(body), ingest_workers.SMALL_BYTES)
    prepared = ingest_workers.run(s.ingest_workers, _prepared, body, media, encoding, limits, ctx, most, size=size)
    if prepared is None:
        return {"rejected": 0, "message": ""}
    with c.db.write() as session:
        return otlp_ingest.store(session, p, prepared, ctx)


def _prepared(body: bytes, media: str, encoding: str, limits: JsonLimits, ctx: request_ingest.Context,
              most: int) -> otlp_ingest.PreparedSpans | None:
    """In an ingest worker: the body decompressed, checked and decoded, its spans prepared (None: no spans)."""
    raw = _decompressed(body, encoding, limits.body_bytes)
    if media == otlp.JSON and raw is not body:  # an uncompressed JSON body was checked by the guard
        problem = limits.problem(raw)
        if problem:
            raise (TooLarge if problem.status == 413 else InvalidInput)(problem.message.key, **problem.message.fields)
    spans = otlp.decode(raw, media, max_values=value_limit(limits.settings, limits.publishable))
    return otlp_ingest.prepare(spans, ctx, most=most) if spans else None


def _decompressed(body: bytes, encoding: str, limit: int) -> bytes:
    """The body as sent before compression, no larger than the body limit (a small gzip body may
    stand for a huge one)."""
    if encoding in ("identity", ""):
        return body
    if encoding != "gzip":
        raise _Unsupported("errors.traces.content_encoding_gzip_identity", encoding=encoding[:40])
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise InvalidInput("errors.traces.body_valid_gzip", exc=exc) from None
    if len(out) > limit:
        raise TooLarge("errors.traces.request_body_larger_than", limit=limit)
    if not inflater.eof:
        raise InvalidInput("errors.traces.body_gzip_stream_cut")
    return out
