"""Pydantic request bodies of the registry API. Unknown fields are ignored (documented)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from promptyard.domain import names


def rules(**schema: Any) -> Any:
    """Rules the services check, stated in the OpenAPI (the services still check and word them)."""
    return Field(json_schema_extra=schema)


PromptName = Annotated[str, rules(pattern=names.PROMPT_NAME_PATTERN, maxLength=200)]
FolderPath = Annotated[str, rules(pattern=names.FOLDER_PATH_PATTERN)]
FolderName = Annotated[str, rules(pattern=names.FOLDER_NAME_PATTERN)]
LabelName = Annotated[str, rules(pattern=names.LABEL_PATTERN)]
Tag = Annotated[str, rules(pattern=names.TAG_PATTERN)]
SomeText = Annotated[str, rules(pattern=names.SOME_TEXT_PATTERN, maxLength=5000)]


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
    commit_message: SomeText = Field(description="required: what changed and why")
    labels: list[LabelName] = Field(default_factory=list, description="labels to move to the new version")

    def spec(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True, exclude={"labels"})


class PromptIn(BaseModel):
    name: PromptName
    folder: FolderPath | None = Field(None, description="folder path, e.g. 'experimental/pharmacy'; created if missing")
    description: str = ""
    tags: list[Tag] = Field(default_factory=list)
    version: VersionIn | None = Field(None, description="optional first version")


class PromptPatch(BaseModel):
    name: PromptName | None = None
    folder: FolderPath | None = Field(None, description="new folder path; '' = top level")
    description: str | None = None
    tags: list[Tag] | None = None


class PublishIn(VersionIn):
    name: PromptName
    folder: FolderPath | None = None
    description: str | None = None
    tags: list[Tag] | None = None


class LabelIn(BaseModel):
    version: int | None = Field(None, ge=1, le=2**31 - 1, description="version number the label points at")
    policy: dict[str, Any] | None = Field(None, description="routing policy: split + segments (see docs)")
    reason: str = ""


class FetchIn(BaseModel):
    version: int | None = Field(None, ge=1, le=2**31 - 1)
    label: LabelName | None = None
    variables: dict[str, Any] | None = Field(None, description="input variables; when given, the template is rendered")
    metadata: dict[str, Any] = Field(default_factory=dict, description="request metadata used by routing policies")


class FolderIn(BaseModel):
    path: Annotated[str, rules(pattern=names.FOLDER_PATH_REQUIRED_PATTERN)] = Field(
        description="e.g. 'production/pharmacy'; missing parents are created")


class FolderPatch(BaseModel):
    name: FolderName | None = None
    parent: FolderPath | None = Field(None, description="new parent folder path; '' = top level")


class KeyIn(BaseModel):
    name: Annotated[str, rules(pattern=names.SOME_TEXT_PATTERN, maxLength=200)]
    kind: Literal["secret", "publishable"] = "secret"
    scopes: list[str] | None = None
    allowed_origins: list[str] | None = None
