"""/-/health, /api/v1/me, keys, audit trail and the registry change feed."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from promptyard.errors import Unavailable
from promptyard.services import audit, changes, keys
from promptyard.web.api import errors, shapes
from promptyard.web.api.deps import MAX_ID, Auth, Ctx, Id, OptNumber
from promptyard.web.api.schemas import KeyIn

router = APIRouter(tags=["system"])


@router.get("/-/health", responses=errors.documented(503))
def health(c: Ctx):
    try:
        c.db.ping()
    except Unavailable as exc:
        raise Unavailable("errors.system.database_unreachable", kind=c.db.kind,
                          details={"database": "unreachable"}) from exc
    if c.db.outage.down:  # it answers, but refused work within the last few seconds (e.g. a full disk)
        raise Unavailable("errors.system.database_failing_refused_work", kind=c.db.kind, settle_s=c.db.outage.SETTLE_S,
                          details={"database": "failing"})
    return {"status": "ok", "version": c.version, "database": c.db.kind}


@router.get("/api/v1/me", responses=errors.READ)
def me(p: Auth):
    return {"workspace_id": p.workspace_id, "actor": p.actor, "scopes": sorted(p.scopes), "key_kind": p.key_kind}


@router.get("/api/v1/keys", responses=errors.READ)
def list_keys(c: Ctx, p: Auth):
    with c.db.read() as s:
        return {"items": shapes.plain(keys.list_keys(s, p))}


@router.post("/api/v1/keys", status_code=201, responses=errors.WRITE)
def create_key(body: KeyIn, c: Ctx, p: Auth):
    """The raw key is in the answer once and never again."""
    with c.db.write() as s:
        rec, raw = keys.create_key(s, p, name=body.name, scopes=body.scopes, kind=body.kind,
                                   allowed_origins=body.allowed_origins)
    return shapes.plain(rec) | {"key": raw}


@router.delete("/api/v1/keys/{key_id}", responses=errors.WRITE | errors.FOUND)
def revoke_key(key_id: Id, c: Ctx, p: Auth):
    with c.db.write() as s:
        record = keys.revoke_key(s, p, key_id)
    return shapes.plain(record)


@router.get("/api/v1/audit", responses=errors.READ)
def list_audit(c: Ctx, p: Auth, object_type: str | None = None, object_id: str | None = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 100, before: OptNumber = None):
    with c.db.read() as s:
        return {"items": shapes.plain(audit.list_events(s, p, object_type=object_type, object_id=object_id,
                                                        limit=limit, before_id=before))}


@router.get("/api/v1/changes", responses=errors.READ)
async def change_feed(c: Ctx, p: Auth, since: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
                      wait: Annotated[float, Query(ge=0, le=60)] = 0):
    """Registry changes after id `since`. With `wait`, a long poll: answers as soon as there is a
    change, or after `wait` seconds with none. Without `since`, only the current cursor."""

    def read() -> tuple[int, list[dict]]:
        with c.db.read() as s:
            if since is None:
                return changes.latest_id(s, p), []
            items = changes.since(s, p, since)
            return (items[-1]["id"] if items else since), items

    deadline = asyncio.get_running_loop().time() + wait
    while True:
        cursor, items = await run_in_threadpool(read)
        if items or since is None or c.stopping.is_set() or asyncio.get_running_loop().time() >= deadline:
            return {"cursor": cursor, "items": items}
        with contextlib.suppress(asyncio.TimeoutError):  # the server is stopping: answer now
            await asyncio.wait_for(c.stopping.wait(), 0.5)
