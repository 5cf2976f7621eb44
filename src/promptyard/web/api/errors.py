"""The API's one error shape: {"error": {"code", "key", "message", "details"}} with the right 4xx.

`message` is in the language of the request's Accept-Language (English unless it prefers Japanese);
`key` is the message's stable catalogue key (e.g. "errors.prompts.no_prompt_named"), for clients
that show their own texts or branch on the exact problem.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from promptyard import catalogue
from promptyard.catalogue import Text
from promptyard.domain import library_texts
from promptyard.errors import PromptyardError, retry_after
from promptyard.web.request_ids import log_unexpected

log = logging.getLogger("promptyard.api")


class ErrorDetail(BaseModel):
    code: str = Field(description="stable machine-readable name, e.g. invalid_input, not_found")
    key: str | None = Field(None, description="the message's stable catalogue key, e.g. errors.prompts.no_prompt_named "
                                              "(null for a request the schema refused before any service ran)")
    message: str = Field(description="what went wrong, for people, in the Accept-Language's language (en, ja; "
                                     "English by default)")
    details: Any = Field(None, description="per-field problems ([{field, problem, type}]: type is pydantic's error "
                                           "type, e.g. missing, string_too_long) or other particulars")


class ErrorOut(BaseModel):
    """The one error shape of the API."""

    error: ErrorDetail


# What each status means on this API; routers and routes document the ones they can answer with
# `documented(...)` so the OpenAPI lists every status a client may see.
_MEANINGS = {
    401: "no API key, or an unknown or revoked one",
    403: "the key lacks the scope or role this needs, or the origin is not allowed for a publishable key",
    404: "no such object in this workspace",
    409: "conflicts with the current state (e.g. a name already taken)",
    413: "request body larger than PROMPTYARD_MAX_BODY_BYTES",
    422: "invalid input: the message and details say which field and why",
    429: "too many requests; retry after the Retry-After header's seconds",
    502: "a server Promptyard called (an LLM provider, a webhook receiver) failed; the message says how",
    503: "the database is unavailable; retry after the Retry-After header's seconds",
}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for these error statuses, all with the error shape."""
    return {status: {"model": ErrorOut, "description": _MEANINGS[status]} for status in statuses}


# Every authenticated route can answer these; writes add 409, routes naming an object 404.
READ = documented(401, 403, 422, 503)
WRITE = documented(401, 403, 409, 413, 422, 503)
FOUND = documented(404)

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden", 413: "too_large"}


def _body(code: str, message: str, details: object = None, key: str | None = None) -> dict:
    return {"error": {"code": code, "key": key, "message": message, "details": details}}


def _lang(request: Request | None) -> str:
    return catalogue.negotiate(None, None, request.headers.get("accept-language")) if request else catalogue.DEFAULT


def from_domain(exc: PromptyardError, request: Request | None = None) -> JSONResponse:
    return JSONResponse(_body(exc.code, exc.text(_lang(request)), exc.details, exc.key), status_code=exc.status,
                        headers=retry_after(exc))


def from_validation(exc: RequestValidationError, request: Request | None = None) -> JSONResponse:
    """pydantic's problems, each worded from the catalogue (domain/library_texts) in the request's
    language, with pydantic's error type for clients that branch on it."""
    lang = _lang(request)
    found = [(library_texts.validation_field(err), library_texts.validation_problem(err, exc.body),
              err.get("type")) for err in exc.errors()]
    problems = [{"field": field, "problem": problem.render(lang), "type": kind} for field, problem, kind in found]
    message = library_texts.validation_message([(field, problem) for field, problem, _ in found]).render(lang)
    return JSONResponse(_body("invalid_input", message, problems), status_code=422)


def from_http(exc: HTTPException, request: Request | None = None) -> JSONResponse:
    if exc.status_code == 400:  # FastAPI's "error parsing the body": bytes that are not UTF-8 JSON
        problem = Text("errors.library.json_not_utf8").render(_lang(request))
        message = Text("errors.library.field_problem", field="body", problem=problem).render(_lang(request))
        return JSONResponse(_body("invalid_input", message, [{"field": "body", "problem": problem,
                                                              "type": "json_invalid"}]), status_code=422)
    code = _HTTP_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    return JSONResponse(_body(code, message), status_code=exc.status_code, headers=getattr(exc, "headers", None))


def from_unexpected(request: Request, exc: Exception) -> JSONResponse:
    rid = log_unexpected(log, request, exc)
    body = _body("internal", f"internal error; the server log has the details under request id {rid}")
    body["error"]["request_id"] = rid
    return JSONResponse(body, status_code=500)
