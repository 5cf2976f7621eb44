"""What every route can reach: settings and the database, set once by create_app.

The surfaces (web/api, web/compat, web/ui) reach the database only through this module
(`ctx(request).db` or `db(request)`); none of them imports promptyard.store."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Mapping

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from promptyard.domain.records import Principal
from promptyard.errors import Forbidden, Unavailable
from promptyard.services import keys, web_sessions
from promptyard.settings import Settings
from promptyard.store.db import Database


@dataclass
class AppContext:
    settings: Settings
    db: Database
    version: str
    # Set when the server begins to stop (web.serving, or the lifespan's exit under other
    # servers): long polls answer at once instead of holding the stop for their whole wait.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)


def ctx(request: Request) -> AppContext:
    return request.app.state.ctx


def db(request: Request) -> Database:
    return ctx(request).db


def web_login(context: AppContext, raw: str) -> web_sessions.WebLogin | None:
    """The browser session a UI cookie names (None when unknown or expired)."""
    with context.db.read() as session:
        return web_sessions.lookup(session, raw)


def api_key(headers: Mapping[str, str]) -> str | None:
    """The key a request carries: `Authorization: Bearer <key>`, else `X-API-Key` (the one rule
    for routes, the CORS middleware and the body guard; ASGI code passes Headers(scope=scope))."""
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    key = headers.get("x-api-key")
    return key.strip() if key is not None else None


def is_publishable(key: str | None) -> bool:
    return bool(key) and key.startswith(keys.PUBLISHABLE_PREFIX)


def principal_for_key(context: AppContext, raw: str | None) -> Principal:
    """Who holds key `raw`: from keys' short cache (which a revoke empties), else the database."""
    hit = keys.cached(raw)
    if hit is not None:
        return hit
    with context.db.read() as session:
        principal, stale = keys.authenticate(session, raw)
    if stale:
        try:
            with context.db.write() as session:
                keys.touch_key(session, principal.key_id)
        except Unavailable:  # the store's word for a locked or unreachable database
            pass  # last-used time is informational; never fail a call over it
    return principal


def check_origin(principal: Principal, origin: str | None) -> None:
    """A publishable key lives in web pages, so it works only on requests a browser sends from one
    of its allowed origins. Checked wherever a key is accepted (API and PromptLayer routes, key in a
    header or in the body, any content type): a `text/plain` POST needs no CORS preflight, so a
    check that only CORS paths made could be walked around. No Origin at all is refused too."""
    if principal.key_kind != "publishable":
        return
    if not origin:
        raise Forbidden("errors.keys.publishable_key_accepted_only")
    if origin.rstrip("/").lower() not in principal.allowed_origins:
        raise Forbidden("errors.keys.origin_allowed_publishable_key", origin=origin)


async def request_principal(request: Request, raw: str | None) -> Principal:
    """Who is calling with key `raw` on this request (async: a cached key costs no thread hop)."""
    principal = keys.cached(raw) or await run_in_threadpool(principal_for_key, ctx(request), raw)
    check_origin(principal, request.headers.get("origin"))
    return principal
