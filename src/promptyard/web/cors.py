"""CORS for browser clients with publishable keys.

Preflights (OPTIONS) of the routes a browser client uses are answered for any origin: a
preflight carries no key, so the origin is checked on the actual request instead. An actual
request with a publishable key (`py_pk_...`) must come from one of that key's allowed origins
(403 otherwise; web/context.check_origin, which every route that accepts keys also applies, whatever
the path or content type) and gets Access-Control-Allow-Origin for exactly that origin. Secret keys get no
CORS headers, so a browser never lets a page read answers made with them. What a publishable key
may do (read prompts, ingest) is enforced by its scopes, not here.
"""

from __future__ import annotations

import re
from typing import Callable

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers

from promptyard.errors import Forbidden, PromptyardError
from promptyard.web.context import api_key, check_origin, is_publishable, principal_for_key
from promptyard.web.middleware import error_body, scope_lang

BROWSER_PATHS = re.compile(r"^/api/v1/(requests(/.*)?|fetch/.+|prompt-bundle/.+|changes|me)$")
ALLOW_HEADERS = b"Authorization, Content-Type, X-API-Key"


class CorsMiddleware:
    def __init__(self, app: Callable, max_age: int = 600):
        self.app = app
        self.max_age = str(max_age).encode()

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        origin = headers.get(b"origin")
        if origin is None or not BROWSER_PATHS.match(scope["path"]):
            return await self.app(scope, receive, send)
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            return await self._preflight(origin, send)
        key = api_key(Headers(scope=scope))
        if not is_publishable(key):
            return await self.app(scope, receive, send)
        try:
            principal = await run_in_threadpool(principal_for_key, scope["app"].state.ctx, key)
        except PromptyardError:
            return await self.app(scope, receive, send)  # the route answers 401 for a bad key
        try:
            check_origin(principal, origin.decode("latin-1"))
        except Forbidden as exc:
            return await _forbidden(send, origin, exc.text(scope_lang(scope)))
        await self.app(scope, receive, _with_cors(send, origin))

    async def _preflight(self, origin: bytes, send: Callable) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": [
            (b"access-control-allow-origin", origin), (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
            (b"access-control-allow-headers", ALLOW_HEADERS), (b"access-control-max-age", self.max_age),
            (b"vary", b"Origin")]})
        await send({"type": "http.response.body", "body": b""})


def _with_cors(send: Callable, origin: bytes) -> Callable:
    async def wrapped(message: dict) -> None:
        if message["type"] == "http.response.start":
            message = dict(message, headers=list(message.get("headers", [])) + [
                (b"access-control-allow-origin", origin), (b"vary", b"Origin")])
        await send(message)

    return wrapped


async def _forbidden(send: Callable, origin: bytes, message: str) -> None:
    body = error_body(403, "forbidden", message)
    # The allow-origin header lets the page read why it was refused.
    await send({"type": "http.response.start", "status": 403, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"access-control-allow-origin", origin), (b"vary", b"Origin")]})
    await send({"type": "http.response.body", "body": body})
