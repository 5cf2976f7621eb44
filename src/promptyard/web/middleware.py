"""Pure ASGI middleware that guards every surface before any route runs:

- collapses duplicate slashes (the PromptLayer SDK joins base URL and path by string, so a
  trailing slash in PROMPTLAYER_BASE_URL produces '//track-request');
- refuses bodies over the configured size (413) without reading them whole;
- refuses JSON text that one of our databases cannot store (NUL characters and lone UTF-16
  surrogates: PostgreSQL rejects both, SQLite would store them), so both databases accept exactly
  the same input. Our SDKs replace such characters before sending, so logs are never lost.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable

# A cheap first look: an escaped NUL or an escaped surrogate (paired or not). Only a body that
# has one is decoded and walked, which tells a real NUL or lone surrogate from an escaped
# backslash or a valid pair (an emoji). A precise regex over every body cost 29 ms per 500 logs.
_SUSPECT = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def error_body(status: int, code: str, message: str, details: Any = None) -> bytes:
    # One body that both the API shape ({"error": ...}) and PromptLayer's ({"success": false,
    # "message": ...}) clients understand, because this runs before we know the surface.
    return json.dumps({"error": {"code": code, "message": message, "details": details},
                       "success": False, "message": message}).encode()


def bad_text(body: bytes) -> str | None:
    """A description of the first unstorable character in a JSON body, or None."""
    if b"\x00" in body:
        return "text may not contain NUL (\\u0000) characters"
    if _SUSPECT.search(body):
        try:
            _walk(json.loads(body))
        except _Unstorable as exc:
            return str(exc)
        except ValueError:  # not JSON: the route reports that with its position
            return None
    return None


class _Unstorable(ValueError):
    pass


def _walk(value: Any, path: str = "$") -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise _Unstorable(f"{path}: text may not contain NUL (\\u0000) characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _Unstorable(f"{path}: text may not contain unpaired UTF-16 surrogates") from None
    elif isinstance(value, dict):
        for k, v in value.items():
            _walk(k, path)
            _walk(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _walk(v, f"{path}[{i}]")


class GuardMiddleware:
    def __init__(self, app: Callable, max_body_bytes: int):
        self.app = app
        self.max_body = max_body_bytes

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if "//" in scope["path"]:
            scope = dict(scope, path=re.sub(r"/{2,}", "/", scope["path"]))
        if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared and declared.isdigit() and int(declared) > self.max_body:
            return await _reject(send, 413, "too_large", self._too_large())
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body:
                return await _reject(send, 413, "too_large", self._too_large())
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if b"json" in headers.get(b"content-type", b""):
            problem = bad_text(body)
            if problem:
                return await _reject(send, 422, "invalid_input", problem)
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    def _too_large(self) -> str:
        return f"request body is larger than the limit of {self.max_body:,} bytes (PROMPTYARD_MAX_BODY_BYTES)"


async def _reject(send: Callable, status: int, code: str, message: str) -> None:
    body = error_body(status, code, message)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def host_name(value: str) -> str:
    """'Example.com:8700' -> 'example.com', '[::1]:8700' -> '::1' (the name without its port)."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class HostMiddleware:
    """Answers 400 to a request whose Host header is not one this server is reached by
    (PROMPTYARD_ALLOWED_HOSTS), so that nothing that reads the Host - links, redirects, cookies -
    can be steered by a forged header (DNS rebinding, poisoned links). Starlette's
    TrustedHostMiddleware does the same check but answers in plain text; this one answers in the
    error shape both our clients and PromptLayer's read, naming the setting. Health checks pass:
    load balancers probe them by IP address."""

    EXEMPT = frozenset({"/-/health"})

    def __init__(self, app: Callable, allowed: frozenset[str]):
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or "*" in self.allowed or scope["path"] in self.EXEMPT:
            return await self.app(scope, receive, send)
        raw = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
        if host_name(raw) in self.allowed:
            return await self.app(scope, receive, send)
        shown = raw[:100] or "(none)"
        await _reject(send, 400, "invalid_host", f"Host {shown!r} is not served here; add it to "
                      "PROMPTYARD_ALLOWED_HOSTS (comma list) if this server is reached by that name")
