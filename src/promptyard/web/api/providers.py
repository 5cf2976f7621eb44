"""/api/v1/providers: a workspace's LLM provider connections (admins; audited). Secrets are write-only."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from promptyard.services import providers
from promptyard.web.api import errors, shapes
from promptyard.web.api.deps import Auth, Ctx, Id

router = APIRouter(prefix="/api/v1/providers", tags=["providers"], responses=errors.READ)

_SECRET = ("the API key, write-only: stored encrypted, never returned (answers say has_secret and its last "
           "four characters)")


class ProviderIn(BaseModel):
    name: str = Field(max_length=100, description="unique in the workspace, e.g. 'openai-prod'")
    kind: Literal["openai", "anthropic"] = Field(description="openai: any OpenAI-compatible chat completions API "
                                                 "(OpenAI, Azure OpenAI, local servers); anthropic: the Messages API")
    base_url: str | None = Field(None, max_length=2000, description="e.g. https://api.openai.com/v1 (the default "
                                 "for openai), https://api.anthropic.com (for anthropic), http://10.0.0.5:8000/v1")
    default_model: str = Field("", max_length=200, description="used when a call names no model")
    headers: dict[str, str] = Field(default_factory=dict, description="extra headers sent with every call (not "
                                    "secret; credentials go into `secret`)")
    secret_header: str = Field("", description="header that carries the secret; '' = Authorization: Bearer "
                               "(openai) or x-api-key (anthropic); e.g. api-key for Azure OpenAI")
    secret: str | None = Field(None, max_length=4000, description=_SECRET)


class ProviderPatch(BaseModel):
    name: str | None = Field(None, max_length=100)
    kind: Literal["openai", "anthropic"] | None = None
    base_url: str | None = Field(None, max_length=2000, description="a new base URL needs `secret` in the same "
                                 "change when the connection has a secret (409 otherwise)")
    default_model: str | None = Field(None, max_length=200)
    headers: dict[str, str] | None = None
    secret_header: str | None = None
    secret: str | None = Field(None, max_length=4000, description=_SECRET + "; '' removes it")


class ProviderOut(BaseModel):
    id: int
    name: str
    kind: str
    base_url: str
    default_model: str
    headers: dict[str, str]
    secret_header: str
    has_secret: bool
    secret_hint: str = Field(description="the secret's last four characters ('' for a short one)")
    created_by: str
    created_at: str
    updated_at: str


class ProviderList(BaseModel):
    items: list[ProviderOut]


@router.get("", response_model=ProviderList)
def list_providers(c: Ctx, p: Auth):
    with c.db.read() as s:
        return {"items": shapes.plain(providers.list_all(s, p))}


@router.post("", status_code=201, response_model=ProviderOut, responses=errors.WRITE)
def create_provider(body: ProviderIn, c: Ctx, p: Auth):
    """Create a connection. The base URL must pass the outbound rules (http/https; no link-local or
    metadata address; PROMPTYARD_OUTBOUND_ALLOW): 422 naming the rule otherwise."""
    with c.db.write() as s:
        return shapes.plain(providers.create(s, p, **body.model_dump()))


@router.get("/{connection_id}", response_model=ProviderOut, responses=errors.FOUND)
def get_provider(connection_id: Id, c: Ctx, p: Auth):
    with c.db.read() as s:
        return shapes.plain(providers.get(s, p, connection_id))


@router.patch("/{connection_id}", response_model=ProviderOut, responses=errors.WRITE | errors.FOUND)
def update_provider(connection_id: Id, body: ProviderPatch, c: Ctx, p: Auth):
    """Change the fields given; the others stay."""
    with c.db.write() as s:
        return shapes.plain(providers.update(s, p, connection_id, body.model_dump(exclude_unset=True)))


@router.delete("/{connection_id}", status_code=204, responses=errors.WRITE | errors.FOUND)
def delete_provider(connection_id: Id, c: Ctx, p: Auth):
    with c.db.write() as s:
        providers.delete(s, p, connection_id)
