"""The prompt object `get` returns: one version, rendered, with ready-made provider arguments."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from promptyard.domain import templates
from promptyard.errors import InvalidInput


class PromptMessages(list):
    """A plain list of messages that remembers the prompt it came from, so a wrapped provider
    client can link the call to the prompt version when called with `**prompt.openai_kwargs()`
    (provider libraries accept any list; nothing global is needed)."""

    promptyard_prompt: "Prompt | None" = None


@dataclass
class Prompt:
    name: str
    version: int | None  # None: the caller's fallback, served because the server was unreachable
    label: str | None
    type: str  # chat | completion
    template_format: str
    messages: list[dict[str, Any]] | None
    text: str | None
    tools: list[dict[str, Any]] | None
    provider: str | None
    model: str | None
    parameters: dict[str, Any]
    input_variables: list[str]
    variables: dict[str, Any] | None = None
    routing: dict[str, Any] | None = None  # {label, rule, unit} when a routing policy chose the version
    prompt_id: int | None = None
    is_fallback: bool = False
    stale: bool = False  # served from cache past its TTL (the server could not be asked)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def link(self) -> dict[str, Any] | None:
        """The `prompt` field of a request log: which version (and inputs) produced the call."""
        if self.is_fallback:
            return None
        out: dict[str, Any] = {"name": self.name, "version": self.version}
        if self.label:
            out["label"] = self.label
        if self.variables:
            out["variables"] = self.variables
        return out

    def openai_kwargs(self, **overrides: Any) -> dict[str, Any]:
        """Arguments for `client.chat.completions.create` (chat) or `client.completions.create`."""
        out: dict[str, Any] = {"model": self.model} if self.model else {}
        if self.type == "chat":
            out["messages"] = self._tracked([_openai_message(m) for m in self.messages or []])
            if self.tools:
                out["tools"] = self.tools
        else:
            out["prompt"] = self.text or ""
        return out | dict(self.parameters) | overrides

    def anthropic_kwargs(self, **overrides: Any) -> dict[str, Any]:
        """Arguments for `client.messages.create`: system messages go to `system`; `max_tokens`
        (required by Anthropic) defaults to 1024."""
        params = dict(self.parameters)
        if "max_completion_tokens" in params:
            params["max_tokens"] = params.pop("max_completion_tokens")
        out: dict[str, Any] = {"model": self.model} if self.model else {}
        messages = self.messages if self.type == "chat" else [{"role": "user", "content": self.text or ""}]
        system = "\n\n".join(m["content"] for m in messages or [] if m["role"] in ("system", "developer"))
        if system:
            out["system"] = system
        out["messages"] = self._tracked([{"role": m["role"], "content": m["content"]} for m in messages or []
                                         if m["role"] not in ("system", "developer")])
        if self.tools:
            out["tools"] = [_anthropic_tool(t) for t in self.tools]
        return out | {"max_tokens": 1024} | params | overrides

    def _tracked(self, messages: list[dict[str, Any]]) -> PromptMessages:
        tracked = PromptMessages(messages)
        tracked.promptyard_prompt = self
        return tracked


def _openai_message(m: dict[str, Any]) -> dict[str, Any]:
    out = {"role": m["role"], "content": m["content"]}
    if m.get("name"):
        out["name"] = m["name"]
    return out


def _anthropic_tool(tool: dict[str, Any]) -> dict[str, Any]:
    fn = tool.get("function") if tool.get("type") == "function" else None
    if fn is None:
        return tool  # already Anthropic-shaped
    return {"name": fn["name"], "description": fn.get("description", ""),
            "input_schema": fn.get("parameters") or {"type": "object", "properties": {}}}


def template_of(version: dict[str, Any]) -> dict[str, Any]:
    if version.get("type") == "completion":
        return {"text": version.get("text") or ""}
    out = {"messages": version.get("messages") or []}
    if version.get("tools"):
        out["tools"] = version["tools"]
    return out


def render_locally(version: dict[str, Any], variables: dict[str, Any]) -> dict[str, Any]:
    """Render in this process. The client calls it for f-string templates (no server dependency);
    jinja2 ones go to the server, except a fallback when the server is unreachable."""
    return templates.render(version.get("type", "chat"), template_of(version),
                            version.get("template_format") or "f-string", variables)


def build(name: str, version: dict[str, Any], *, label: str | None, variables: dict[str, Any] | None,
          rendered: dict[str, Any] | None, routing: dict[str, Any] | None, prompt_id: int | None,
          is_fallback: bool = False, stale: bool = False) -> Prompt:
    body = rendered if rendered is not None else template_of(version)
    model = version.get("model") or {}
    return Prompt(name=name, version=version.get("number"), label=label, type=version.get("type", "chat"),
                  template_format=version.get("template_format", "f-string"), messages=body.get("messages"),
                  text=body.get("text"), tools=version.get("tools"), provider=model.get("provider"),
                  model=model.get("name"), parameters=dict(model.get("parameters") or {}),
                  input_variables=list(version.get("input_variables") or []), variables=variables,
                  routing=routing, prompt_id=prompt_id, is_fallback=is_fallback, stale=stale, raw=version)


def fallback_version(fallback: Any) -> dict[str, Any]:
    """A version-shaped dict from what a caller passes as `fallback=`: a version-shaped dict,
    a list of messages, or a completion text."""
    if isinstance(fallback, str):
        return {"type": "completion", "text": fallback, "template_format": "f-string"}
    if isinstance(fallback, list):
        return {"type": "chat", "messages": fallback, "template_format": "f-string"}
    if isinstance(fallback, dict):
        out = {"template_format": "f-string", "type": "completion" if "text" in fallback else "chat"} | fallback
        out["number"] = None
        return out
    raise InvalidInput("errors.sdk.fallback_text_list_messages")
