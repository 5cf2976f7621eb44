"""Pydantic request bodies of the registry API. Unknown fields are ignored (documented)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from promptyard.domain import names, templates
from promptyard.domain.numbers import MAX_ID


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
    role: str = Field(description="system | user | assistant | tool | developer",
                      json_schema_extra={"enum": list(templates.ROLES)})
    content: str
    name: str | None = None


class ModelIn(BaseModel):
    provider: str | None = Field(None, description="e.g. openai, anthropic")
    name: str | None = Field(None, description="e.g. gpt-4o")
    parameters: dict[str, Any] = Field(default_factory=dict, description="temperature, max_tokens, ...")


class VersionIn(BaseModel):
    # A chat version has messages; a completion version has text.
    model_config = ConfigDict(json_schema_extra={"anyOf": [
        {"required": ["messages"], "properties": {"type": {"enum": ["chat", None]}, "messages": {"type": "array", "minItems": 1}}},
        {"required": ["type", "text"], "properties": {"type": {"const": "completion"}, "text": {"type": "string"}}}]})

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


class ExperimentIn(BaseModel):
    """What an experiment tests (docs/experiments.md); every field may be left out."""

    model_config = ConfigDict(extra="forbid")
    hypothesis: str | None = Field(None, max_length=2000, description="what the candidate should change, and why")
    primary_metric: str | None = Field(None, pattern=r"^[\w.\-]{1,100}$",
                                       description="the score (or error_rate) that decides; the others are guardrails")
    planned_units: int | None = Field(None, ge=2, le=10**9, description="units (users, or requests) expected in all "
                                                                        "arms; tunes the always-valid interval")
    min_effect: float | None = Field(None, gt=0, description="the smallest difference worth finding, in the primary "
                                                              "metric's points")


class LabelIn(BaseModel):
    version: int | None = Field(None, ge=1, le=MAX_ID, description="version number the label points at")
    policy: dict[str, Any] | None = Field(None, description="routing policy: split + segments (see docs)")
    reason: str = ""
    experiment: ExperimentIn | None = Field(None, description="with a policy: what the experiment it starts tests")


class FetchIn(BaseModel):
    version: int | None = Field(None, ge=1, le=MAX_ID)
    # Checked here even when `version` (which wins) makes the label unused, as the schema says.
    label: str | None = Field(None, pattern="^(?:[A-Za-z0-9][A-Za-z0-9_.\\-]{0,63})?$",
                              description="a label, or 'latest'; none or '' = production if set, else the newest")
    variables: dict[str, Any] | None = Field(None, description="input variables; when given, the template is rendered")
    metadata: dict[str, Any] = Field(default_factory=dict, description="request metadata used by routing policies")


class FolderIn(BaseModel):
    path: Annotated[str, rules(pattern=names.FOLDER_PATH_REQUIRED_PATTERN)] = Field(
        description="e.g. 'production/pharmacy'; missing parents are created")


class FolderPatch(BaseModel):
    name: FolderName | None = None
    parent: FolderPath | None = Field(None, description="new parent folder path; '' = top level")


class KeyIn(BaseModel):
    # A publishable key needs its origins (and gets fixed scopes); a secret key has no origins.
    model_config = ConfigDict(json_schema_extra={"anyOf": [
        {"not": {"required": ["kind"]}}, {"properties": {"kind": {"const": "secret"}}},
        {"required": ["allowed_origins"], "properties": {"allowed_origins": {"type": "array", "minItems": 1, "items": {
            "type": "string", "pattern": "^https?://[^/\\x00]+/?$"}}}}]})

    name: Annotated[str, rules(pattern=names.SOME_TEXT_PATTERN, maxLength=200)]
    kind: Literal["secret", "publishable"] = "secret"
    scopes: list[Literal["read", "prompts:read", "ingest", "write", "admin"]] | None = Field(
        None, description="secret keys: default read, write, ingest")
    allowed_origins: list[str] | None = Field(
        None, description="publishable keys: e.g. ['https://app.example.com'] (no path)")


# Bodies of the annotation routes, which pass them on to the services as they came (one home for
# their rules: domain/logs.py); these only state those rules in the OpenAPI.
_SCALAR = [{"type": "string", "maxLength": 1000}, {"type": "number"}, {"type": "boolean"}, {"type": "null"}]
METADATA_BODY = {"type": "object", "maxProperties": 200, "description": "key -> string (numbers and booleans "
                 "become text; null is ignored)", "propertyNames": {"minLength": 1, "maxLength": 200},
                 "additionalProperties": {"anyOf": _SCALAR}}
_TAG_LIST = {"anyOf": [{"type": "array", "maxItems": 100, "items": {"type": "string", "minLength": 1,
                                                                     "maxLength": 200}}, {"type": "null"}]}
TAGS_BODY = {"type": "object", "properties": {"add": _TAG_LIST, "remove": _TAG_LIST}}
SCORE = {"type": "object", "required": ["value"], "properties": {
    "name": {"type": "string", "pattern": "^[\\w.\\-]{1,100}$", "default": "default"},
    "value": {"anyOf": [{"type": "number"}, {"type": "boolean"}, {"type": "string"}],
              "description": "a number from 0 to 100; a score with a config (/api/v1/score-configs) takes what "
                             "its config allows: a number in its range, true/false, a category's value or label"},
    "comment": {"anyOf": [{"type": "string", "maxLength": 5000}, {"type": "null"}]},
    "source": {"anyOf": [{"enum": ["api", "human", "judge", "rule", ""]}, {"type": "null"}],
               "description": "default api"},
    "author": {"anyOf": [{"type": "string", "maxLength": 320}, {"type": "null"}]}}}
SCORES_BODY = {"anyOf": [SCORE, {"type": "array", "minItems": 1, "items": SCORE}]}


def body(schema: dict[str, Any]) -> dict[str, Any]:
    """`openapi_extra` for a route whose JSON body has this schema."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


class IngestProblem(BaseModel):
    index: int = Field(description="position of the log in the batch")
    field: str | None = None
    message: str


class IngestOut(BaseModel):
    """What a batch did: ids of the stored logs, and why the others were not stored."""

    accepted: int
    duplicates: int
    ids: list[str]
    errors: list[IngestProblem]
    warnings: list[Any]


_TIME = {"anyOf": [{"type": "string", "format": "date-time"},
                   {"type": "number", "minimum": 0, "exclusiveMaximum": 32503680000}, {"type": "null"}]}
_COUNT = {"anyOf": [{"type": "integer", "minimum": 0, "maximum": MAX_ID}, {"type": "null"}]}
_SHORT = {"anyOf": [{"type": "string", "maxLength": 200}, {"type": "null"}]}
LOG = {"type": "object", "description": "one LLM call (docs/usage.md: Logging); every field is optional", "properties": {
    "id": {"anyOf": [{"type": "string", "maxLength": 64}, {"type": "null"}],
           "description": "client-generated UUID: replays store nothing twice ('' or null: the server makes one)"},
    "start_time": _TIME, "end_time": _TIME, "provider": {"anyOf": [{"type": "string", "maxLength": 100}, {"type": "null"}]},
    "model": _SHORT, "function_name": _SHORT, "group": _SHORT, "input": {}, "output": {},
    "status": {"anyOf": [{"enum": ["ok", "error", ""]}, {"type": "null"}], "description": "default ok"},
    "error": {"anyOf": [{"type": "object", "properties": {"type": {"anyOf": [{"type": "string", "maxLength": 100}, {"type": "null"}]}}},
                        {"type": "null"}]},
    "usage": {"anyOf": [{"type": "object", "properties": {"input_tokens": _COUNT, "output_tokens": _COUNT}}, {"type": "null"}]},
    "cost": {"anyOf": [{"type": "number", "minimum": 0, "exclusiveMaximum": 1e9}, {"type": "null"}]},
    "tags": {"anyOf": [{"type": "array", "maxItems": 100, "items": {"type": "string", "minLength": 1, "maxLength": 200}},
                       {"type": "null"}]},
    "metadata": {"anyOf": [METADATA_BODY, {"type": "null"}]},
    "scores": {"anyOf": [{"type": "array", "items": SCORE}, {"type": "null"}]},
    "prompt": {"anyOf": [{"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string"}, "version": {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}]},
        "label": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "variables": {"anyOf": [{"type": "object"}, {"type": "null"}]}}}, {"type": "null"}]},
    "routing": {"anyOf": [{"type": "object"}, {"type": "null"}]}}}
INGEST_BODY = {"anyOf": [
    {"type": "object", "required": ["requests"], "properties": {"requests": {"type": "array", "minItems": 1, "items": LOG}}},
    LOG]}
