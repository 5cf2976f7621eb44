"""The prompt editor's form: a version's fields as the browser sends them, turned into the spec
that `services.versions.publish` takes, and a server-side preview with sample variables.

Messages arrive as numbered fields (role_0, content_0, name_0, remove_0 ...) so the editor works
without JavaScript; "add a message" is a submit button that re-renders the form with one more."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from promptyard.catalogue import Text
from promptyard.domain import library_texts, numbers, templates
from promptyard.domain.records import VersionRecord
from promptyard.errors import InvalidInput, Unavailable
from promptyard.services.render_pool import TemplateEngine

MAX_MESSAGES = 100


@dataclass
class VersionForm:
    kind: str = "chat"
    template_format: str = "f-string"
    messages: list[dict[str, str]] = field(default_factory=lambda: [{"role": "system", "content": "", "name": ""},
                                                                     {"role": "user", "content": "", "name": ""}])
    text: str = ""
    tools: str = ""  # JSON text; kept as the version had it
    provider: str = ""
    model: str = ""
    parameters: str = "{}"  # JSON text
    commit_message: str = ""
    samples: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_version(cls, v: VersionRecord) -> "VersionForm":
        messages = [{"role": m.get("role", "user"), "content": m.get("content") or "", "name": m.get("name") or ""}
                    for m in v.template.get("messages") or []]
        tools = v.template.get("tools")
        return cls(kind=v.kind, template_format=v.template_format, messages=messages or cls().messages,
                   text=v.template.get("text") or "", tools=_dump(tools) if tools is not None else "",
                   provider=v.provider or "", model=v.model or "", parameters=_dump(v.parameters or {}))

    @classmethod
    def from_form(cls, form: Any, prefix: str = "") -> "VersionForm":
        """`prefix`: the fields' names start with it (a page with several drafts: the playground's
        a_, b_); the sample values (var_<name>) are the page's, without it."""
        def text(name: str, default: str = "") -> str:
            value = form.get(prefix + name, default)
            return value if isinstance(value, str) else default

        messages = []
        count = min(_int(text("message_count", "0")), MAX_MESSAGES)
        for i in range(count):
            if text(f"remove_{i}"):
                continue
            messages.append({"role": text(f"role_{i}", "user"), "content": text(f"content_{i}").replace("\r\n", "\n"),
                             "name": text(f"name_{i}").strip()})
        samples = {key[4:]: value for key, value in form.items() if key.startswith("var_") and isinstance(value, str)}
        return cls(kind=text("kind", "chat"), template_format=text("template_format", "f-string"), messages=messages,
                   text=text("text").replace("\r\n", "\n"), tools=text("tools").strip(),
                   provider=text("provider").strip(), model=text("model").strip(),
                   parameters=text("parameters", "{}").strip() or "{}", commit_message=text("commit_message").strip(),
                   samples=samples)

    def add_message(self) -> None:
        if len(self.messages) < MAX_MESSAGES:
            self.messages.append({"role": "user", "content": "", "name": ""})

    def template(self) -> dict[str, Any]:
        if self.kind == "completion":
            return {"text": self.text}
        out: dict[str, Any] = {"messages": [{k: v for k, v in m.items() if k != "name" or v} for m in self.messages]}
        if self.tools:
            out["tools"] = _load(self.tools, "tools", list)
        return out

    def draft(self) -> dict[str, Any]:
        """What running the form as an unsaved draft needs (services/playground.py); InvalidInput
        naming the field when its JSON is off."""
        kind = self.kind if self.kind in templates.KINDS else "chat"
        return {"kind": kind, "template": self.template(), "template_format": self.template_format,
                "model": self.model or None, "parameters": _load(self.parameters or "{}", "parameters", dict)}

    def spec(self) -> dict[str, Any]:
        """The version as `publish` takes it; InvalidInput naming the field when something is off."""
        model = None
        if self.provider or self.model or self.parameters not in ("", "{}"):
            model = {"provider": self.provider or None, "name": self.model or None,
                     "parameters": _load(self.parameters, "parameters", dict)}
        kind = self.kind if self.kind in templates.KINDS else "chat"
        body = {"type": kind, "template_format": self.template_format, "model": model,
                "commit_message": self.commit_message}
        return body | self.template()

    def variables(self, engine: TemplateEngine) -> list[str]:
        """The template's input variables, or [] while its text does not parse (or is too large)."""
        try:
            return engine.check(self.kind, self.template(), self.template_format)[1]
        except (InvalidInput, Unavailable):  # the page still shows; publishing reports the problem
            return []

    def preview(self, engine: TemplateEngine) -> dict[str, Any]:
        """The template rendered with the sample values; a variable without one renders empty
        (`unfilled` names them, so the page can warn)."""
        values = {name: self.samples.get(name, "") for name in self.variables(engine)}
        return engine.render(self.kind, self.template(), self.template_format, values)

    def unfilled(self, variables: list[str]) -> list[str]:
        """The variables whose sample value is missing (newly added) or blank."""
        return [name for name in variables if not self.samples.get(name, "").strip()]


def _int(text: str) -> int:
    return numbers.ascii_int(text) or 0


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def _load(text: str, name: str, kind: type) -> Any:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidInput("errors.versions.valid_json_line_column", name=name, msg=library_texts.json_reason(exc.msg), lineno=exc.lineno,
                           colno=exc.colno) from None
    if not isinstance(value, kind):
        shape = Text("errors.versions.shape_object" if kind is dict else "errors.versions.shape_list")
        raise InvalidInput("errors.versions.name_shape", name=name, shape=shape)
    return value
