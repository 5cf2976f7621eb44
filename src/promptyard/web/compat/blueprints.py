"""Prompt templates in PromptLayer's shape <-> Promptyard versions (pure translation).

PromptLayer content is an array of blocks per message; ours is one text per message and one
template format per version. Text blocks are joined; everything we cannot keep (images,
placeholders, tool calls in messages) is refused with a 400 rather than silently dropped."""

from __future__ import annotations

from typing import Any

from promptyard.domain.records import VersionRecord
from promptyard.errors import InvalidInput
from promptyard.services.render_pool import TemplateEngine

DEFAULT_COMMIT = "published with the PromptLayer API (no commit message given)"


def _text(blocks: Any, field: str) -> str:
    if blocks is None:
        return ""
    if isinstance(blocks, str):
        return blocks
    if not isinstance(blocks, list):
        raise InvalidInput("errors.compat.list_content_blocks", field=field)
    parts = []
    for i, block in enumerate(blocks):
        if not isinstance(block, dict) or block.get("type") != "text" or not isinstance(block.get("text"), str):
            kind = block.get("type") if isinstance(block, dict) else type(block).__name__
            raise InvalidInput("errors.compat.only_text_blocks_are", field=field, i=i, kind=kind)
        parts.append(block["text"])
    return "".join(parts)


def to_spec(template: Any, metadata: Any, commit_message: Any) -> dict[str, Any]:
    """Our version spec from a PromptLayer `prompt_template` + version `metadata`."""
    if not isinstance(template, dict):
        raise InvalidInput("errors.compat.prompt_template_object_type")
    kind = template.get("type") or ("completion" if "content" in template and "messages" not in template else "chat")
    formats: set[str] = set()
    spec: dict[str, Any] = {"type": kind}
    if kind == "chat":
        messages = template.get("messages")
        if not isinstance(messages, list):
            raise InvalidInput("errors.compat.prompt_template_messages_list")
        spec["messages"] = [_message(i, m, formats) for i, m in enumerate(messages)]
        if template.get("tools"):
            spec["tools"] = template["tools"]
    elif kind == "completion":
        spec["text"] = _text(template.get("content"), "prompt_template.content")
        formats.add(template.get("template_format") or "f-string")
    else:
        raise InvalidInput("errors.compat.prompt_template_type_chat", kind=kind)
    if len(formats) > 1:
        raise InvalidInput("errors.compat.template_format_all_messages")
    spec["template_format"] = formats.pop() if formats else "f-string"
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidInput("errors.compat.metadata_object_model_provider")
    model = (metadata or {}).get("model")
    if model is not None:
        if not isinstance(model, dict):
            raise InvalidInput("errors.compat.metadata_model_object_provider")
        spec["model"] = {"provider": model.get("provider"), "name": model.get("name"),
                         "parameters": model.get("parameters") or {}}
    spec["commit_message"] = commit_message if isinstance(commit_message, str) and commit_message.strip() \
        else DEFAULT_COMMIT
    return spec


def _message(i: int, m: Any, formats: set[str]) -> dict[str, Any]:
    field = f"prompt_template.messages[{i}]"
    if not isinstance(m, dict):
        raise InvalidInput("errors.compat.object", field=field)
    if m.get("role") in ("placeholder", "function"):
        raise InvalidInput("errors.compat.role_messages_are_supported", field=field, m=m['role'])
    if m.get("tool_calls") or m.get("function_call"):
        raise InvalidInput("errors.compat.messages_tool_calls_are", field=field)
    formats.add(m.get("template_format") or "f-string")
    out = {"role": m.get("role"), "content": _text(m.get("content"), f"{field}.content")}
    if m.get("name"):
        out["name"] = m["name"]
    return out


def prompt_template(kind: str, template: dict[str, Any], fmt: str, variables: list[str], *,
                    engine: TemplateEngine, source: dict[str, Any] | None = None) -> dict[str, Any]:
    """PromptLayer's `prompt_template` for one of our templates; when `template` is a rendered
    copy, `source` is the stored one (the variables each message uses are read from it)."""
    if kind == "completion":
        return {"type": "completion", "content": [{"type": "text", "text": template["text"]}],
                "template_format": fmt, "input_variables": variables}
    originals = (source or template)["messages"]
    # Parsed in a template worker, never in the server process (see services/render_pool.py).
    per_message = engine.text_variables([o["content"] for o in originals], fmt)
    messages = [{"role": m["role"], "content": [{"type": "text", "text": m["content"]}],
                 "input_variables": names, "template_format": fmt,
                 "name": m.get("name")} for m, names in zip(template["messages"], per_message)]
    return {"type": "chat", "messages": messages, "input_variables": variables,
            "tools": template.get("tools") or None, "tool_choice": None, "functions": None, "function_call": None}


def metadata(provider: str | None, model: str | None, parameters: dict[str, Any]) -> dict[str, Any]:
    if not provider or not model:
        return {}
    return {"model": {"provider": provider, "name": model, "parameters": dict(parameters)}}


def llm_kwargs(kind: str, template: dict[str, Any], provider: str | None, model: str | None,
               parameters: dict[str, Any]) -> dict[str, Any] | None:
    """What run() splats into the provider call (so: only keys the provider accepts), or None
    for providers we do not build calls for (run() then raises a clear ValueError)."""
    if not provider or not model:
        return None
    params = {k: v for k, v in parameters.items() if k != "stream"}
    if provider in ("openai", "openai.azure"):
        if kind == "completion":
            return {"model": model, "prompt": template["text"], **params}
        messages = [{"role": m["role"], "content": m["content"], **({"name": m["name"]} if m.get("name") else {})}
                    for m in template["messages"]]
        out = {"model": model, "messages": messages, **params}
        if template.get("tools"):
            out["tools"] = template["tools"]
        else:
            out.pop("tool_choice", None)
        return out
    if provider == "anthropic" and kind == "chat":
        system = "\n\n".join(m["content"] for m in template["messages"] if m["role"] in ("system", "developer"))
        messages = [{"role": m["role"], "content": m["content"]} for m in template["messages"]
                    if m["role"] not in ("system", "developer")]
        out = {"model": model, "messages": messages, "max_tokens": params.pop("max_tokens", 1024), **params}
        if system:
            out["system"] = system
        return out
    return None


def template_response(prompt: Any, v: VersionRecord, plain: dict[str, Any], filled: dict[str, Any],
                      provider: str | None, model: str | None, parameters: dict[str, Any], *,
                      engine: TemplateEngine) -> dict[str, Any]:
    """The body of POST /prompt-templates/{name}: what templates.get returns and run() reads.
    `filled` is rendered with the given variables (missing ones empty); `plain` is what to show
    when no variables were given. As the SDK's local (cached) renderer does, a response with
    llm_kwargs always shows the filled template, so cached and uncached fetches agree."""
    kwargs = llm_kwargs(v.kind, filled, provider, model, parameters)
    shown = filled if kwargs is not None else plain
    return {
        "id": prompt.id, "prompt_name": prompt.name, "tags": list(prompt.tags), "workspace_id": None,
        "version": v.number, "commit_message": v.commit_message,
        "metadata": metadata(provider, model, parameters),
        "prompt_template": prompt_template(v.kind, shown, v.template_format, list(v.input_variables),
                                           engine=engine, source=v.template),
        "llm_kwargs": kwargs,
        "provider_base_url": None, "snippets": [], "warning": None, "release_labels": list(v.labels),
    }
