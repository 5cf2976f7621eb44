"""Frozen records that services return (never ORM objects)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Principal:
    """Who is calling: an API key or a logged-in user, always inside one workspace."""

    workspace_id: int
    actor: str  # shown in audit trails: "key:ci-bot" or a user's email
    scopes: frozenset[str]
    key_id: int | None = None
    user_id: int | None = None
    role: str | None = None
    key_kind: str | None = None  # secret | publishable
    allowed_origins: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApiKeyRecord:
    id: int
    name: str
    kind: str
    prefix: str
    scopes: list[str]
    allowed_origins: list[str]
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class FolderRecord:
    id: int
    name: str
    path: str
    parent_id: int | None
    created_at: datetime


@dataclass(frozen=True)
class LabelRecord:
    name: str
    version: int
    policy: dict[str, Any] | None
    updated_by: str
    updated_at: datetime


@dataclass(frozen=True)
class PromptRecord:
    id: int
    name: str
    folder: str | None  # folder path, None = top level
    description: str
    tags: list[str]
    latest_version: int
    labels: list[LabelRecord]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class VersionRecord:
    id: int
    prompt_id: int
    prompt_name: str
    number: int
    kind: str  # chat | completion
    template: dict[str, Any]
    template_format: str
    input_variables: list[str]
    provider: str | None
    model: str | None
    parameters: dict[str, Any]
    commit_message: str
    author: str
    created_at: datetime
    labels: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LabelEventRecord:
    id: int
    label: str
    from_version: int | None
    to_version: int | None
    from_policy: dict[str, Any] | None
    to_policy: dict[str, Any] | None
    actor: str
    reason: str
    created_at: datetime


@dataclass(frozen=True)
class Resolved:
    """The version a fetch resolved to, and why (label, routing rule, sticky unit)."""

    prompt: PromptRecord
    version: VersionRecord
    label: str | None
    rule: str | None = None
    unit: str | None = None


@dataclass(frozen=True)
class Bundle:
    """What a client that routes by itself caches for one fetch spec: the label's routing policy
    (None: one fixed version), the label's own version and every version the policy can serve."""

    prompt: PromptRecord
    label: str | None
    policy: dict[str, Any] | None
    version: int
    versions: dict[int, VersionRecord]


@dataclass(frozen=True)
class AuditRecord:
    id: int
    actor: str
    action: str
    object_type: str
    object_id: str
    details: dict[str, Any]
    created_at: datetime
