"""What a prompt version is made of, checked and normalised before it is stored (pure)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable

from promptyard.domain import templates
from promptyard.errors import InvalidInput

# Parameters with a known meaning get their type and range checked; others pass through
# untouched, because providers keep adding new ones.
_NUMERIC = {
    "temperature": (0.0, 2.0), "top_p": (0.0, 1.0), "frequency_penalty": (-2.0, 2.0),
    "presence_penalty": (-2.0, 2.0), "top_k": (0, 1000),
}
_POSITIVE_INT = ("max_tokens", "max_completion_tokens", "max_output_tokens", "n", "seed")
TemplateCheck = Callable[[str, dict[str, Any], str], tuple[dict[str, Any], list[str]]]


@dataclass(frozen=True)
class VersionSpec:
    kind: str
    template: dict[str, Any]
    template_format: str
    input_variables: list[str]
    provider: str | None
    model: str | None
    parameters: dict[str, Any]
    commit_message: str

    @property
    def content_hash(self) -> str:
        body = [self.kind, self.template, self.template_format, self.provider, self.model, self.parameters]
        return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def check_in_process(kind: str, template: dict[str, Any], fmt: str) -> tuple[dict[str, Any], list[str]]:
    """(normalised template, input variables), parsed here; the server passes a bounded checker."""
    template = templates.validate_template(kind, template, fmt)
    return template, templates.extract_variables(kind, template, fmt)


def parse_spec(raw: dict[str, Any], check_template: TemplateCheck = check_in_process) -> VersionSpec:
    """Check a version as clients send it:
    {type, messages | text, tools?, template_format?, model: {provider, name, parameters}, commit_message}.
    `check_template(kind, template, fmt)` validates the template and lists its variables.
    """
    if not isinstance(raw, dict):
        raise InvalidInput("errors.versions.version_json_object")
    commit = raw.get("commit_message")
    if not isinstance(commit, str) or not commit.strip():
        raise InvalidInput("errors.versions.commit_message_required_say")
    if len(commit) > 5000:
        raise InvalidInput("errors.versions.commit_message_longer_than")
    kind = raw.get("type") or ("completion" if "text" in raw and "messages" not in raw else "chat")
    fmt = raw.get("template_format") or "f-string"
    if kind == "chat":
        template: dict[str, Any] = {"messages": raw.get("messages")}
        if raw.get("tools") is not None:
            template["tools"] = raw["tools"]
    elif kind == "completion":
        template = {"text": raw.get("text")}
    else:
        raise InvalidInput("errors.versions.type_chat_completion_got", kind=kind)
    template, variables = check_template(kind, template, fmt)
    provider, model, params = _model(raw.get("model"))
    return VersionSpec(kind=kind, template=template, template_format=fmt, input_variables=variables,
                       provider=provider, model=model, parameters=params, commit_message=commit.strip())


def _model(raw: Any) -> tuple[str | None, str | None, dict[str, Any]]:
    if raw is None:
        return None, None, {}
    if not isinstance(raw, dict):
        raise InvalidInput("errors.versions.model_object_provider_name")
    provider, name, params = raw.get("provider"), raw.get("name"), raw.get("parameters") or {}
    for field, value in (("model.provider", provider), ("model.name", name)):
        if value is not None and (not isinstance(value, str) or not value.strip() or len(value) > 200):
            raise InvalidInput("errors.versions.non_empty_string_most", field=field)
    if not isinstance(params, dict):
        raise InvalidInput("errors.versions.model_parameters_object_temperature")
    return provider, name, check_parameters(params)


def check_parameters(params: dict[str, Any]) -> dict[str, Any]:
    for key, (low, high) in _NUMERIC.items():
        value = params.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not low <= value <= high):
            raise InvalidInput("errors.versions.model_parameters_number_from", key=key, low=low, high=high, value=value)
    for key in _POSITIVE_INT:
        value = params.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise InvalidInput("errors.versions.model_parameters_whole_number", key=key, value=value)
    return dict(params)


def as_text(kind: str, template: dict[str, Any]) -> str:
    """A readable text form of a template, used for diffs and search."""
    if kind == "completion":
        return template.get("text") or ""
    blocks = []
    for m in template.get("messages") or []:
        head = f"[{m.get('role')}]" + (f" ({m['name']})" if m.get("name") else "")
        blocks.append(f"{head}\n{m.get('content') or ''}")
    if template.get("tools"):
        blocks.append("[tools]\n" + json.dumps(template["tools"], indent=2, ensure_ascii=False, sort_keys=True))
    return "\n\n".join(blocks)
