"""PromptLayer request logs (`/track-request`, `/log-request`) -> our log shape, and the
request-log "prompt blueprint" PromptLayer returns for them (pure translation).

Duplicates: the SDK's HTTP session retries POSTs after a dropped connection and sends no
idempotency key, so a log's client id is derived from its content instead: a hash of the whole
body (api key excluded) including the start and end times, which the SDK takes with microsecond
precision. The same POST delivered twice gets the same id, and our ingest stores a client id
once; two real calls would need identical content and identical timestamps to collide."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from promptyard.domain import genai_spans
from promptyard.domain.logs import text_of
from promptyard.errors import InvalidInput
from promptyard.web.compat import blueprints, inputs

_STATUSES = {None: "ok", "SUCCESS": "ok", "WARNING": "ok", "ERROR": "error"}


def client_id(kind: str, body: dict[str, Any]) -> str:
    content = {k: v for k, v in body.items() if k != "api_key"}
    digest = hashlib.sha256(json.dumps([kind, content], sort_keys=True, default=str).encode()).hexdigest()
    return f"pl-{digest[:48]}"


def _common(kind: str, b: dict[str, Any]) -> dict[str, Any]:
    status = b.get("status")
    if status not in _STATUSES:
        raise InvalidInput("errors.requests.status_success_warning_error", status=str(status)[:40])
    tags = b.get("tags")
    group = inputs.integer(b, "group_id")
    log: dict[str, Any] = {
        "id": client_id(kind, b), "start_time": b.get("request_start_time"), "end_time": b.get("request_end_time"),
        "tags": tags or None, "metadata": inputs.string_map(b.get("metadata"), "metadata"),
        "status": _STATUSES[status], "group": str(group) if group else None,
        "function_name": inputs.text(b, "function_name"),
    }
    if log["status"] == "error" or b.get("error_message"):
        log["error"] = {"type": b.get("error_type"), "message": str(b.get("error_message") or "")[:1024]}
    return log


def from_track_request(b: dict[str, Any]) -> dict[str, Any]:
    """A provider call as the wrapper or run() reports it: the call's kwargs and raw response."""
    kwargs, response = inputs.obj(b, "kwargs"), inputs.obj(b, "request_response")
    provider = inputs.text(b, "provider_type")
    log = _common("track", b) | {"provider": provider, "model": kwargs.get("model") or response.get("model"),
                                 "input": kwargs, "output": _output(provider, response)}
    usage = response.get("usage") if isinstance(response.get("usage"), dict) else {}
    tokens_in = usage.get("prompt_tokens", usage.get("input_tokens"))
    tokens_out = usage.get("completion_tokens", usage.get("output_tokens"))
    if isinstance(tokens_in, int) or isinstance(tokens_out, int):
        log["usage"] = {"input_tokens": tokens_in, "output_tokens": tokens_out}
    if b.get("prompt_id") is not None:
        variables = b.get("prompt_input_variables")
        log["prompt"] = {"name": "", "version": inputs.integer(b, "prompt_version") or None,
                         "variables": variables if isinstance(variables, dict) else None}
    span_id = b.get("span_id")
    if isinstance(span_id, str) and genai_spans.SPAN_ID.match(span_id):  # with tracing on: the call's span
        log["metadata"] = log["metadata"] | {genai_spans.SPAN_ID_KEY: span_id}
    return log


def _output(provider: str | None, response: dict[str, Any]) -> Any:
    """The answer as our SDK stores it: the assistant message (OpenAI), the content blocks
    (Anthropic), the text (completions). A streamed wrapper call sends only its last chunk,
    which carries no text: stored as None (output not captured)."""
    if not response or response.get("object") == "chat.completion.chunk":
        return None
    choices = response.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        first = choices[0]
        if isinstance(first.get("message"), dict):
            return {k: v for k, v in first["message"].items() if v is not None}
        return first.get("text")
    if provider == "anthropic" or response.get("type") == "message":
        return {"role": "assistant", "content": response.get("content"), "stop_reason": response.get("stop_reason")}
    return response


def from_log_request(b: dict[str, Any]) -> dict[str, Any]:
    """A custom log (`pl.log_request`): input and output are PromptLayer prompt templates."""
    provider, model = inputs.text(b, "provider", required=True), inputs.text(b, "model", required=True)
    params = inputs.obj(b, "parameters")
    inp, out = _messages(b.get("input"), "input"), _messages(b.get("output"), "output")
    log = _common("log", b) | {"provider": provider, "model": model,
                               "input": {"model": model, **inp, **params}, "output": _answer(out)}
    tokens_in, tokens_out = inputs.integer(b, "input_tokens"), inputs.integer(b, "output_tokens")
    if tokens_in or tokens_out:
        log["usage"] = {"input_tokens": tokens_in or 0, "output_tokens": tokens_out or 0}
    price = b.get("price")
    if isinstance(price, (int, float)) and not isinstance(price, bool) and price > 0:
        log["cost"] = price  # the SDK's default 0.0 means "not given": our price table fills it in
    score, score_name = inputs.integer(b, "score"), inputs.text(b, "score_name")
    if score or score_name:  # the SDK always sends score=0; only a real score is recorded (Q8)
        log["scores"] = [{"name": score_name or "default", "value": score or 0}]
    name = inputs.text(b, "prompt_name")
    if name or b.get("prompt_id") is not None:
        variables = b.get("prompt_input_variables")
        log["prompt"] = {"name": name or "", "version": inputs.integer(b, "prompt_version_number") or None,
                         "variables": variables if isinstance(variables, dict) else None}
    return log


def _messages(template: Any, field: str) -> dict[str, Any]:
    """{"messages": [{role, content: text}]} for chat, {"prompt": text} for completion."""
    if not isinstance(template, dict):
        raise InvalidInput("errors.requests.prompt_template_object_type", field=field)
    if template.get("type") == "completion" or ("content" in template and "messages" not in template):
        return {"prompt": blueprints._text(template.get("content"), f"{field}.content")}
    messages = template.get("messages")
    if not isinstance(messages, list):
        raise InvalidInput("errors.requests.messages_list", field=field)
    return {"messages": [_plain_message(m, f"{field}.messages[{i}]") for i, m in enumerate(messages)]}


def _plain_message(m: Any, field: str) -> dict[str, Any]:
    if not isinstance(m, dict):
        raise InvalidInput("errors.requests.must_be_object", field=field)
    content = m.get("content")
    if isinstance(content, list) and all(isinstance(c, dict) and c.get("type") == "text" for c in content):
        content = "".join(str(c.get("text", "")) for c in content)
    out = {"role": m.get("role"), "content": content}
    for key in ("name", "tool_calls", "tool_call_id"):
        if m.get(key):
            out[key] = m[key]
    return out


def _answer(out: dict[str, Any]) -> Any:
    if "prompt" in out:
        return out["prompt"]
    return out["messages"][-1] if len(out["messages"]) == 1 else out["messages"] or None


def blueprint(log: dict[str, Any]) -> dict[str, Any]:
    """PromptLayer's request-log blueprint: the input messages, then the answer as an assistant
    message whose last content block is text (users read `messages[-1].content[-1].text`)."""
    inp = log.get("input") or {}
    if not isinstance(inp, dict):  # a log of ours may hold the input as plain text
        inp = {"prompt": text_of(inp)}
    messages = [_pl_message(m) for m in inp.get("messages") or [] if isinstance(m, dict)]
    if isinstance(inp.get("system"), str):
        messages.insert(0, _pl_message({"role": "system", "content": inp["system"]}))
    if isinstance(inp.get("prompt"), str):
        messages.insert(0, _pl_message({"role": "user", "content": inp["prompt"]}))
    messages.append(_pl_message({"role": "assistant", "content": _answer_text(log.get("output"))}) | {
        "tool_calls": (log.get("output") or {}).get("tool_calls") if isinstance(log.get("output"), dict) else None})
    params = {k: v for k, v in inp.items() if k not in ("model", "messages", "system", "prompt", "parameters")}
    if isinstance(inp.get("parameters"), dict):  # our SDKs' shape: {"messages", "parameters"}
        params |= inp["parameters"]
    return {"prompt_template": {"type": "chat", "messages": messages, "tools": inp.get("tools") or [],
                                "input_variables": []},
            "commit_message": None,
            "metadata": {"model": {"provider": log.get("provider"), "name": log.get("model"), "parameters": params}},
            "provider_base_url_name": None, "report_id": None, "inference_client_name": None}


def _pl_message(m: dict[str, Any]) -> dict[str, Any]:
    return {"role": m.get("role"), "content": [{"type": "text", "text": _answer_text(m.get("content"))}],
            "input_variables": [], "template_format": "f-string"}


def _answer_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(_answer_text(v.get("text") if isinstance(v, dict) else v) for v in value)
    if isinstance(value, dict):
        return _answer_text(value.get("content") if "content" in value else value.get("text"))
    return str(value)
