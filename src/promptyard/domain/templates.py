"""Prompt templates: shape validation, variable extraction and rendering (pure Python, no I/O).

A chat template is {"messages": [{"role", "content", "name"?}, ...], "tools"?: [...]}, a
completion template is {"text": ...}. Texts are written in one of two formats:

* "f-string": `{name}` placeholders (with an optional format spec, `{price:.2f}`), `{{` and
  `}}` for literal braces. Only simple names: `str.format` would let `{x.__class__}` walk into
  Python internals, so the text is parsed here and the output assembled piece by piece.
* "jinja2": Jinja2 in a locked-down sandbox (see `sandbox.py`).

Missing variables are an error in strict mode (all of them are listed) and render as "" in
lenient mode, which is what PromptLayer clients expect. A None value renders as "".
"""

from __future__ import annotations

import functools
import json
import re

from promptyard.catalogue import Text
from promptyard.domain.render_limits import (
    DEFAULT_LIMITS,
    RenderError,
    RenderLimits,
    UndefinedVariable,
    check_format_spec,
)
from promptyard.errors import InvalidInput

__all__ = [
    "DEFAULT_LIMITS",
    "FORMATS",
    "KINDS",
    "ROLES",
    "RenderError",
    "RenderLimits",
    "as_messages",
    "escape_fstring",
    "extract_variables",
    "render",
    "render_text",
    "validate_template",
]

FORMATS = ("f-string", "jinja2")
KINDS = ("chat", "completion")
ROLES = ("system", "user", "assistant", "tool", "developer")


def _jinja():
    from promptyard.domain import sandbox  # Jinja2 is a server dependency; f-string needs none

    return sandbox


# --- shape -----------------------------------------------------------------------------------


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _bad(field: str, message: str, **params: object) -> InvalidInput:
    return InvalidInput(message, field=field, details={"field": field}, **params)


def _normalise(kind: str, template: object, fmt: str) -> dict:
    """The template with known keys only; InvalidInput naming the first bad field."""
    if kind not in KINDS:
        raise InvalidInput("errors.templates.unknown_template_type_expected", kind=_shown(kind))
    if fmt not in FORMATS:
        raise InvalidInput("errors.templates.unknown_template_format_expected", fmt=_shown(fmt))
    if not isinstance(template, dict):
        raise InvalidInput("errors.templates.template_object")
    if kind == "completion":
        text = template.get("text")
        if not isinstance(text, str):
            raise _bad("text", "errors.templates.must_be_string")
        if not text:
            raise _bad("text", "errors.templates.must_not_be_empty")
        return {"text": text}
    messages = template.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("messages", "errors.templates.must_be_non_empty_list")
    normalised = {"messages": [_message(i, m) for i, m in enumerate(messages)]}
    tools = template.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise _bad("tools", "errors.templates.must_be_list")
        normalised["tools"] = tools
    return normalised


def _message(index: int, message: object) -> dict:
    field = f"messages[{index}]"
    if not isinstance(message, dict):
        raise _bad(field, "errors.templates.must_be_object")
    role = message.get("role")
    if not isinstance(role, str) or role not in ROLES:
        raise _bad(f"{field}.role", "errors.templates.role_one_of", roles=", ".join(ROLES), got=_shown(role))
    content = message.get("content")
    if not isinstance(content, str):
        raise _bad(f"{field}.content", "errors.templates.must_be_string")
    out = {"role": role, "content": content}
    name = message.get("name")
    if name is not None and not isinstance(name, str):
        raise _bad(f"{field}.name", "errors.templates.must_be_string")
    if name:
        out["name"] = name
    return out


def _texts(kind: str, template: dict) -> list[tuple[str, str]]:
    if kind == "completion":
        return [("text", template["text"])]
    return [(f"messages[{i}].content", m["content"]) for i, m in enumerate(template["messages"])]


def _check_size(kind: str, template: dict, max_chars: int | None) -> None:
    """Refuse a template longer than `max_chars` before anything parses it."""
    if max_chars is None:
        return
    size = sum(len(text) for _, text in _texts(kind, template))
    if size > max_chars:
        raise InvalidInput("errors.templates.template_too_long_characters", size=size, max_chars=max_chars,
                           details={"field": "template", "size": size, "limit": max_chars})


def _rebuild(kind: str, template: dict, rendered: list[str]) -> dict:
    if kind == "completion":
        return {"text": rendered[0]}
    out = dict(template)
    out["messages"] = [{**m, "content": text} for m, text in zip(template["messages"], rendered)]
    return out


# --- f-string --------------------------------------------------------------------------------

_BRACE = re.compile(r"[{}]")


class _FStringError(Exception):
    def __init__(self, message: Text, index: int, hint: Text | str = ""):
        super().__init__(message)
        self.message, self.index, self.hint = message, index, hint


@functools.lru_cache(maxsize=1024)
def _parse_fstring(text: str) -> tuple:
    """Literal strings and (name, spec) fields, as str.format reads them, simple names only."""
    pieces: list = []
    literal: list[str] = []
    pos = 0
    while (match := _BRACE.search(text, pos)) is not None:
        start, brace = match.start(), match.group()
        literal.append(text[pos:start])
        if text.startswith(brace, start + 1):  # "{{" or "}}"
            literal.append(brace)
            pos = start + 2
            continue
        if brace == "}":
            raise _FStringError(Text("errors.templates.fstring_unexpected_close"), start,
                                Text("errors.templates.fstring_hint_close"))
        end = text.find("}", start + 1)
        if end < 0:
            raise _FStringError(Text("errors.templates.fstring_unclosed"), start,
                                Text("errors.templates.fstring_hint_open"))
        body = text[start + 1:end]
        name, colon, spec = body.partition(":")
        if "{" in body:
            inner = start + 1 + body.index("{")
            if colon and "{" not in name:
                raise _FStringError(Text("errors.templates.fstring_nested"), inner)
            raise _FStringError(Text("errors.templates.fstring_unexpected_open"), inner)
        if not name.isidentifier():
            shown = body if len(body) <= 40 else body[:39] + "…"
            raise _FStringError(Text("errors.templates.fstring_invalid_placeholder", shown=shown), start,
                                Text("errors.templates.fstring_hint_simple"))
        if literal:
            pieces.append("".join(literal))
            literal = []
        pieces.append((name, spec))
        pos = end + 1
    literal.append(text[pos:])
    if "".join(literal):
        pieces.append("".join(literal))
    return tuple(pieces)


def _fstring_pieces(field: str, text: str) -> tuple:
    try:
        return _parse_fstring(text)
    except _FStringError as exc:
        line = text.count("\n", 0, exc.index) + 1
        column = exc.index - (text.rfind("\n", 0, exc.index) + 1) + 1
        where = (Text("errors.templates.at_column", column=column) if "\n" not in text
                 else Text("errors.templates.at_line_column", line=line, column=column))
        raise InvalidInput("errors.templates.fstring_syntax", field=field, reason=exc.message, where=where,
                           hint=exc.hint,
                           details={"field": field, "line": line, "column": column}) from None


def _fstring_value(field: str, name: str, value: object, spec: str, limits: RenderLimits) -> str:
    if value is None:
        value = ""
    elif isinstance(value, (dict, list)):
        try:
            value = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
        except (ValueError, RecursionError) as exc:
            raise RenderError("errors.templates.cannot_render_name", field=field, name=name, exc=exc,
                              details={"field": field}) from None
    try:
        if not spec:
            return value if isinstance(value, str) else str(value)
        check_format_spec(spec, limits)
        return format(value, spec)
    except RenderError as exc:
        raise RenderError("errors.templates.in_field", field=field, reason=exc.message,
                          details={"field": field}) from None
    except (ValueError, TypeError) as exc:  # a spec that does not fit the value, a huge int
        raise RenderError("errors.templates.cannot_format_name_spec", field=field, name=name, spec=spec, exc=exc,
                          details={"field": field}) from None


def _render_fstring(field: str, pieces: tuple, variables: dict, limits: RenderLimits, budget: int) -> str:
    out, size = [], 0
    for piece in pieces:
        if piece.__class__ is not str:
            name, spec = piece
            piece = _fstring_value(field, name, variables.get(name), spec, limits)
        size += len(piece)
        if size > budget:
            raise RenderError("errors.templates.rendered_output_longer_than", field=field,
                              max_output_chars=limits.max_output_chars,
                              details={"field": field})
        out.append(piece)
    return "".join(out)


# --- public API ------------------------------------------------------------------------------


def _variables_of(kind: str, template: dict, fmt: str) -> list[str]:
    names: dict[str, None] = {}
    for field, text in _texts(kind, template):
        if fmt == "f-string":
            names.update((p[0], None) for p in _fstring_pieces(field, text) if p.__class__ is tuple)
        else:
            names.update((name, None) for name in _jinja().jinja_variables(field, text))
    return list(names)


def validate_template(kind: str, template: dict, fmt: str, *, max_chars: int | None = None) -> dict:
    """The normalised template (known keys only); InvalidInput on a bad shape, size or syntax."""
    normalised = _normalise(kind, template, fmt)
    _check_size(kind, normalised, max_chars)
    for field, text in _texts(kind, normalised):
        if fmt == "f-string":
            _fstring_pieces(field, text)
        else:
            _jinja().check_jinja(field, text)
    return normalised


def extract_variables(kind: str, template: dict, fmt: str, *, max_chars: int | None = None) -> list[str]:
    """Input variable names used by all texts, in order of first appearance, without repeats."""
    normalised = _normalise(kind, template, fmt)
    _check_size(kind, normalised, max_chars)
    return _variables_of(kind, normalised, fmt)


def _missing(names) -> InvalidInput:
    return InvalidInput("errors.templates.missing_input_variable", names=', '.join(names),
                        details={"missing": list(names)})


def render(kind: str, template: dict, fmt: str, variables: dict, *, strict: bool = True,
           limits: RenderLimits = DEFAULT_LIMITS) -> dict:
    """A template of the same kind with every text rendered (roles, names and tools kept)."""
    normalised = _normalise(kind, template, fmt)
    _check_size(kind, normalised, limits.max_template_chars)
    if not isinstance(variables, dict):
        raise InvalidInput("errors.templates.input_variables_object")
    texts = _texts(kind, normalised)
    if fmt == "jinja2":
        try:
            rendered = _jinja().render_jinja(texts, variables, strict, limits)
        except UndefinedVariable:
            missing = [n for n in _variables_of(kind, normalised, fmt) if n not in variables]
            if strict and missing:
                raise _missing(missing) from None
            raise
        return _rebuild(kind, normalised, rendered)
    parsed = [(field, _fstring_pieces(field, text)) for field, text in texts]
    if strict:
        missing = {p[0]: None for _, pieces in parsed for p in pieces
                   if p.__class__ is tuple and p[0] not in variables}
        if missing:
            raise _missing(missing)
    rendered, budget = [], limits.max_output_chars
    for field, pieces in parsed:
        rendered.append(_render_fstring(field, pieces, variables, limits, budget))
        budget -= len(rendered[-1])
    return _rebuild(kind, normalised, rendered)


def render_text(text: str, fmt: str, variables: dict, *, strict: bool = True,
                limits: RenderLimits = DEFAULT_LIMITS) -> str:
    """One text on its own, e.g. a single content block of a PromptLayer-shaped template."""
    if not text:
        return ""
    return render("completion", {"text": text}, fmt, variables, strict=strict, limits=limits)["text"]


def as_messages(kind: str, rendered: dict) -> list[dict]:
    """A rendered template as the chat messages a provider is sent: a completion's text is one user
    message; a chat template's messages keep their role and content (names and tools stay behind)."""
    if kind == "completion":
        return [{"role": "user", "content": rendered["text"]}]
    return [{"role": m["role"], "content": m["content"]} for m in rendered["messages"]]


def escape_fstring(text: str) -> str:
    """A text as an f-string template that renders to exactly that text (its braces doubled)."""
    return text.replace("{", "{{").replace("}", "}}")
