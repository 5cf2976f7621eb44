"""Headers every answer carries, on every surface, including those the other middlewares send
themselves (413, the CORS 403) - the one place that sets them:

- `X-Content-Type-Options: nosniff`, so a browser never reads a JSON or text answer (which may
  hold user and LLM text) as HTML or script;
- on a 405, `Allow` lists every method of the path. Starlette names only the methods of the first
  route whose path matched (GET for a path that also has POST), which tells clients wrong.
"""

from __future__ import annotations

from typing import Callable

from starlette.routing import Match

NOSNIFF = (b"x-content-type-options", b"nosniff")


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(app: object, scope: dict) -> list[str]:
    """Every method some route of `app` fully serves at this scope's path (asked of the routes
    themselves, which also look inside included routers)."""
    routes = getattr(app, "routes", ())
    return [m for m in METHODS if any(r.matches(dict(scope, method=m))[0] == Match.FULL for r in routes)]


class SecurityHeadersMiddleware:
    def __init__(self, app: Callable):
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != NOSNIFF[0]] + [NOSNIFF]
                if message["status"] == 405 and "app" in scope:
                    allow = ", ".join(allowed_methods(scope["app"], scope)).encode()
                    headers = [h for h in headers if h[0].lower() != b"allow"] + [(b"allow", allow)]
                message = dict(message, headers=headers)
            await send(message)

        await self.app(scope, receive, with_headers)
