"""Every request has an id: a sane incoming X-Request-Id (from a load balancer or a client), or
one made here. It is in every answer's X-Request-Id header, in the body of an unexpected error
(so a user can quote it) and in the server's log line for that error, which is how an operator
finds the one from the other.

The log of an unexpected error names the exception classes and our stack frames, never the
exceptions' messages: a database error's message carries the statement's parameters and
PostgreSQL's DETAIL / CONTEXT, which quote stored text (request content never goes into a server
log, DESIGN.md rule 13).
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar
from typing import Callable

from fastapi import Request

from promptyard.log_scrub import error_name, scrubbed_traceback

HEADER = "X-Request-Id"
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,64}")
current: ContextVar[str | None] = ContextVar("request_id", default=None)


def request_id(request: Request | None = None) -> str:
    """The id of the request being answered ("-" outside a request)."""
    if request is not None and getattr(request.state, "request_id", None):
        return request.state.request_id
    return current.get() or "-"


class RequestIdMiddleware:
    """Pure ASGI: sets the id before anything runs and adds the header to every answer."""

    def __init__(self, app: Callable):
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        incoming = dict(scope["headers"]).get(HEADER.lower().encode(), b"").decode("latin-1")
        rid = incoming if _SANE.fullmatch(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        token = current.set(rid)

        async def send_with_id(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = dict(message, headers=[*message.get("headers", []), (b"x-request-id", rid.encode())])
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            current.reset(token)


def log_unexpected(log: logging.Logger, request: Request, exc: BaseException) -> str:
    """Log an unexpected error once, without any exception's message; returns the request id."""
    rid = request_id(request)
    log.error("unexpected error on %s %s (request id %s): %s\n%s", request.method, request.url.path, rid,
              error_name(exc), scrubbed_traceback(exc))
    return rid
