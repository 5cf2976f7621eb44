"""What every route can reach: settings and the database, set once by create_app."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.exc import OperationalError

from promptyard.domain.records import Principal
from promptyard.services import keys
from promptyard.settings import Settings
from promptyard.store.db import Database


@dataclass
class AppContext:
    settings: Settings
    db: Database
    version: str


def ctx(request: Request) -> AppContext:
    return request.app.state.ctx


def key_from_headers(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.headers.get("x-api-key")


def principal_for_key(context: AppContext, raw: str | None) -> Principal:
    with context.db.read() as session:
        principal, stale = keys.authenticate(session, raw)
    if stale:
        try:
            with context.db.write() as session:
                keys.touch_key(session, principal.key_id)
        except OperationalError:
            pass  # last-used time is informational; never fail a call over it
    return principal
