"""Logged inputs and outputs as readable turns (pure): role, text, tool calls and results.

Logs come from many clients (our SDKs' OpenAI and Anthropic wrappers, PromptLayer, plain REST),
so the shapes vary; whatever is not recognised is left to the raw JSON view rather than guessed.
Nothing here produces markup: templates escape every piece.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

MAX_TURNS = 500  # a pathological log must not make a page of megabytes


@dataclass(frozen=True)
class Part:
    kind: str  # text | tool_call | tool_result | image | data
    text: str = ""
    name: str = ""


@dataclass(frozen=True)
class Turn:
    role: str
    parts: list[Part] = field(default_factory=list)
    name: str = ""


def _dump(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=str)


def _arguments(raw: Any) -> str:
    """Tool arguments arrive as JSON text (OpenAI) or objects (Anthropic): show them indented."""
    if isinstance(raw, str):
        try:
            return _dump(json.loads(raw))
        except ValueError:
            return raw
    return _dump(raw)


def _block(block: Any) -> Part:
    if isinstance(block, str):
        return Part("text", block)
    if not isinstance(block, dict):
        return Part("data", _dump(block))
    kind = block.get("type")
    if kind in ("text", "input_text", "output_text") or (kind is None and isinstance(block.get("text"), str)):
        return Part("text", str(block.get("text", "")))
    if kind in ("tool_use", "function_call"):
        return Part("tool_call", _arguments(block.get("input", block.get("arguments"))), str(block.get("name", "")))
    if kind in ("tool_result", "function_call_output"):
        content = block.get("content", block.get("output"))
        return Part("tool_result", _text_of(content))
    if kind in ("image", "image_url", "input_image"):
        return Part("image")
    return Part("data", _dump(block))


def _text_of(content: Any) -> str:
    if isinstance(content, list):
        return "\n".join(p.text for p in map(_block, content))
    return _dump(content) if content is not None else ""


def _parts(message: dict[str, Any]) -> list[Part]:
    content = message.get("content")
    parts = [_block(b) for b in content] if isinstance(content, list) else (
        [Part("text", _dump(content))] if content not in (None, "") else [])
    for call in message.get("tool_calls") or []:
        fn = call.get("function", {}) if isinstance(call, dict) else {}
        parts.append(Part("tool_call", _arguments(fn.get("arguments")), str(fn.get("name", ""))))
    if message.get("function_call"):
        fn = message["function_call"]
        parts.append(Part("tool_call", _arguments(fn.get("arguments")), str(fn.get("name", ""))))
    if message.get("role") == "tool" and parts:
        parts = [Part("tool_result", p.text) if p.kind == "text" else p for p in parts]
    return parts


def _turn(message: Any, default_role: str) -> Turn | None:
    if isinstance(message, str):
        return Turn(default_role, [Part("text", message)])
    if not isinstance(message, dict):
        return None
    if "role" not in message and message.get("type") in ("function_call", "function_call_output"):
        return Turn("tool" if message["type"].endswith("output") else "assistant", [_block(message)])
    if "role" not in message and "content" not in message:
        return None
    return Turn(str(message.get("role") or default_role), _parts(message), str(message.get("name") or ""))


def turns(value: Any, default_role: str) -> list[Turn] | None:
    """The turns of an input or output; None when the shape is not one we know."""
    if value is None:
        return None
    if isinstance(value, str):
        return [Turn(default_role, [Part("text", value)])]
    if isinstance(value, list):
        found = [_turn(m, default_role) for m in value[:MAX_TURNS]]
        return [t for t in found if t] or None
    if not isinstance(value, dict):
        return None
    out: list[Turn] = []
    for key in ("system", "instructions"):
        if value.get(key):
            out.append(Turn("system", [Part("text", _text_of(value[key]))]))
    for key in ("messages", "input"):
        if isinstance(value.get(key), list):
            out += [t for t in (_turn(m, "user") for m in value[key][:MAX_TURNS]) if t]
        elif isinstance(value.get(key), str):
            out.append(Turn("user", [Part("text", value[key])]))
    if isinstance(value.get("prompt"), str):
        out.append(Turn("user", [Part("text", value["prompt"])]))
    if not out and ("role" in value or "content" in value):
        single = _turn(value, default_role)
        out = [single] if single else []
    if not out and isinstance(value.get("text"), str):
        out = [Turn(default_role, [Part("text", value["text"])])]
    if not out and isinstance(value.get("choices"), list) and value["choices"]:
        first = value["choices"][0]
        if isinstance(first, dict):
            single = _turn(first.get("message") or first.get("text"), default_role)
            out = [single] if single else []
    return out or None


def plain(items: list[Turn] | None) -> str:
    """Turns as lines of text ("role: text", a tool call as "role → name: arguments"): the form in
    which the detail page compares the rendered template with the input that was sent."""
    lines: list[str] = []
    for turn in items or []:
        for part in turn.parts:
            label = f"{turn.role} → {part.name}" if part.kind == "tool_call" else turn.role
            lines.append(f"{label}: {part.text}" if part.kind != "image" else f"{label}: [image]")
    return "\n".join(lines)
