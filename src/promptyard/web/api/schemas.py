"""Pydantic request bodies of the registry API. Unknown fields are ignored (documented)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class MessageIn(BaseModel):
    role: str = Field(description="system | user | assistant | tool | developer")
    content: str
    name: str | None = None


class ModelIn(BaseModel):
    provider: str | None = Field(None, description="e.g. openai, anthropic")
    name: str | None = Field(None, description="e.g. gpt-4o")
    parameters: dict[str, Any] = Field(default_factory=dict, description="temperature, max_tokens, ...")


class VersionIn(BaseModel):
    type: Literal["chat", "completion"] | None = None
    messages: list[MessageIn] | None = None
    text: str | None = None
    tools: list[dict[str, Any]] | None = None
    template_format: Literal["f-string", "jinja2"] = "f-string"
    model: ModelIn | None = None
    commit_message: str = Field(description="required: what changed and why")
    labels: list[str] = Field(default_factory=list, description="labels to move to the new version")

    def spec(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True, exclude={"labels"})


class PromptIn(BaseModel):
    name: str
    folder: str | None = Field(None, description="folder path, e.g. 'experimental/pharmacy'; created if missing")
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    version: VersionIn | None = Field(None, description="optional first version")


class PromptPatch(BaseModel):
    name: str | None = None
    folder: str | None = Field(None, description="new folder path; '' = top level")
    description: str | None = None
    tags: list[str] | None = None


class PublishIn(VersionIn):
    name: str
    folder: str | None = None
    description: str | None = None
    tags: list[str] | None = None


class LabelIn(BaseModel):
    version: int | None = Field(None, ge=1, le=2**31 - 1, description="version number the label points at")
    policy: dict[str, Any] | None = Field(None, description="routing policy: split + segments (see docs)")
    reason: str = ""


class FetchIn(BaseModel):
    version: int | None = Field(None, ge=1, le=2**31 - 1)
    label: str | None = None
    variables: dict[str, Any] | None = Field(None, description="input variables; when given, the template is rendered")
    metadata: dict[str, Any] = Field(default_factory=dict, description="request metadata used by routing policies")


class FolderIn(BaseModel):
    path: str = Field(description="e.g. 'production/pharmacy'; missing parents are created")


class FolderPatch(BaseModel):
    name: str | None = None
    parent: str | None = Field(None, description="new parent folder path; '' = top level")


class KeyIn(BaseModel):
    name: str
    kind: Literal["secret", "publishable"] = "secret"
    scopes: list[str] | None = None
    allowed_origins: list[str] | None = None
