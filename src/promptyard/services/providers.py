"""Provider connections: a workspace's LLM providers (admins only, audited).

Kinds: `openai` - any OpenAI-compatible chat completions API at a base URL (OpenAI itself,
https://api.openai.com/v1; Azure OpenAI, https://NAME.openai.azure.com/openai/deployments/DEPLOYMENT
with `?api-version=...` and `secret_header: api-key`; local servers such as vLLM, Ollama, llama.cpp) -
and `anthropic` (https://api.anthropic.com). The secret (an API key) is encrypted at rest
(services/secrets.py) and never returned: records carry `has_secret` and its last four characters.
Changing the base URL requires entering the secret again, so a key cannot be redirected to another
server by whoever can edit the URL. URLs follow services/outbound.py's rules, at create and update and
again at every call (services/llm_calls.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from promptyard.domain import access
from promptyard.domain.records import Principal
from promptyard.errors import Conflict, InvalidInput, NotFound
from promptyard.services import audit, outbound, secrets
from promptyard.store.models import ProviderConnection
from promptyard.store.types import utcnow

KINDS = ("openai", "anthropic")
DEFAULT_URLS = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com"}
MAX_HEADERS = 20
_HEADER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-_]{0,99}")
# Set by the call itself, or bearers of credentials (those go into the secret, which is encrypted).
_RESERVED_HEADERS = frozenset({"host", "content-length", "content-type", "transfer-encoding", "connection",
                               "accept-encoding", "anthropic-version"})
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "api-key", "cookie",
                             "ocp-apim-subscription-key"})
_FIELDS = ("name", "kind", "base_url", "default_model", "headers", "secret_header", "secret")


@dataclass(frozen=True)
class ProviderRecord:
    id: int
    name: str
    kind: str
    base_url: str
    default_model: str
    headers: dict[str, str]
    secret_header: str
    has_secret: bool
    secret_hint: str  # last four characters of a long secret, else ''
    created_by: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ProviderChoice:
    """What a picker of connections shows (evaluation runs, the playground): no URL, no headers."""

    id: int
    name: str
    kind: str
    default_model: str


def _record(c: ProviderConnection) -> ProviderRecord:
    return ProviderRecord(c.id, c.name, c.kind, c.base_url, c.default_model, dict(c.headers or {}), c.secret_header,
                          c.secret is not None, c.secret_hint, c.created_by, c.created_at, c.updated_at)


def context(connection_id: int) -> str:
    """What a connection's encrypted secret is bound to."""
    return f"provider:{connection_id}"


def row(session: Session, workspace_id: int, connection_id: int) -> ProviderConnection:
    c = session.scalar(select(ProviderConnection).where(ProviderConnection.workspace_id == workspace_id,
                                                        ProviderConnection.id == connection_id))
    if c is None:
        raise NotFound("errors.providers.not_found", id=connection_id)
    return c


# ------------------------------------------------------------------------------------------ checks


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("errors.providers.name", field="name")
    value = value.strip()
    if len(value) > 100 or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InvalidInput("errors.providers.name", field="name")
    return value


def _kind(value: Any) -> str:
    if value not in KINDS:
        raise InvalidInput("errors.providers.kind", field="kind", kinds=", ".join(KINDS))
    return value


def _url(session: Session, value: Any) -> str:
    outbound.check(value, outbound.policy_of(session))
    return value.strip().rstrip("/")


def _model(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > 200 or any(ord(ch) < 32 for ch in value):
        raise InvalidInput("errors.providers.model", field="default_model")
    return value.strip()


def _header_name(name: Any, field: str) -> str:
    if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
        raise InvalidInput("errors.providers.header_name", field=field, name=str(name)[:100])
    return name


def _headers(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_HEADERS:
        raise InvalidInput("errors.providers.headers", field="headers", limit=MAX_HEADERS)
    out: dict[str, str] = {}
    for name, text in value.items():
        _header_name(name, "headers")
        low = name.lower()
        if low in _SECRET_HEADERS:
            raise InvalidInput("errors.providers.secret_in_headers", field="headers", name=name)
        if low in _RESERVED_HEADERS:
            raise InvalidInput("errors.providers.reserved_header", field="headers", name=name)
        if not isinstance(text, str) or len(text) > 2000 or any(ord(ch) < 32 and ch != "\t" for ch in text):
            raise InvalidInput("errors.providers.header_value", field="headers", name=name)
        if low in {n.lower() for n in out}:
            raise InvalidInput("errors.providers.header_twice", field="headers", name=name)
        out[name] = text
    return out


def _secret_header(value: Any) -> str:
    if value in (None, ""):
        return ""
    name = _header_name(value, "secret_header")
    if name.lower() in _RESERVED_HEADERS:
        raise InvalidInput("errors.providers.reserved_header", field="secret_header", name=name)
    return name


def _secret(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 4000 or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InvalidInput("errors.providers.secret", field="secret")
    return value.strip()


def _set_secret(session: Session, c: ProviderConnection, plain: str) -> None:
    if plain:
        c.secret = secrets.encrypt(session, plain, context(c.id))
        c.secret_hint = secrets.hint(plain)
    else:
        c.secret, c.secret_hint = None, ""


def _name_free(session: Session, workspace_id: int, name: str, own_id: int | None = None) -> None:
    other = session.scalar(select(ProviderConnection.id).where(ProviderConnection.workspace_id == workspace_id,
                                                               ProviderConnection.name == name))
    if other is not None and other != own_id:
        raise Conflict("errors.providers.name_taken", field="name", name=name)


# ------------------------------------------------------------------------------------------ use cases


def list_all(session: Session, p: Principal) -> list[ProviderRecord]:
    access.require(p, "admin")
    rows = session.scalars(select(ProviderConnection).where(ProviderConnection.workspace_id == p.workspace_id)
                           .order_by(ProviderConnection.name))
    return [_record(c) for c in rows]


def choices(session: Session, p: Principal) -> list[ProviderChoice]:
    """The connections people who may run evaluations can pick from (write scope), without their URLs."""
    access.require(p, "write")
    rows = session.execute(select(ProviderConnection.id, ProviderConnection.name, ProviderConnection.kind,
                                  ProviderConnection.default_model)
                           .where(ProviderConnection.workspace_id == p.workspace_id).order_by(ProviderConnection.name))
    return [ProviderChoice(*r) for r in rows]


def get(session: Session, p: Principal, connection_id: int) -> ProviderRecord:
    access.require(p, "admin")
    return _record(row(session, p.workspace_id, connection_id))


def create(session: Session, p: Principal, *, name: Any, kind: Any, base_url: Any = None, default_model: Any = "",
           headers: Any = None, secret_header: Any = "", secret: Any = None) -> ProviderRecord:
    access.require(p, "admin")
    kind = _kind(kind)
    name = _name(name)
    url = _url(session, base_url if base_url not in (None, "") else DEFAULT_URLS[kind])
    plain = _secret(secret) if secret not in (None, "") else ""
    c = ProviderConnection(workspace_id=p.workspace_id, name=name, kind=kind, base_url=url,
                           default_model=_model(default_model), headers=_headers(headers),
                           secret_header=_secret_header(secret_header), secret=None, secret_hint="",
                           created_by=p.actor)
    _name_free(session, p.workspace_id, name)
    session.add(c)
    session.flush()  # the id the secret is bound to
    _set_secret(session, c, plain)
    audit.record(session, p.workspace_id, p.actor, "provider.create", "provider", c.id,
                 {"name": name, "kind": kind, "base_url": outbound.shown(url), "secret": bool(plain)})
    return _record(c)


def update(session: Session, p: Principal, connection_id: int, changes: dict[str, Any]) -> ProviderRecord:
    """Change the fields given in `changes` (the others stay). `secret`: a new secret, '' to remove
    it. A new base URL needs the secret in the same change when the connection has one (409)."""
    access.require(p, "admin")
    unknown = sorted(set(changes) - set(_FIELDS))
    if unknown:
        raise InvalidInput("errors.providers.unknown_field", field=unknown[0], name=unknown[0])
    c = row(session, p.workspace_id, connection_id)
    changed: list[str] = []
    if "kind" in changes and changes["kind"] != c.kind:
        c.kind = _kind(changes["kind"])
        changed.append("kind")
    if "name" in changes:
        name = _name(changes["name"])
        if name != c.name:
            _name_free(session, p.workspace_id, name, c.id)
            c.name = name
            changed.append("name")
    if "base_url" in changes:
        url = _url(session, changes["base_url"])
        if url != c.base_url:
            if c.secret is not None and changes.get("secret") is None:
                raise Conflict("errors.providers.secret_again", field="secret")
            c.base_url = url
            changed.append("base_url")
    for field, check in (("default_model", _model), ("headers", _headers), ("secret_header", _secret_header)):
        if field in changes:
            value = check(changes[field])
            if value != getattr(c, field):
                setattr(c, field, value)
                changed.append(field)
    if changes.get("secret") is not None:
        _set_secret(session, c, _secret(changes["secret"]) if changes["secret"] != "" else "")
        changed.append("secret")
    if changed:
        c.updated_at = utcnow()
        audit.record(session, p.workspace_id, p.actor, "provider.update", "provider", c.id,
                     {"name": c.name, "changed": changed, "base_url": outbound.shown(c.base_url)})
    return _record(c)


def delete(session: Session, p: Principal, connection_id: int) -> None:
    access.require(p, "admin")
    c = row(session, p.workspace_id, connection_id)
    audit.record(session, p.workspace_id, p.actor, "provider.delete", "provider", c.id, {"name": c.name})
    session.delete(c)
