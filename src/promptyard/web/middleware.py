"""Pure ASGI middleware that guards every surface before any route runs:

- collapses duplicate slashes (the PromptLayer SDK joins base URL and path by string, so a
  trailing slash in PROMPTLAYER_BASE_URL produces '//track-request');
- refuses bodies over the configured size (413) without reading them whole; requests made with
  a publishable (browser) key get the smaller publishable limits;
- refuses JSON bodies that would cost too much memory, nest too deep, or hold text or numbers one
  of our databases cannot store (web/body_checks.py), so both databases accept exactly the same
  input. Our SDKs replace such characters before sending, so logs are never lost. Every body but
  a form is checked as JSON: the PromptLayer routes parse JSON whatever the content type says;
- refuses NUL in the URL of the API and PromptLayer routes (PostgreSQL cannot compare text with
  it; SQLite can); the UI refuses it itself, with a page in the user's language.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable

from starlette.datastructures import Headers
from starlette.responses import Response

from promptyard import catalogue
from promptyard.catalogue import Text
from promptyard.domain.numbers import ascii_int
from promptyard.settings import Settings
from promptyard.web import body_checks
from promptyard.web.context import api_key, is_publishable

_FORMS = (b"application/x-www-form-urlencoded", b"multipart/form-data")


def error_body(status: int, code: str, message: str, details: Any = None) -> bytes:
    # One body that both the API shape ({"error": ...}) and PromptLayer's ({"success": false,
    # "message": ...}) clients understand, because this runs before we know the surface.
    return json.dumps({"error": {"code": code, "message": message, "details": details},
                       "success": False, "message": message}).encode()


class GuardMiddleware:
    def __init__(self, app: Callable, settings: Settings):
        self.app = app
        self.settings = settings

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if "//" in scope["path"]:
            scope = dict(scope, path=re.sub(r"/{2,}", "/", scope["path"]))
        if _nul_in_url(scope):
            return await _reject(scope, send, 422, "invalid_input", Text("errors.bodies.url_nul"))
        if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        publishable = is_publishable(api_key(Headers(scope=scope)))
        max_body = body_limit(self.settings, publishable)
        declared = ascii_int(headers.get(b"content-length"), hi=2**63)
        if declared is not None and declared > max_body:
            return await _reject(scope, send, 413, "too_large", _too_large(max_body, publishable))
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > max_body:
                return await _reject(scope, send, 413, "too_large", _too_large(max_body, publishable))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        del chunks  # one copy of the body, not two, while the route runs
        if body and not _checked_by_route(scope, headers):
            problem = JsonLimits(self.settings, publishable).problem(body, headers.get(b"content-type", b"").decode("latin-1"))
            if problem:
                return await _reject(scope, send, problem.status, problem.code, problem.message)
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def value_limit(s: Settings, publishable: bool) -> int:
    # A publishable key's value limit shrinks with its body limit: it may cost no more.
    return max(s.max_body_values * body_limit(s, True) // s.max_body_bytes, 1) if publishable else s.max_body_values


def _checked_by_route(scope: dict, headers: dict) -> bool:
    """Bodies the route checks itself, with the same limits: OTLP protobuf or compressed bodies once
    decoded (web/compat/otlp.py: sizes, values, text), and the request log's batches, in the ingest
    worker that decodes them (web/api/logs.py), not in the server process."""
    if scope["path"] == "/api/v1/requests":
        return scope["method"] == "POST"
    return scope["path"] == "/v1/traces" and (headers.get(b"content-type", b"").lower().startswith(
        b"application/x-protobuf") or headers.get(b"content-encoding", b"identity").lower() != b"identity")


@dataclass(frozen=True)
class JsonLimits:
    """A caller's body limits, for a route that checks its body itself (it pickles: the ingest workers
    check the bodies they decode)."""
    settings: Settings
    publishable: bool

    @property
    def body_bytes(self) -> int:
        return body_limit(self.settings, self.publishable)

    def problem(self, body: bytes, content_type: str | None = None) -> body_checks.Problem | None:
        """What the guard says of this body (None for a form body, which it does not check)."""
        if (content_type or "").lower().encode("latin-1", "replace").startswith(_FORMS):  # a form: the UI's own checks
            return None
        return body_checks.check(body, max_values=value_limit(self.settings, self.publishable),
                                 max_depth=self.settings.max_json_depth, publishable=self.publishable)


def refusal(problem: body_checks.Problem, lang: str) -> Response:
    """The guard's answer to a body problem found by a route that checks its body itself."""
    return Response(error_body(problem.status, problem.code, problem.message.render(lang)), status_code=problem.status,
                    media_type="application/json")


def body_limit(s: Settings, publishable: bool) -> int:
    return min(s.publishable_max_body_bytes, s.max_body_bytes) if publishable else s.max_body_bytes


def _nul_in_url(scope: dict) -> bool:
    # The UI refuses it itself, with a page in the user's language (web/ui/session.bind_request).
    path = scope["path"]
    if path == "/ui" or path.startswith("/ui/"):
        return False
    return b"%00" in scope.get("query_string", b"") or b"%00" in (scope.get("raw_path") or b"")


def _too_large(limit: int, publishable: bool) -> Text:
    return Text("errors.bodies.too_large_publishable" if publishable else "errors.bodies.too_large", limit=limit)


def scope_lang(scope: dict) -> str:
    """The language a request's Accept-Language asks for, before any route has read it."""
    return catalogue.negotiate(None, None, Headers(scope=scope).get("accept-language"))


async def _reject(scope: dict, send: Callable, status: int, code: str, message: Text) -> None:
    """The error answer, in the language the request's Accept-Language asks for (English by default,
    as PromptLayer's clients send none)."""
    body = error_body(status, code, message.render(scope_lang(scope)))
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
        await _reject(scope, send, 400, "invalid_host", Text("errors.bodies.host", host=shown))
