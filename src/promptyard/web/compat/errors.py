"""PromptLayer's error shape, {"success": false, "message": ...}, with the statuses its SDK maps
to exception classes (400 BadRequest, 401 Authentication, 404 NotFound, ...).

Bad input is 400, not our API's 422: the SDK's publish raises only on 400 (anything else is
returned to the caller as if it were a template), so a 422 would pass a validation error off as
a success. Every answer is JSON: the wrapper calls .json() on error bodies outside its error
handling (spec quirk Q3)."""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from promptyard.errors import InvalidInput, PromptyardError, TooLarge, retry_after
from promptyard.web.request_ids import log_unexpected

log = logging.getLogger("promptyard.compat")


def answer(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"success": False, "message": message}, status_code=status, headers=headers)


def from_domain(exc: PromptyardError, request: object = None) -> JSONResponse:
    # PromptLayer's clients read English: this surface does not translate.
    status = 400 if isinstance(exc, InvalidInput) and not isinstance(exc, TooLarge) else exc.status
    return answer(status, exc.message, retry_after(exc))


def from_validation(exc: RequestValidationError, request: object = None) -> JSONResponse:
    first = (exc.errors() or [{}])[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")) or "body"
    return answer(400, f"{where}: {first.get('msg', 'invalid')}")


def from_http(exc: HTTPException, request: object = None) -> JSONResponse:
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    return answer(exc.status_code, message, getattr(exc, "headers", None))


def from_unexpected(request: Request, exc: Exception) -> JSONResponse:
    rid = log_unexpected(log, request, exc)
    return JSONResponse({"success": False, "message": f"internal error; the server log has the details under "
                         f"request id {rid}", "request_id": rid}, status_code=500)
