"""A request log as clients send it, checked and normalised before it is stored (pure)."""

from __future__ import annotations

import json
import math
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping

from promptyard.domain import score_configs
from promptyard.domain.numbers import MAX_ID
from promptyard.domain.score_configs import ScoreConfig
from promptyard.errors import InvalidInput

SCORE_NAME = re.compile(r"^[\w.\-]{1,100}$")
MAX_TAGS = 100
MAX_METADATA = 200


class LogError(InvalidInput):
    """A log field that is not valid: `message` is a catalogue key whose text starts with "{field}: "."""

    def __init__(self, field_name: str, message: str, **params: Any):
        super().__init__(message, details={"field": field_name}, field=field_name, **params)
        self.field = field_name


# What a batch reports per entry (`field`, `message`): a malformed log or score, a score its config refuses.
FIELD_ERRORS = (LogError, score_configs.ScoreRejected)


@dataclass
class NormalLog:
    client_id: str
    start_time: datetime
    end_time: datetime | None
    latency_ms: float | None
    provider: str | None
    model: str | None
    function_name: str | None
    input: Any
    output: Any
    parameters: dict[str, Any]
    input_text: str
    output_text: str
    status: str
    error_type: str | None
    error_message: str | None
    input_tokens: int | None
    output_tokens: int | None
    total_tokens: int | None
    cost: float | None
    tags: list[str]
    group_id: str | None
    metadata: dict[str, str]
    scores: list[dict[str, Any]]
    prompt: dict[str, Any] | None
    routing: dict[str, Any] | None
    span_id: str | None = None
    source: str = "api"
    extra: dict[str, Any] = field(default_factory=dict)


def parse_time(value: Any, name: str) -> datetime | None:
    """ISO-8601 (naive = UTC) or epoch seconds."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise LogError(name, "errors.requests.iso_8601_time_epoch")
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or not 0 <= value < 32503680000:
            raise LogError(name, "errors.requests.epoch_seconds_out_range", value=value)
        return datetime.fromtimestamp(value, timezone.utc)
    if isinstance(value, str):
        try:
            t = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise LogError(name, "errors.requests.iso_8601_time", value=value[:40]) from None
        return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)
    raise LogError(name, "errors.requests.iso_8601_time_epoch")


def _str(raw: dict, name: str, limit: int = 200) -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise LogError(name, "errors.requests.string_most_characters", limit=limit)
    return value


def _count(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
        raise LogError(name, "errors.requests.whole_number_0")
    return value


def metadata(value: Any, name: str = "metadata") -> dict[str, str]:
    """String keys and values; other JSON scalars become strings; nested values are refused."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise LogError(name, "errors.requests.object_key_value")
    if len(value) > MAX_METADATA:
        raise LogError(name, "errors.requests.has_more_than_keys", max_metadata=MAX_METADATA)
    out = {}
    for k, v in value.items():
        if not k or len(k) > 200:
            raise LogError(f"{name}.{k}", "errors.requests.keys_1_200_characters")
        if isinstance(v, (dict, list)):
            raise LogError(f"{name}.{k}", "errors.requests.values_strings_numbers_booleans")
        if v is None:
            continue
        text = json.dumps(v) if isinstance(v, bool) else str(v)
        if len(text) > 1000:
            raise LogError(f"{name}.{k}", "errors.requests.values_most_1_000")
        out[str(k)] = text
    return out


def tags(value: Any, name: str = "tags") -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(t, str) and 0 < len(t) <= 200 for t in value):
        raise LogError(name, "errors.requests.list_strings_1_200")
    if len(value) > MAX_TAGS:
        raise LogError(name, "errors.requests.has_more_than_tags", max_tags=MAX_TAGS)
    return list(dict.fromkeys(value))


def score(item: Any, name: str, configs: Mapping[str, ScoreConfig] | None = None) -> dict[str, Any]:
    """One score as sent, checked against its name's config in `configs` (none: numeric 0-100)."""
    if not isinstance(item, dict):
        raise LogError(name, "errors.requests.object_name_value_comment")
    sname, value = item.get("name", "default"), item.get("value")
    if not isinstance(sname, str) or not SCORE_NAME.match(sname):
        raise LogError(f"{name}.name", "errors.requests.1_100_letters_digits")
    # Only a missing value (null) takes the default: 0 or false is a wrong type, not "none".
    comment = _or(item.get("comment"), "")
    if not isinstance(comment, str) or len(comment) > 5000:
        raise LogError(f"{name}.comment", "errors.requests.string_most_5_000")
    source = _or(item.get("source"), "api")
    source = "api" if source == "" else source
    if source not in score_configs.SOURCES:
        raise LogError(f"{name}.source", "errors.requests.score_source")
    author = _or(item.get("author"), "")
    if not isinstance(author, str) or len(author) > 320:
        raise LogError(f"{name}.author", "errors.requests.must_be_string")
    value = score_configs.check((configs or {}).get(sname), value, comment, source, where=name)
    return {"name": sname, "value": value, "comment": comment, "source": source, "author": author}


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def text_of(value: Any, limit: int = 200_000) -> str:
    """Plain text of messages/prompt/output JSON, for full-text search."""
    parts: list[str] = []
    size = 0
    stack = [value]
    while stack and size < limit:
        v = stack.pop()
        if isinstance(v, str):
            parts.append(v)
            size += len(v)
        elif isinstance(v, list):
            stack.extend(reversed(v))
        elif isinstance(v, dict):
            stack.extend(v[k] for k in reversed(_TEXT_KEYS) if k in v)
    return "\n".join(parts)[:limit]


_TEXT_KEYS = ("content", "text", "prompt", "messages", "message", "choices", "output", "input", "arguments",
              "tool_calls", "function")


def normalise(raw: Any, *, now: datetime, configs: Mapping[str, ScoreConfig] | None = None) -> NormalLog:
    """A log as sent, checked; its scores against their configs (by name)."""
    if not isinstance(raw, dict):
        raise LogError("log", "errors.requests.must_be_object")
    client_id = raw.get("id")
    client_id = str(uuid.uuid4()) if client_id is None or client_id == "" else client_id
    if not isinstance(client_id, str) or not 0 < len(client_id) <= 64:
        raise LogError("id", "errors.requests.string_1_64_characters")
    start = parse_time(raw.get("start_time"), "start_time") or now
    end = parse_time(raw.get("end_time"), "end_time")
    if end is not None and end < start:
        raise LogError("end_time", "errors.requests.before_start_time")
    status = _or(raw.get("status"), "ok")
    status = "ok" if status == "" else status  # some clients send an empty status
    if status not in ("ok", "error"):
        raise LogError("status", "errors.requests.ok_error")
    # Only null means "not given": {} is what false, 0 or "" would otherwise silently become.
    err = _or(raw.get("error"), {})
    if not isinstance(err, dict):
        raise LogError("error", "errors.requests.object_type_message")
    usage = _or(raw.get("usage"), {})
    if not isinstance(usage, dict):
        raise LogError("usage", "errors.requests.object_input_tokens_output")
    tin, tout = _count(usage.get("input_tokens"), "usage.input_tokens"), _count(usage.get("output_tokens"),
                                                                                 "usage.output_tokens")
    cost = raw.get("cost")
    if cost is not None and (isinstance(cost, bool) or not isinstance(cost, (int, float)) or not 0 <= cost < 1e9):
        raise LogError("cost", "errors.requests.number_at_least_0")
    scores = _or(raw.get("scores"), [])
    if not isinstance(scores, list):
        raise LogError("scores", "errors.requests.list_name_value")
    prompt = raw.get("prompt")
    if prompt is not None:
        if not isinstance(prompt, dict) or not isinstance(prompt.get("name"), str):
            raise LogError("prompt", "errors.requests.object_name_version_label")
        if prompt.get("version") is not None and (not isinstance(prompt["version"], int) or prompt["version"] < 1):
            raise LogError("prompt.version", "errors.requests.whole_number_1")
        if prompt.get("variables") is not None and not isinstance(prompt["variables"], dict):
            raise LogError("prompt.variables", "errors.requests.must_be_object")
        if prompt.get("label") is not None and not isinstance(prompt["label"], str):
            raise LogError("prompt.label", "errors.requests.label_name")
    routing = raw.get("routing")
    if routing is not None and not isinstance(routing, dict):
        raise LogError("routing", "errors.requests.object_label_rule_unit")
    if routing and routing.get("label") is not None and not isinstance(routing["label"], str):
        raise LogError("routing.label", "errors.requests.label_name")
    for key, most in (("rule", 220), ("unit", 1000)):  # they place the log in an experiment
        value = (routing or {}).get(key)
        if value is not None and (not isinstance(value, str) or len(value) > most):
            raise LogError(f"routing.{key}", "errors.requests.string_most_characters_2", most=most)
    inp, out = raw.get("input"), raw.get("output")
    params = (inp or {}).get("parameters") if isinstance(inp, dict) else None
    return NormalLog(
        client_id=client_id, start_time=start, end_time=end,
        latency_ms=(end - start).total_seconds() * 1000 if end else None,
        provider=_str(raw, "provider", 100), model=_str(raw, "model"), function_name=_str(raw, "function_name"),
        input=inp, output=out, parameters=params if isinstance(params, dict) else {},
        input_text=text_of(inp), output_text=text_of(out), status=status,
        error_type=_str(err, "type",
                        100), error_message=(err.get("message") or None) if status == "error" or err else None,
        input_tokens=tin, output_tokens=tout, total_tokens=(tin or 0) + (tout or 0) if tin is not None or tout is not None else None,
        cost=float(cost) if cost is not None else None, tags=tags(raw.get("tags")), group_id=_str(raw, "group"),
        metadata=metadata(raw.get("metadata")), scores=_last_per_name(scores, configs),
        prompt=prompt, routing=routing)


def _last_per_name(scores: list[Any], configs: Mapping[str, ScoreConfig] | None) -> list[dict[str, Any]]:
    """The log's scores; a name given twice keeps its last value, as re-scoring a name does."""
    checked = {}
    for i, item in enumerate(scores):
        one = score(item, f"scores[{i}]", configs)
        checked.pop(one["name"], None)
        checked[one["name"]] = one
    return list(checked.values())
