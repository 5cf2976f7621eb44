"""The API's one error shape: {"error": {"code", "message", "details"}} with the right 4xx."""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from promptyard.errors import PromptyardError, retry_after
from promptyard.web.request_ids import log_unexpected

log = logging.getLogger("promptyard.api")

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden", 413: "too_large"}


def _body(code: str, message: str, details: object = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details}}


def from_domain(exc: PromptyardError) -> JSONResponse:
    return JSONResponse(_body(exc.code, exc.message, exc.details), status_code=exc.status,
                        headers=retry_after(exc))


def from_validation(exc: RequestValidationError) -> JSONResponse:
    problems = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            reason = (err.get("ctx") or {}).get("error", "syntax error")
            problems.append({"field": "body", "problem": f"invalid JSON ({reason}) at position {err['loc'][-1]}"})
            continue
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        problems.append({"field": ".".join(loc) or "body", "problem": err.get("msg", "invalid")})
    first = problems[0] if problems else {"field": "body", "problem": "invalid"}
    message = f"{first['field']}: {first['problem']}"
    if len(problems) > 1:
        message += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})"
    return JSONResponse(_body("invalid_input", message, problems), status_code=422)


def from_http(exc: HTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    return JSONResponse(_body(code, message), status_code=exc.status_code, headers=getattr(exc, "headers", None))


def from_unexpected(request: Request, exc: Exception) -> JSONResponse:
    rid = log_unexpected(log, request, exc)
    body = _body("internal", f"internal error; the server log has the details under request id {rid}")
    body["error"]["request_id"] = rid
    return JSONResponse(body, status_code=500)
