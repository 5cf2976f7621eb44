"""Workspaces, API keys and authentication by key."""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import timedelta

from sqlalchemy import event, insert, select, update
from sqlalchemy.orm import Session

from promptyard.domain import access
from promptyard.domain.records import ApiKeyRecord, Principal
from promptyard.errors import InvalidInput, NotFound, Unauthorized
from promptyard.services import audit
from promptyard.store.models import ApiKey, Workspace
from promptyard.store.types import utcnow

DEFAULT_WORKSPACE = "default"
# Writing last_used_at on every call would turn every read into a write; once a minute is
# precise enough for "is this key still used?".
LAST_USED_RESOLUTION = timedelta(minutes=1)


# What a raw key starts with: it tells a publishable (browser) key before any database lookup.
PUBLISHABLE_PREFIX = "py_pk_"
SECRET_PREFIX = "py_sk_"


# Authenticated keys are remembered briefly: a key lookup is a database round trip on every call,
# which doubled the latency of the hot fetch path. A revoked key stops working in this process at
# once (revoke_key empties the cache when its transaction commits) and in other server processes
# within AUTH_CACHE_S seconds.
AUTH_CACHE_S = 2.0
_cache: dict[str, tuple[float, Principal]] = {}


def cached(raw: str | None) -> Principal | None:
    """The principal authenticate found for `raw` within the last AUTH_CACHE_S seconds."""
    hit = _cache.get(raw or "")
    return hit[1] if hit and hit[0] > time.monotonic() else None


def _remember(raw: str, principal: Principal) -> None:
    if len(_cache) > 10_000:
        _cache.clear()
    _cache[raw] = (time.monotonic() + AUTH_CACHE_S, principal)


def hash_key(raw: str) -> str:
    # Keys are 32 random bytes, so a fast hash is safe (no dictionary attack is possible).
    return hashlib.sha256(raw.encode()).hexdigest()


def ensure_workspace(session: Session, name: str = DEFAULT_WORKSPACE) -> tuple[int, bool]:
    """The workspace's id, creating it if needed; True when it was created."""
    found = session.scalar(select(Workspace.id).where(Workspace.name == name))
    if found is not None:
        return found, False
    # Core insert of the columns every schema since 0001 has: migration tests create workspaces at old revisions.
    return session.execute(insert(Workspace).values(name=name, created_at=utcnow()).returning(Workspace.id)).scalar_one(), True


def system_principal(workspace_id: int, actor: str = "system") -> Principal:
    """Full rights inside one workspace, for the CLI and first-run bootstrap."""
    return Principal(workspace_id=workspace_id, actor=actor, scopes=frozenset(access.SCOPES))


def workspace_id(session: Session, name: str) -> int:
    ws_id = session.scalar(select(Workspace.id).where(Workspace.name == name))
    if ws_id is None:
        raise NotFound("errors.keys.no_workspace_named", name=name)
    return ws_id


def _record(k: ApiKey) -> ApiKeyRecord:
    return ApiKeyRecord(k.id, k.name, k.kind, k.prefix, list(k.scopes), list(k.allowed_origins or []),
                        k.created_by, k.created_at, k.last_used_at, k.revoked_at)


def create_key(session: Session, p: Principal, *, name: str, scopes: list[str] | None = None,
               kind: str = "secret", allowed_origins: list[str] | None = None) -> tuple[ApiKeyRecord, str]:
    """Create a key; returns the record and the raw key, which is shown once and never stored."""
    access.require(p, "admin")
    workspace_id, actor = p.workspace_id, p.actor
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise InvalidInput("errors.keys.key_name_1_200")
    if kind not in ("secret", "publishable"):
        raise InvalidInput("errors.keys.key_kind_secret_publishable")
    if kind == "publishable":
        # A key that ships inside a web page may only log and read prompts.
        scopes = list(access.PUBLISHABLE_SCOPES)
        origins = [_origin(o) for o in (allowed_origins or [])]
        if not origins:
            raise InvalidInput("errors.keys.publishable_key_needs_allowed")
    else:
        scopes = access.validate_scopes(scopes or ["read", "write", "ingest"])
        origins = []
    raw = f"{PUBLISHABLE_PREFIX if kind == 'publishable' else SECRET_PREFIX}{secrets.token_urlsafe(32)}"
    key = ApiKey(workspace_id=workspace_id, name=name.strip(), kind=kind, prefix=raw[:10], key_hash=hash_key(raw),
                 scopes=scopes, allowed_origins=origins, created_by=actor)
    session.add(key)
    session.flush()
    audit.record(session, workspace_id, actor, "key.create", "api_key", key.id,
                 {"name": key.name, "scopes": scopes, "kind": kind})
    return _record(key), raw


def _origin(value: object) -> str:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")) or value.count("/") != 2:
        raise InvalidInput("errors.keys.allowed_origin_look_like", value=value)
    return value.rstrip("/").lower()


def list_keys(session: Session, p: Principal) -> list[ApiKeyRecord]:
    access.require(p, "admin")
    workspace_id = p.workspace_id
    rows = session.scalars(select(ApiKey).where(ApiKey.workspace_id == workspace_id).order_by(ApiKey.id))
    return [_record(k) for k in rows]


def revoke_key(session: Session, p: Principal, key_id: int) -> ApiKeyRecord:
    access.require(p, "admin")
    workspace_id, actor = p.workspace_id, p.actor
    key = session.scalar(select(ApiKey).where(ApiKey.workspace_id == workspace_id, ApiKey.id == key_id))
    if key is None:
        raise NotFound("errors.keys.no_api_key_id", key_id=key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit.record(session, workspace_id, actor, "key.revoke", "api_key", key.id, {"name": key.name})
        # Emptied after the commit, not before: a call in between would cache the key again.
        event.listen(session, "after_commit", lambda _session: _cache.clear(), once=True)
    return _record(key)


def authenticate(session: Session, raw: str | None) -> tuple[Principal, bool]:
    """The principal for a raw key, and whether its last-used time is stale (see touch_key).

    Unauthorized when missing, unknown or revoked. Read-only, so it runs in a read transaction.
    The answer is remembered for AUTH_CACHE_S seconds (see `cached`).
    """
    if not raw:
        raise Unauthorized("errors.keys.missing_api_key_send")
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(raw.strip())))
    if key is None or key.revoked_at is not None:
        raise Unauthorized("errors.keys.invalid_revoked_api_key")
    stale = key.last_used_at is None or utcnow() - key.last_used_at > LAST_USED_RESOLUTION
    principal = Principal(workspace_id=key.workspace_id, actor=f"key:{key.name}", scopes=frozenset(key.scopes),
                          key_id=key.id, key_kind=key.kind, allowed_origins=tuple(key.allowed_origins or ()))
    _remember(raw, principal)
    return principal, stale


def touch_key(session: Session, key_id: int) -> None:
    session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=utcnow()))
