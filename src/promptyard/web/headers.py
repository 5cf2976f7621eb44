"""Headers every answer carries, on every surface, including those the other middlewares send
themselves (413, the CORS 403): `X-Content-Type-Options: nosniff`, so a browser never reads a
JSON or text answer (which may hold user and LLM text) as HTML or script."""

from __future__ import annotations

from typing import Callable

NOSNIFF = (b"x-content-type-options", b"nosniff")


class SecurityHeadersMiddleware:
    def __init__(self, app: Callable):
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == NOSNIFF[0] for name, _ in headers):
                    message = dict(message, headers=headers + [NOSNIFF])
            await send(message)

        await self.app(scope, receive, with_headers)
