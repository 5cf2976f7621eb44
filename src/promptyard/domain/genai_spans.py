"""Which OTLP spans are LLM calls, and the request log each one becomes (pure). docs/otel.md has
the whole mapping.

Read, in this order of preference: the OpenTelemetry GenAI conventions (`gen_ai.*` attributes;
messages as `gen_ai.input.messages` / `gen_ai.output.messages` JSON, as OpenLLMetry's indexed
`gen_ai.prompt.N.*` / `gen_ai.completion.N.*`, or as `gen_ai.*.message` / `gen_ai.choice` events)
and OpenInference (`llm.*`, `input.value`, `output.value`). The log is our ingest shape (a dict),
so ingest's own checks, limits and redaction apply to it unchanged.

An LLM span's message text lives in its request log only: `span_row_parts` leaves it out of the
span's stored attributes and events, so erasing the request leaves no copy behind."""

from __future__ import annotations

import json
import re
from typing import Any

from promptyard.domain.logs import MAX_METADATA
from promptyard.domain.span_records import Span

PREFIX = "otel."
RESOURCE_PREFIX = "otel.resource."
MAX_KEY, MAX_VALUE = 200, 1000  # ingest's limits for a metadata key and value
LLM_OPERATIONS = {"chat", "text_completion", "generate_content", "completion"}
_MODEL_KEYS = ("gen_ai.request.model", "gen_ai.response.model", "llm.model_name")
_PROVIDER_KEYS = ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system")
_PROMPTS = ("promptyard.prompt.", "promptlayer.prompt.")  # ours, then the `promptlayer` SDK's
# Set by the promptlayer SDK on the GenAI spans of a call whose log run() sends itself (/track-request),
# with the id of the span that log names (its `span_id`).
LOGGED_ELSEWHERE = "promptlayer.request_log.managed"
LOGGED_AS = "promptlayer.request_log.span_id"
SPAN_ID_KEY = "otel.span_id"  # the metadata key naming the span a log stands for (ours, and PromptLayer's)
TRACE_ID_KEY = "otel.trace_id"
SPAN_ID = re.compile(r"^[0-9a-f]{16}$")
# Attributes that hold message text (or may): kept in the log's input/output, never as metadata,
# nor in an LLM span's own attributes.
_CONTENT = re.compile(r"^(gen_ai\.(prompt|completion|input\.messages|output\.messages|system_instructions)"
                      r"|llm\.(input_messages|output_messages|prompts|prompt_template\.variables)"
                      r"|(input|output)\.value|traceloop\.entity\.(input|output)|prompt(yard|layer)\.prompt\.variables"
                      r"|function_(input|output))"
                      r"(\.|$)")
_CONTENT_KEYS: dict[str, bool] = {}  # attribute name -> _CONTENT matches it (a body's spans share their names)


def _content(key: str) -> bool:
    found = _CONTENT_KEYS.get(key)
    if found is None:
        found = _CONTENT.match(key) is not None
        if len(_CONTENT_KEYS) < 10_000:
            _CONTENT_KEYS[key] = found
    return found


_MESSAGE_EVENTS = {"gen_ai.system.message": "system", "gen_ai.user.message": "user",
                   "gen_ai.assistant.message": "assistant", "gen_ai.tool.message": "tool"}
_PARAMETERS = {"gen_ai.request.temperature": "temperature", "gen_ai.request.max_tokens": "max_tokens",
               "gen_ai.request.top_p": "top_p", "gen_ai.request.top_k": "top_k",
               "gen_ai.request.frequency_penalty": "frequency_penalty",
               "gen_ai.request.presence_penalty": "presence_penalty", "gen_ai.request.seed": "seed",
               "gen_ai.request.stop_sequences": "stop"}


_USAGE = (("input_tokens", ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt")),
          ("output_tokens", ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens",
                             "llm.token_count.completion")))
# Attributes a log keeps in fields of its own, so not again as metadata.
_IN_FIELDS = frozenset([*_PARAMETERS, *(k for _, keys in _USAGE for k in keys),
                        *(p + f for p in _PROMPTS for f in ("name", "version", "label"))])


def client_id(span: Span) -> str:
    """The log's client id: a re-sent span is the same log (ingest stores a client id once)."""
    return f"otel-{span.trace_id}-{span.span_id}"


def is_llm(span: Span) -> bool:
    a = span.attributes
    if _promptlayer_wrapper(a):
        return True
    kind = a.get("openinference.span.kind")
    if isinstance(kind, str):
        return kind.upper() == "LLM"
    operation = a.get("gen_ai.operation.name")
    if isinstance(operation, str):
        return operation in LLM_OPERATIONS
    request_type = a.get("llm.request.type")  # OpenLLMetry before gen_ai.operation.name
    if isinstance(request_type, str):
        return request_type in ("chat", "completion")
    return any(isinstance(a.get(k), str) for k in _MODEL_KEYS + _PROVIDER_KEYS[:2])


def logged_elsewhere(span: Span) -> bool:
    """An LLM span whose request log its SDK sends by another route: it must not be logged twice."""
    return span.attributes.get(LOGGED_ELSEWHERE) is True or _promptlayer_wrapper(span.attributes)


def logged_as(span: Span) -> str | None:
    """The span id that the log of a span logged elsewhere names in its `otel.span_id` metadata: the
    wrapper's own span, or the run() span a managed GenAI span points to."""
    if _promptlayer_wrapper(span.attributes):
        return span.span_id
    named = span.attributes.get(LOGGED_AS)
    return named.lower() if isinstance(named, str) and SPAN_ID.match(named.lower()) else None


def _promptlayer_wrapper(a: dict[str, Any]) -> bool:
    """The span of a `pl.openai` / `pl.anthropic` wrapper call, which logs itself to /track-request
    (its `function_input` holds the messages)."""
    return isinstance(a.get("provider"), str) and isinstance(a.get("function_name"), str) and "function_input" in a


def log_of(span: Span) -> dict[str, Any]:
    """The request log (our ingest shape) an LLM span stands for."""
    a = span.attributes
    stored = {"provider": _first_text(a, _PROVIDER_KEYS, 100), "model": _first_text(a, _MODEL_KEYS, 200)}
    log: dict[str, Any] = stored | {
        "id": client_id(span), "start_time": span.start_ns / 1e9,
        "end_time": span.end_ns / 1e9 if span.end_ns >= span.start_ns > 0 else None,
        "function_name": span.name[:200] or None, "input": _input(span), "output": _output(span),
        "status": "error" if span.status == "error" else "ok", "metadata": metadata(span, stored),
    }
    if span.status == "error":
        log["error"] = _error(span)
    usage = _usage(a)
    if usage:
        log["usage"] = usage
    prompt = _prompt(a)
    if prompt:
        log["prompt"] = prompt
    return log


def span_row_parts(span: Span, llm: bool) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The attributes and events a span keeps in the trace store; an LLM span's without message text."""
    if not llm:
        return span.attributes, span.events
    attributes = {k: v for k, v in span.attributes.items() if not _content(k)}
    events = [e if e["name"] not in _MESSAGE_EVENTS and not e["name"].startswith(("gen_ai.choice", "gen_ai.content."))
              else {"name": e["name"], "time_ns": e["time_ns"], "attributes": {}} for e in span.events]
    return attributes, events


def metadata(span: Span, stored: dict[str, str | None]) -> dict[str, str]:
    """Span attributes as `otel.<key>`, then resource attributes as `otel.resource.<key>`, within
    ingest's limits (count, key and value size): the trace and span ids always, the rest in order.
    Left out: message text, and what the log keeps in fields of its own (token counts, request
    parameters, the prompt link; a provider or model key whose value is the log's `stored` one)."""
    out = {TRACE_ID_KEY: span.trace_id, SPAN_ID_KEY: span.span_id}
    if span.scope:
        out[f"{PREFIX}scope"] = span.scope[:MAX_VALUE]
    same = {k for k in _PROVIDER_KEYS if span.attributes.get(k) == stored["provider"]} | {
        k for k in _MODEL_KEYS if span.attributes.get(k) == stored["model"]}
    for prefix, attributes in ((PREFIX, span.attributes), (RESOURCE_PREFIX, span.resource)):
        for key, value in attributes.items():
            if len(out) >= MAX_METADATA:
                return out
            if value is None or prefix == PREFIX and (key in _IN_FIELDS or key in same or _content(key)):
                continue
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            out[(prefix + key)[:MAX_KEY]] = text[:MAX_VALUE]
    return out


def _first_text(a: dict[str, Any], keys: tuple[str, ...], limit: int) -> str | None:
    for key in keys:
        value = a.get(key)
        if isinstance(value, str) and value:
            return value[:limit]
    return None


def _count(value: Any) -> int | None:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _usage(a: dict[str, Any]) -> dict[str, int]:
    out = {}
    for name, keys in _USAGE:
        found = next((c for c in (_count(a.get(k)) for k in keys) if c is not None), None)
        if found is not None:
            out[name] = found
    return out


def _prompt(a: dict[str, Any]) -> dict[str, Any] | None:
    prefix = next((p for p in _PROMPTS if isinstance(a.get(p + "name"), str) and a[p + "name"]), None)
    if prefix is None:
        return None
    out: dict[str, Any] = {"name": a[prefix + "name"]}
    version = _count(a.get(prefix + "version"))
    if version:
        out["version"] = version
    label = a.get(prefix + "label")
    if isinstance(label, str) and label and not version:
        out["label"] = label
    variables = _json(a.get(prefix + "variables"))
    if isinstance(variables, dict):
        out["variables"] = variables
    return out


def _error(span: Span) -> dict[str, Any]:
    exc = next((e["attributes"] for e in span.events if e["name"] == "exception"), {})
    kind = exc.get("exception.type") or span.attributes.get("error.type")
    message = span.status_message or exc.get("exception.message") or ""
    return {"type": str(kind)[:100] if kind else None, "message": str(message)[:1024]}


def _json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


# --- messages ------------------------------------------------------------------------------------------


def _input(span: Span) -> dict[str, Any] | None:
    a = span.attributes
    messages = (_semconv(_json(a.get("gen_ai.input.messages")), _json(a.get("gen_ai.system_instructions")))
                or _indexed(a, "gen_ai.prompt.") or _openinference(a, "llm.input_messages.")
                or _event_messages(span) or _whole_prompt(a))
    out: dict[str, Any] = {}
    if isinstance(messages, list):
        out["messages"] = messages
    elif isinstance(messages, str):
        out["prompt"] = messages
    elif isinstance(a.get("input.value"), str):
        out["prompt"] = a["input.value"]
    parameters = {name: a[key] for key, name in _PARAMETERS.items() if key in a}
    if parameters:
        out["parameters"] = parameters
    return out or None


def _output(span: Span) -> Any:
    a = span.attributes
    messages = (_semconv(_json(a.get("gen_ai.output.messages")), None) or _indexed(a, "gen_ai.completion.")
                or _openinference(a, "llm.output_messages.") or _choice_events(span))
    if messages is None:
        value = a.get("output.value", a.get("gen_ai.completion"))
        return _json(value) if value is not None else None
    return messages[0] if len(messages) == 1 else messages


def _semconv(messages: Any, system: Any) -> list[dict[str, Any]] | None:
    """gen_ai.input/output.messages: [{role, parts: [{type: text, content}, ...], finish_reason?}]."""
    if not isinstance(messages, list):
        return None
    out = [_from_parts(m) for m in messages if isinstance(m, dict)]
    if isinstance(system, list) and system:
        out.insert(0, {"role": "system", "content": _parts_content(system)})
    return out or None


def _from_parts(m: dict[str, Any]) -> dict[str, Any]:
    out = {"role": m.get("role"), "content": _parts_content(m["parts"]) if isinstance(m.get("parts"), list)
           else m.get("content")}
    calls = [p for p in m.get("parts") or [] if isinstance(p, dict) and p.get("type") == "tool_call"]
    if calls:
        out["tool_calls"] = [{"id": c.get("id"), "type": "function", "function": {
            "name": c.get("name"), "arguments": c.get("arguments")}} for c in calls]
    if m.get("finish_reason"):
        out["finish_reason"] = m["finish_reason"]
    return out


def _parts_content(parts: list[Any]) -> Any:
    texts = [p.get("content") for p in parts if isinstance(p, dict) and p.get("type") == "text"]
    if len(texts) == len(parts) and all(isinstance(t, str) for t in texts):
        return "".join(texts)
    others = [p for p in parts if not (isinstance(p, dict) and p.get("type") == "tool_call")]
    return others or None


def _indexed(a: dict[str, Any], prefix: str) -> list[dict[str, Any]] | None:
    """OpenLLMetry: gen_ai.prompt.0.role, gen_ai.prompt.0.content, gen_ai.completion.0.tool_calls.0.name ..."""
    found: dict[int, dict[str, Any]] = {}
    for key, value in a.items():
        if not key.startswith(prefix):
            continue
        index, _, rest = key[len(prefix):].partition(".")
        if not index.isdigit() or not rest:
            continue
        m = found.setdefault(int(index), {})
        if rest.startswith("tool_calls."):
            call_index, _, field = rest[len("tool_calls."):].partition(".")
            if call_index.isdigit():
                m.setdefault("_calls", {}).setdefault(int(call_index), {})[field] = value
        else:
            m[rest] = value
    if not found:
        return None
    return [_indexed_message(found[i]) for i in sorted(found)]


def _indexed_message(m: dict[str, Any]) -> dict[str, Any]:
    out = {"role": m.get("role"), "content": _json(m.get("content"))}
    calls = m.get("_calls")
    if calls:
        out["tool_calls"] = [{"id": c.get("id"), "type": "function", "function": {
            "name": c.get("name"), "arguments": c.get("arguments")}} for _, c in sorted(calls.items())]
    if m.get("finish_reason"):
        out["finish_reason"] = m["finish_reason"]
    return out


def _openinference(a: dict[str, Any], prefix: str) -> list[dict[str, Any]] | None:
    """llm.input_messages.0.message.role / .message.content / .message.contents.0.message_content.text."""
    found: dict[int, dict[str, Any]] = {}
    for key, value in a.items():
        if not key.startswith(prefix):
            continue
        index, _, rest = key[len(prefix):].partition(".")
        if not index.isdigit() or not rest.startswith("message."):
            continue
        m = found.setdefault(int(index), {"texts": {}})
        field = rest[len("message."):]
        if field in ("role", "content", "name", "tool_call_id"):
            m[field] = value
        elif field.startswith("contents.") and field.endswith(".message_content.text"):
            m["texts"][int(field.split(".")[1])] = value
        elif field.startswith("tool_calls."):
            parts = field.split(".")
            if parts[1].isdigit():
                m.setdefault("calls", {}).setdefault(int(parts[1]), {})[".".join(parts[2:])] = value
    if not found:
        return None
    return [_oi_message(found[i]) for i in sorted(found)]


def _oi_message(m: dict[str, Any]) -> dict[str, Any]:
    content = m.get("content")
    if content is None and m["texts"]:
        content = "".join(str(t) for _, t in sorted(m["texts"].items()))
    out = {"role": m.get("role"), "content": content}
    for key in ("name", "tool_call_id"):
        if m.get(key):
            out[key] = m[key]
    if m.get("calls"):
        out["tool_calls"] = [{"id": c.get("tool_call.id"), "type": "function", "function": {
            "name": c.get("tool_call.function.name"), "arguments": c.get("tool_call.function.arguments")}}
            for _, c in sorted(m["calls"].items())]
    return out


def _event_messages(span: Span) -> list[dict[str, Any]] | None:
    """gen_ai.user.message (and system, assistant, tool) events, each {content, role?, ...}; or the
    older gen_ai.content.prompt event with the whole prompt as JSON."""
    out = []
    for e in span.events:
        attrs = e["attributes"]
        if e["name"] == "gen_ai.content.prompt":
            found = _json(attrs.get("gen_ai.prompt"))
            return found if isinstance(found, list) else [{"role": "user", "content": found}] if found else None
        role = _MESSAGE_EVENTS.get(e["name"])
        if role is None:
            continue
        message = {"role": attrs.get("role") or role, "content": _json(attrs.get("content"))}
        calls = _json(attrs.get("tool_calls"))
        if calls:
            message["tool_calls"] = calls
        if attrs.get("id"):
            message["tool_call_id"] = attrs["id"]
        out.append(message)
    return out or None


def _choice_events(span: Span) -> list[dict[str, Any]] | None:
    """gen_ai.choice events: {index, finish_reason, message: {role, content} (JSON) or message.* / content}."""
    out = []
    for e in span.events:
        if e["name"] == "gen_ai.content.completion":
            found = _json(e["attributes"].get("gen_ai.completion"))
            return found if isinstance(found, list) else [found] if found is not None else None
        if e["name"] != "gen_ai.choice":
            continue
        attrs = e["attributes"]
        message = _json(attrs.get("message"))
        if not isinstance(message, dict):
            message = {"role": attrs.get("message.role", "assistant"),
                       "content": _json(attrs.get("message.content", attrs.get("content")))}
        if attrs.get("finish_reason"):
            message = message | {"finish_reason": attrs["finish_reason"]}
        out.append(message)
    return out or None


def _whole_prompt(a: dict[str, Any]) -> Any:
    """Older conventions: the whole prompt as one JSON attribute (or the gen_ai.content.prompt event)."""
    value = _json(a.get("gen_ai.prompt"))
    return value if isinstance(value, (list, str)) else None
