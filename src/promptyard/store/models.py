"""SQLAlchemy models: the only description of the schema (Alembic migrations must match it).

Every table below `workspaces` carries `workspace_id`, and every query filters on it: no query
crosses workspaces.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from promptyard.store.types import JSONType, PackedJSONType, UTCDateTime, utcnow

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


def _ws() -> Mapped[int]:
    return mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)


class Workspace(Base):
    __tablename__ = "workspaces"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The redaction policy as services/redaction.py stores it; NULL = the default policy (on).
    redaction: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    retention_days: Mapped[int | None] = mapped_column(Integer)  # NULL = logs are kept until erased
    # Display (services/workspace_display.py): NULL time_zone = the viewer's browser zone;
    # currency {"code": "JPY", "per_usd": 150.0}, NULL = US dollars.
    time_zone: Mapped[str | None] = mapped_column(String(64))
    currency: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class RedactionTerm(Base):
    """One entry of a workspace's term list (names to redact), kept only as keyed hashes: the term's
    digest and the digest of its first two characters (a cheap first test at each text position)."""

    __tablename__ = "redaction_terms"
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(64))
    length: Mapped[int] = mapped_column(Integer)  # in normalised characters
    created_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    locale: Mapped[str | None] = mapped_column(String(10))
    time_zone: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("workspace_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = _ws()
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))  # owner | admin | editor | viewer
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Invitation(Base):
    __tablename__ = "invitations"
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = _ws()
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebSession(Base):
    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    workspace_id: Mapped[int] = _ws()
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LoginFailure(Base):
    """One failed password check, kept for the throttle window (services/login_throttle.py). In the
    database so that every server process sees the same count. `subject` is 'account:' or
    'address:' + a SHA-256 hash: what people type as an email may be a password."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_subject_at", "subject", "created_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subject: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = _ws()
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="secret")  # secret | publishable
    prefix: Mapped[str] = mapped_column(String(20))  # shown in lists, e.g. "py_sk_3f9a"
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSONType)
    allowed_origins: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Folder(Base):
    """A node of the folder tree. `path` ("production/pharmacy") is unique per workspace; it is
    denormalised so that listing by folder and resolving paths is one indexed lookup."""

    __tablename__ = "folders"
    __table_args__ = (UniqueConstraint("workspace_id", "path"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = _ws()
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("folders.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Prompt(Base):
    __tablename__ = "prompts"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = _ws()
    name: Mapped[str] = mapped_column(String(500))
    folder_id: Mapped[int | None] = mapped_column(ForeignKey("folders.id", ondelete="RESTRICT"), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # The number of the newest version; bumped under a row lock when publishing, so versions
    # are 1, 2, 3 ... with no gap or duplicate under concurrency.
    latest_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PromptTag(Base):
    __tablename__ = "prompt_tags"
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(200), primary_key=True)
    workspace_id: Mapped[int] = _ws()


class PromptVersion(Base):
    __tablename__ = "prompt_versions"
    __table_args__ = (UniqueConstraint("prompt_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = _ws()
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))  # chat | completion
    template: Mapped[dict[str, Any]] = mapped_column(JSONType)
    template_format: Mapped[str] = mapped_column(String(20))  # f-string | jinja2
    input_variables: Mapped[list[str]] = mapped_column(JSONType)
    provider: Mapped[str | None] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(200))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    commit_message: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(320))
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReleaseLabel(Base):
    """A movable pointer from a prompt to a version, optionally with a routing policy
    (weighted versions + segments, see domain/routing.py)."""

    __tablename__ = "release_labels"
    __table_args__ = (UniqueConstraint("prompt_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = _ws()
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    version_id: Mapped[int] = mapped_column(ForeignKey("prompt_versions.id", ondelete="RESTRICT"))
    policy: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    updated_by: Mapped[str] = mapped_column(String(320), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LabelEvent(Base):
    """Every label move: who, when, from, to, why."""

    __tablename__ = "label_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = _ws()
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(100))
    from_version: Mapped[int | None] = mapped_column(Integer)
    to_version: Mapped[int | None] = mapped_column(Integer)  # None = label deleted
    from_policy: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    to_policy: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    actor: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LabelRamp(Base):
    """A guarded ramp: step a candidate's weight up on a schedule, revert if it does worse."""

    __tablename__ = "label_ramps"
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = _ws()
    label_id: Mapped[int] = mapped_column(ForeignKey("release_labels.id", ondelete="CASCADE"), index=True)
    plan: Mapped[dict[str, Any]] = mapped_column(JSONType)  # steps, interval, guard metric + margin
    state: Mapped[str] = mapped_column(String(20), default="running")  # running | done | reverted | stopped
    step: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Experiment(Base):
    """One policy period of a release label: from the move that gave the label a routing policy
    to the move that changed or removed it (issue 12). What it tests (hypothesis, primary
    metric, planned size) is declared by whoever starts it; its results are frozen when it ends,
    and the move that ended it (promotion, rollback, a new policy) is linked."""

    __tablename__ = "experiments"
    __table_args__ = (Index("ix_experiments_label", "workspace_id", "prompt_id", "label", "started_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = _ws()
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(100))
    policy: Mapped[dict[str, Any]] = mapped_column(JSONType)
    baseline: Mapped[int] = mapped_column(Integer)  # the label's base version when it started
    hypothesis: Mapped[str] = mapped_column(Text, default="")
    primary_metric: Mapped[str] = mapped_column(String(200), default="error_rate")
    planned_units: Mapped[int] = mapped_column(Integer, default=1000)
    min_effect: Mapped[float | None] = mapped_column(Float)  # the smallest difference worth finding
    started_by: Mapped[str] = mapped_column(String(320), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    start_event_id: Mapped[int | None] = mapped_column(Integer)  # the label move that started it
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_by: Mapped[str] = mapped_column(String(320), default="")
    end_event_id: Mapped[int | None] = mapped_column(Integer)  # the move that ended it
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSONType)  # {kind, version, forced, reason}
    results: Mapped[dict[str, Any] | None] = mapped_column(JSONType)  # frozen when it ends


class ExperimentUnit(Base):
    """Running sums of one metric over the requests of one unit (a sticky key's value, hashed) in
    one (experiment, version, rule): n requests carrying the metric and y their sum. The rows with
    unit '' hold requests that were randomised one by one (no sticky key): each request is its
    own unit, so they keep the sum of squares yy as well. Every unit-level moment the statistics
    need is a sum over these rows (store/experiment_totals.py)."""

    __tablename__ = "experiment_units"
    # The key in the order the statistics group by, and on SQLite the table stored in it (WITHOUT
    # ROWID): the sums are read in group order, with no sort and no second lookup per row.
    __table_args__ = {"sqlite_with_rowid": False}
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule: Mapped[str] = mapped_column(String(220), primary_key=True)  # domain/routing.rule_name
    metric: Mapped[str] = mapped_column(String(200), primary_key=True)
    unit: Mapped[str] = mapped_column(String(32), primary_key=True)
    n: Mapped[float] = mapped_column(Float, default=0.0)
    y: Mapped[float] = mapped_column(Float, default=0.0)
    yy: Mapped[float] = mapped_column(Float, default=0.0)


class Request(Base):
    """One logged LLM call."""

    __tablename__ = "requests"
    __table_args__ = (
        UniqueConstraint("workspace_id", "client_id"),
        Index("ix_requests_ws_time", "workspace_id", "start_time", "id"),
        Index("ix_requests_version_time", "prompt_version_id", "start_time", "id"),
        Index("ix_requests_prompt_time", "prompt_id", "start_time", "id"),
        # Covers per-version statistics (no visit to the wide rows) and latency percentiles.
        Index("ix_requests_stats", "workspace_id", "prompt_name", "version_number", "latency_ms", "status",
              "total_tokens", "cost"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(64))  # client-generated id (UUID): idempotency
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    start_time: Mapped[datetime] = mapped_column(UTCDateTime)
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    provider: Mapped[str | None] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(200))
    function_name: Mapped[str | None] = mapped_column(String(200))
    # Each text is stored once: here as JSON (packed on SQLite, store/types.py); search reads the
    # text index `request_fts` (store/text_search.py, made by migration 0008: its shape differs per
    # database), whose plain text is domain/logs.text_of of these values.
    input: Mapped[Any] = mapped_column(PackedJSONType)
    output: Mapped[Any] = mapped_column(PackedJSONType)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(10), default="ok")  # ok | error
    error_type: Mapped[str | None] = mapped_column(String(100))
    error_message: Mapped[str | None] = mapped_column(Text)
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    total_tokens: Mapped[int | None] = mapped_column(Integer)
    cost: Mapped[float | None] = mapped_column(Float)
    prompt_id: Mapped[int | None] = mapped_column(ForeignKey("prompts.id", ondelete="SET NULL"))
    prompt_version_id: Mapped[int | None] = mapped_column(ForeignKey("prompt_versions.id", ondelete="SET NULL"))
    prompt_name: Mapped[str | None] = mapped_column(String(500))
    version_number: Mapped[int | None] = mapped_column(Integer)
    label: Mapped[str | None] = mapped_column(String(100))
    input_variables: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    routing: Mapped[dict[str, Any] | None] = mapped_column(JSONType)  # {label, rule, unit}
    experiment_id: Mapped[int | None] = mapped_column(Integer, index=True)  # the one it counts for; no key (0006)
    group_id: Mapped[str | None] = mapped_column(String(200), index=True)
    span_id: Mapped[str | None] = mapped_column(String(32))
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    source: Mapped[str] = mapped_column(String(20), default="api")  # api | sdk | promptlayer


class RequestTag(Base):
    __tablename__ = "request_tags"
    # SQLite: WITHOUT ROWID (0010), the key is the table.
    __table_args__ = (Index("ix_request_tags_ws_tag", "workspace_id", "tag", "request_id"), {"sqlite_with_rowid": False})
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(200), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(Integer)  # via the request; no key of its own (0004)


class RequestMetadata(Base):
    __tablename__ = "request_metadata"
    __table_args__ = (Index("ix_request_metadata_ws_kv", "workspace_id", "key", "value", "request_id"),
                      {"sqlite_with_rowid": False})  # SQLite: WITHOUT ROWID (0010), the key is the table
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(String(1000))
    workspace_id: Mapped[int] = mapped_column(Integer)  # via the request; no key of its own (0004)


class RedactionCount(Base):
    """How many spans of one kind were redacted from a request before it was stored (never what they were)."""

    __tablename__ = "redaction_counts"
    __table_args__ = (Index("ix_redaction_counts_ws_kind", "workspace_id", "kind", "n"),)  # analytics
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(100), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
    workspace_id: Mapped[int] = mapped_column(Integer)  # via the request


class Score(Base):
    __tablename__ = "scores"
    __table_args__ = (
        UniqueConstraint("request_id", "name"),
        Index("ix_scores_ws_name_value", "workspace_id", "name", "value", "request_id"),
        Index("ix_scores_request_name_value", "request_id", "name", "value"),  # covers filtered aggregates
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    workspace_id: Mapped[int] = mapped_column(Integer)  # via the request; no key of its own (0004)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    value: Mapped[float] = mapped_column(Float)
    comment: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(20), default="api")  # api | human | rule | judge
    author: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ScoreConfig(Base):
    """A named score's definition in a workspace (services/score_configs.py, rules in
    domain/score_configs.py): its type and the values it may take, the rubric shown where it is
    given, who may give it, below which value a comment is required. A score without a config is
    numeric 0-100."""

    __tablename__ = "score_configs"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = _ws()
    name: Mapped[str] = mapped_column(String(100))  # the scores' name
    type: Mapped[str] = mapped_column(String(20))  # numeric | boolean | categorical
    min_value: Mapped[float | None] = mapped_column(Float)  # numeric only
    max_value: Mapped[float | None] = mapped_column(Float)
    step: Mapped[float | None] = mapped_column(Float)  # NULL = any value in the range
    categories: Mapped[list[Any] | None] = mapped_column(JSONType)  # [{value, label, description}] in order
    rubric: Mapped[str] = mapped_column(Text, default="")  # Markdown
    sources: Mapped[list[Any]] = mapped_column(JSONType)  # who may give it: api, human, judge, rule
    comment_required_below: Mapped[float | None] = mapped_column(Float)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- running totals per prompt version (store/rollups.py keeps them in step with every write) ---
# A version key is (prompt_name, version_number) as the requests carry it; logs without a prompt
# count under ("", 0), because a unique key treats NULLs as all different.


class VersionTotals(Base):
    __tablename__ = "version_totals"
    __table_args__ = (UniqueConstraint("workspace_id", "prompt_name", "version_number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    prompt_name: Mapped[str] = mapped_column(String(500))
    version_number: Mapped[int] = mapped_column(Integer)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    errors: Mapped[int] = mapped_column(BigInteger, default=0)
    tokens_n: Mapped[int] = mapped_column(BigInteger, default=0)  # requests with a token count
    tokens_sum: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_n: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_sum: Mapped[float] = mapped_column(Float, default=0.0)


class LatencyBucket(Base):
    """How many requests of a version took a latency in one bucket (buckets 2% wide, see rollups)."""

    __tablename__ = "latency_buckets"
    __table_args__ = (UniqueConstraint("workspace_id", "prompt_name", "version_number", "bucket"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    prompt_name: Mapped[str] = mapped_column(String(500))
    version_number: Mapped[int] = mapped_column(Integer)
    bucket: Mapped[int] = mapped_column(Integer)
    n: Mapped[int] = mapped_column(BigInteger, default=0)


class ScoreTotals(Base):
    """n, sum and sum of squares of one score name's values over a version's requests."""

    __tablename__ = "score_totals"
    __table_args__ = (UniqueConstraint("workspace_id", "prompt_name", "version_number", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    prompt_name: Mapped[str] = mapped_column(String(500))
    version_number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    n: Mapped[int] = mapped_column(BigInteger, default=0)
    sum: Mapped[float] = mapped_column(Float, default=0.0)
    sum_sq: Mapped[float] = mapped_column(Float, default=0.0)


class HourTotals(Base):
    """Requests and errors of a version in one UTC hour (`hour`: its start), for trends over time."""

    __tablename__ = "hour_totals"
    __table_args__ = (UniqueConstraint("workspace_id", "hour", "prompt_name", "version_number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    hour: Mapped[datetime] = mapped_column(UTCDateTime)
    prompt_name: Mapped[str] = mapped_column(String(500))
    version_number: Mapped[int] = mapped_column(Integer)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    errors: Mapped[int] = mapped_column(BigInteger, default=0)


class HourScoreTotals(Base):
    """n and sum of one score name's values over a version's requests that started in one UTC hour."""

    __tablename__ = "hour_score_totals"
    __table_args__ = (UniqueConstraint("workspace_id", "hour", "prompt_name", "version_number", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    hour: Mapped[datetime] = mapped_column(UTCDateTime)
    prompt_name: Mapped[str] = mapped_column(String(500))
    version_number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    n: Mapped[int] = mapped_column(BigInteger, default=0)
    sum: Mapped[float] = mapped_column(Float, default=0.0)


class PendingUpdate(Base):
    """Scores/metadata/tags sent for a request id whose log has not arrived yet; applied when it
    arrives (within the grace window), so clients never need to wait for the log."""

    __tablename__ = "pending_updates"
    __table_args__ = (Index("ix_pending_ws_client", "workspace_id", "client_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))  # score | metadata | tags
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    redacted: Mapped[dict[str, int] | None] = mapped_column(JSONType)  # counts per kind, added when applied
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RequestGroup(Base):
    """Integer group ids for the PromptLayer API (`/create-group`); our own API uses free strings."""

    __tablename__ = "request_groups"
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = _ws()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_ws_time", "workspace_id", "created_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(100))  # e.g. prompt.publish, label.move, key.revoke
    object_type: Mapped[str] = mapped_column(String(50))
    object_id: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChangeEvent(Base):
    """Monotonic feed of registry changes (label moves, publishes) that SDKs follow to
    invalidate their prompt caches within seconds, without polling every prompt."""

    __tablename__ = "change_events"
    __table_args__ = (Index("ix_changes_ws_id", "workspace_id", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    prompt_name: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(30))  # version | label | prompt
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- traces (OTLP ingest, services/otlp_ingest.py) ---


class Trace(Base):
    """One OTLP trace id seen in a workspace; its spans point here."""

    __tablename__ = "traces"
    __table_args__ = (UniqueConstraint("workspace_id", "trace_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    trace_id: Mapped[str] = mapped_column(String(32))  # hex
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Span(Base):
    """One span of a trace. An LLM span is also a request log (`request_id`) and keeps no message
    text of its own: the request holds it, so erasing the request (which removes this row by its
    key) leaves no copy. Other spans (retrieval, tools, chains) keep their attributes, redacted."""

    __tablename__ = "spans"
    __table_args__ = (UniqueConstraint("trace_row", "span_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    workspace_id: Mapped[int] = mapped_column(Integer)  # via the trace
    trace_row: Mapped[int] = mapped_column(ForeignKey("traces.id", ondelete="CASCADE"))
    span_id: Mapped[str] = mapped_column(String(16))  # hex
    parent_id: Mapped[str | None] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(20))  # internal | server | client | producer | consumer | unspecified
    start_time: Mapped[datetime] = mapped_column(UTCDateTime)
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10))  # unset | ok | error
    status_message: Mapped[str] = mapped_column(Text, default="")
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    events: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    resource: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    scope: Mapped[str] = mapped_column(String(200), default="")
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"), index=True)


# --- provider connections (services/providers.py) and webhooks (services/webhooks.py) ---


class ProviderConnection(Base):
    """A workspace's connection to an LLM provider. The secret is stored encrypted
    (services/secrets.py) and never leaves the server; `secret_hint` is its last four characters."""

    __tablename__ = "provider_connections"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))  # openai | anthropic
    base_url: Mapped[str] = mapped_column(String(2000))
    default_model: Mapped[str] = mapped_column(String(200), default="")
    headers: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # extra headers, not secret
    secret_header: Mapped[str] = mapped_column(String(100), default="")  # '' = the kind's own (Bearer / x-api-key)
    secret: Mapped[str | None] = mapped_column(Text)  # encrypted
    secret_hint: Mapped[str] = mapped_column(String(4), default="")
    created_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- datasets (services/datasets.py) ---


class Dataset(Base):
    """A named, versioned set of items to evaluate prompts on. `latest_version` is bumped under a
    row lock on this row, so versions are 1, 2, 3 ... with no gap or duplicate."""

    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = _ws()
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    latest_version: Mapped[int] = mapped_column(Integer, default=0)  # 0 = no version yet
    created_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DatasetVersion(Base):
    """One immutable state of a dataset: its number, why it was made, by whom, how many items."""

    __tablename__ = "dataset_versions"
    __table_args__ = (UniqueConstraint("dataset_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(Integer)  # via the dataset
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text, default="")
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DatasetItem(Base):
    """One item, in the versions first_version <= v < last_version (last_version NULL: up to the
    latest). Its content never changes: an edit ends it and starts a copy at the same `position`
    (its place and number in the dataset), a deletion ends it. See services/datasets.py for why
    items carry version ranges rather than one membership row per version."""

    __tablename__ = "dataset_items"
    __table_args__ = (Index("ix_dataset_items_position", "dataset_id", "position", "first_version"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    workspace_id: Mapped[int] = mapped_column(Integer)  # via the dataset
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    first_version: Mapped[int] = mapped_column(Integer)
    last_version: Mapped[int | None] = mapped_column(Integer)
    input: Mapped[Any] = mapped_column(PackedJSONType, nullable=False)  # variables {name: value} or a list of messages
    expected: Mapped[str | None] = mapped_column(Text)
    item_metadata: Mapped[dict[str, str]] = mapped_column("metadata", JSONType, default=dict)
    # The request log it was made from: erasing that request erases this item (services/erasure.py).
    source_request_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("requests.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- webhooks (services/webhooks.py) ---


class Webhook(Base):
    """Where a workspace's registry and experiment events are POSTed (services/webhooks.py); the signing
    secret is stored encrypted."""

    __tablename__ = "webhooks"
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = _ws()
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSONType, default=list)  # names, or ["*"] for every event
    secret: Mapped[str] = mapped_column(Text)  # encrypted
    format: Mapped[str] = mapped_column(String(10), default="json")  # json | slack
    active: Mapped[int] = mapped_column(Integer, default=1)  # 0 = paused: events are not recorded for it
    description: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(Base):
    """One event for one webhook: an outbox row written in the transaction of the change it reports,
    then sent by the server's tick (pending -> delivered | failed, with attempts and back-off)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
                      Index("ix_webhook_deliveries_hook", "webhook_id", "id"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    workspace_id: Mapped[int] = mapped_column(Integer)  # via the webhook
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(50))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)  # the JSON body's envelope, fixed at emit
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)  # the receiver's HTTP status
    last_error: Mapped[str] = mapped_column(Text, default="")
    response_excerpt: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- evaluation runs (services/evaluations.py) ---


class EvaluationRun(Base):
    """One or more variants (prompt versions, or an unsaved draft) run over one dataset version through a
    provider connection, with scorers and judges. Its items are the work list the background workers
    claim; the counts, cost and tokens here are kept in step as items finish."""

    __tablename__ = "evaluation_runs"
    __table_args__ = (Index("ix_evaluation_runs_ws_created", "workspace_id", "created_at"),
                      Index("ix_evaluation_runs_status", "status"))
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = _ws()
    name: Mapped[str] = mapped_column(String(200), default="")
    dataset_id: Mapped[int] = mapped_column(Integer)  # the dataset (datasets.id)
    dataset_version: Mapped[int] = mapped_column(Integer)  # its version number
    # [{"key": "v3", "prompt": name, "version": 3} | {"key": "draft", "template": {...}, "kind", "format",
    #   "params": {...}, "model": ...}]: what each item is run with (a draft is a snapshot, never a version)
    variants: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    connection_id: Mapped[int] = mapped_column(Integer)  # provider_connections.id
    model: Mapped[str] = mapped_column(String(200), default="")  # "" = each variant's or the connection's
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    concurrency: Mapped[int] = mapped_column(Integer, default=8)
    timeout_s: Mapped[float] = mapped_column(Float, default=60.0)  # per item
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    scorers: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)  # domain/scorers.py specs
    judges: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)  # domain/judges.py specs, resolved
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued | running | cancelled | done | failed
    items_total: Mapped[int] = mapped_column(Integer, default=0)
    items_done: Mapped[int] = mapped_column(Integer, default=0)
    items_failed: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EvaluationItem(Base):
    """One (dataset item, variant) of a run: pending until a worker claims it (claimed_at is its lease),
    then done (its output is the request log `request_id`, its scores on that log) or failed."""

    __tablename__ = "evaluation_items"
    __table_args__ = (UniqueConstraint("run_id", "dataset_item_id", "variant"),
                      Index("ix_evaluation_items_claim", "run_id", "status", "id"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    workspace_id: Mapped[int] = mapped_column(Integer)  # via the run
    run_id: Mapped[int] = mapped_column(ForeignKey("evaluation_runs.id", ondelete="CASCADE"))
    dataset_item_id: Mapped[int] = mapped_column(BigInteger)  # dataset_items.id
    position: Mapped[int] = mapped_column(Integer)  # the item's place in the dataset
    variant: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | running | done | failed | cancelled
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    request_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("requests.id", ondelete="SET NULL"), index=True)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    cost: Mapped[float | None] = mapped_column(Float)
    scores: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # name -> value (null: failed)
    error: Mapped[str] = mapped_column(Text, default="")  # why the item or one of its scores failed
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LabelGate(Base):
    """A release label that needs a passing evaluation before it is moved to a new version or a ramp starts:
    on the dataset, the candidate's score `score` is not worse than the label's version's by more than
    `max_drop` points, by the lower bound of the paired interval (domain/paired.py)."""

    __tablename__ = "label_gates"
    __table_args__ = (UniqueConstraint("prompt_id", "label"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = _ws()
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(100))
    dataset_id: Mapped[int] = mapped_column(Integer)
    score: Mapped[str] = mapped_column(String(200))
    max_drop: Mapped[float] = mapped_column(Float, default=0.0)
    created_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- annotation queues (services/annotation_queues.py, issue 17) ---


class AnnotationQueue(Base):
    """Requests set aside for people to score: where they came from (`source_kind` filter | dataset
    | evaluation | manual, and its `source_ref`: the filter's text, or JSON naming the dataset version
    or the run, services/queue_sources.py), the scores to give (`scores`: [{name, kind: scale5 | yes_no | numeric, rubric}]), who reviews (`reviewers`:
    member user ids), how many reviewers each item needs, and sampling ({rate, daily}: the share of
    the filter's logs taken per prompt version, on creation and then for each new day)."""

    __tablename__ = "annotation_queues"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = _ws()
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    source_kind: Mapped[str] = mapped_column(String(20), default="manual")
    source_ref: Mapped[str] = mapped_column(Text, default="")
    scores: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    reviewers: Mapped[list[int]] = mapped_column(JSONType, default=list)
    reviews_per_item: Mapped[int] = mapped_column(Integer, default=1)
    sampling: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    sampled_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the daily sample's window so far
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | closed
    created_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QueueItem(Base):
    """One request in a queue. `reviewed`: how many reviewers have given all its scores; the item
    is `done` when that reaches the queue's reviews_per_item (its scores are then written)."""

    __tablename__ = "queue_items"
    __table_args__ = (UniqueConstraint("queue_id", "request_id"),
                      Index("ix_queue_items_queue_state", "queue_id", "state", "id"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("annotation_queues.id", ondelete="CASCADE"))
    workspace_id: Mapped[int] = mapped_column(Integer)  # via the queue
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(10), default="waiting")  # waiting | done
    reviewed: Mapped[int] = mapped_column(Integer, default=0)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QueueMark(Base):
    """A reviewer is through with an item: `done` (gave every score) or `skipped`. The key is what
    "the next item for this reviewer" tests for each candidate item."""

    __tablename__ = "queue_marks"
    __table_args__ = (Index("ix_queue_marks_reviewer", "queue_id", "reviewer_id", "item_id"),)
    item_id: Mapped[int] = mapped_column(ForeignKey("queue_items.id", ondelete="CASCADE"), primary_key=True)
    reviewer_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    queue_id: Mapped[int] = mapped_column(Integer)  # via the item
    state: Mapped[str] = mapped_column(String(10))  # done | skipped
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Review(Base):
    """One reviewer's value for one score of one item."""

    __tablename__ = "reviews"
    __table_args__ = (UniqueConstraint("item_id", "reviewer_id", "name"),
                      Index("ix_reviews_queue", "queue_id", "item_id"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("queue_items.id", ondelete="CASCADE"))
    queue_id: Mapped[int] = mapped_column(Integer)  # via the item
    workspace_id: Mapped[int] = mapped_column(Integer)
    reviewer_id: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    value: Mapped[float] = mapped_column(Float)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
