"""The request search language, one for the API, the CLI and the UI (pure).

    metadata.env = "prod" AND score.medically_correct < 60 AND (tag = "beta" OR metadata.role = "staff")
        AND text ~ "用量"

A request sent as an OpenTelemetry span (or linked to one) can be found by its trace: `trace_id`
and `span_id` are the request's own span, `trace.name` the name of its trace's root span,
`span.name` and `span.attr.<key>` conditions on any span of its trace (each condition on its own:
two may match two different spans), e.g. `span.attr.retrieval.top_k >= 5`.

AST: Cond(field, key, op, value) | And(items) | Or(items) | Not(item); `parse(text)` and
`from_json(obj)` build it, `to_text` and `to_json` give it back. SQL is made from it in
store/query_sql.py with bound parameters only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, Iterator, Union

from promptyard import catalogue
from promptyard.domain.numbers import MAX_ID
from promptyard.errors import InvalidInput

MAX_TEXT, MAX_CONDS, MAX_DEPTH = 2000, 50, 20
STR_OPS = ("=", "!=", "~", "in", "not_in", "exists", "missing")
NUM_OPS = ("=", "!=", "<", "<=", ">", ">=", "in", "not_in", "exists", "missing")
FIELDS: dict[str, dict[str, Any]] = {
    "metadata": {"keyed": True, "type": "str", "ops": STR_OPS},
    "score": {"keyed": True, "type": "num", "ops": ("=", "!=", "<", "<=", ">", ">=", "exists", "missing")},
    "tag": {"type": "str", "ops": ("=", "!=", "in", "not_in", "exists", "missing")},
    "prompt": {"type": "str", "ops": STR_OPS},
    "label": {"type": "str", "ops": STR_OPS},
    "model": {"type": "str", "ops": STR_OPS},
    "provider": {"type": "str", "ops": STR_OPS},
    "group": {"type": "str", "ops": ("=", "!=", "exists", "missing")},
    "id": {"type": "str", "ops": ("=", "in")},
    "status": {"type": "str", "ops": ("=", "!=", "in")},
    "version": {"type": "int", "ops": NUM_OPS},
    "latency": {"type": "num", "ops": NUM_OPS},
    "tokens": {"type": "num", "ops": NUM_OPS},
    "input_tokens": {"type": "num", "ops": NUM_OPS},
    "output_tokens": {"type": "num", "ops": NUM_OPS},
    "cost": {"type": "num", "ops": NUM_OPS},
    "time": {"type": "time", "ops": ("<", "<=", ">", ">=")},
    "text": {"type": "str", "ops": ("~",)},
    "input": {"type": "str", "ops": ("~",)},
    "output": {"type": "str", "ops": ("~",)},
    "prompt_id": {"type": "int", "ops": ("=", "!=", "in", "not_in", "exists", "missing")},
    "trace_id": {"type": "hex32", "ops": ("=", "!=", "in", "not_in", "exists", "missing")},
    "span_id": {"type": "hex16", "ops": ("=", "!=", "in", "not_in", "exists", "missing")},
    "trace.name": {"type": "str", "ops": STR_OPS},
    "span.name": {"type": "str", "ops": ("=", "!=", "~", "in", "not_in")},
    "span.attr": {"keyed": True, "type": "attr", "ops": NUM_OPS + ("~",)},
}
KEYED = tuple(sorted((f for f, spec in FIELDS.items() if spec.get("keyed")), key=len, reverse=True))
FIELD_LIST = ", ".join({"score": "score.<name>"}.get(f, f"{f}.<key>") if f in KEYED else f for f in FIELDS)
TRACE_FIELDS = ("trace_id", "span_id", "trace.name", "span.name", "span.attr")  # store/query_sql.py: over spans
_HEX = {"hex32": 32, "hex16": 16}  # OTLP's trace and span ids: digits


class FilterSyntaxError(InvalidInput):
    """A filter that does not parse: the message names the problem, then where (position or path)."""

    def __init__(self, message: str, position: int | None = None, path: str | None = None, **params: Any):
        super().__init__(message, details={"position": position} if position is not None else {"path": path},
                         **params)
        self.position, self.path = position, path
        self.message = self.text("en")
        self.args = (self.message,)

    def text(self, lang: str) -> str:
        if self.position is not None:
            return catalogue.translate(lang, "errors.filters.at_position", problem=super().text(lang),
                                       position=self.position)
        if self.path:
            return catalogue.translate(lang, "errors.filters.at_path", problem=super().text(lang), path=self.path)
        return super().text(lang)


@dataclass(frozen=True)
class Relative:
    amount: int
    unit: str  # m | h | d

    def __str__(self) -> str:
        return f"-{self.amount}{self.unit}"


@dataclass(frozen=True)
class Cond:
    field: str
    key: str | None
    op: str
    value: Any = None


@dataclass(frozen=True)
class And:
    items: tuple


@dataclass(frozen=True)
class Or:
    items: tuple


@dataclass(frozen=True)
class Not:
    item: Any


Node = Union[Cond, And, Or, Not]

_TOKEN = re.compile(r"""
    (?P<ws>\s+) | (?P<lp>\() | (?P<rp>\)) | (?P<lb>\[) | (?P<rb>\]) | (?P<comma>,)
  | (?P<op>!=|<=|>=|=|<|>|~)
  | (?P<dq>"(?:[^"\\]|\\.)*") | (?P<sq>'(?:[^'\\]|\\.)*')
  | (?P<rel>-\d+[mhd](?![\w]))
  | (?P<num>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w.]))
  | (?P<word>[^\s()\[\],!=<>~"'.]+(?:\.(?:[^\s()\[\],!=<>~"'.]+|"(?:[^"\\]|\\.)*"))*)
""", re.X)


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise FilterSyntaxError("errors.filters.unexpected_character", pos, text=text[pos])
        if m.lastgroup != "ws":
            out.append((m.lastgroup, m.group(), pos))
        pos = m.end()
    out.append(("end", "", len(text)))
    return out


class _Parser:
    def __init__(self, text: str, zone: tzinfo = timezone.utc):
        self.toks, self.i, self.conds, self.zone = _tokens(text), 0, 0, zone

    def peek(self) -> tuple[str, str, int]:
        return self.toks[self.i]

    def take(self) -> tuple[str, str, int]:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def keyword(self, word: str) -> bool:
        kind, text, _ = self.peek()
        if kind == "word" and text.upper() == word:
            self.i += 1
            return True
        return False

    def expr(self, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise FilterSyntaxError("errors.filters.filter_nested_more_than", self.peek()[2], max_depth=MAX_DEPTH)
        items = [self.conj(depth)]
        while self.keyword("OR"):
            items.append(self.conj(depth))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def conj(self, depth: int) -> Node:
        items = [self.unary(depth)]
        while self.keyword("AND"):
            items.append(self.unary(depth))
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self, depth: int) -> Node:
        if self.keyword("NOT"):
            return Not(self.unary(depth + 1))
        kind, _, pos = self.peek()
        if kind == "lp":
            self.take()
            node = self.expr(depth + 1)
            if self.take()[0] != "rp":
                raise FilterSyntaxError("errors.filters.expected_close_paren", self.toks[self.i - 1][2])
            return node
        return self.condition()

    def condition(self) -> Cond:
        kind, text, pos = self.take()
        if kind != "word":
            raise FilterSyntaxError("errors.filters.expected_field", pos, field_list=FIELD_LIST)
        field, key = _field(text, pos)
        self.conds += 1
        if self.conds > MAX_CONDS:
            raise FilterSyntaxError("errors.filters.filter_may_have_most", pos, max_conds=MAX_CONDS)
        kind, op, opos = self.peek()
        if kind == "word" and op.lower() in ("exists", "missing"):
            self.take()
            return check(Cond(field, key, op.lower()), opos, zone=self.zone)
        if kind == "word" and op.lower() in ("in", "not"):
            self.take()
            op = "in" if op.lower() == "in" else "not_in"
            if op == "not_in" and not self.keyword("IN"):
                raise FilterSyntaxError("errors.filters.expected_in_after_not", self.peek()[2])
            return check(Cond(field, key, op, self.values()), opos, zone=self.zone)
        if kind != "op":
            raise FilterSyntaxError("errors.filters.expected_operator_after", opos, text=text)
        self.take()
        return check(Cond(field, key, op, self.value(field)), opos, zone=self.zone)

    def values(self) -> tuple:
        kind, _, pos = self.take()
        if kind != "lb":
            raise FilterSyntaxError("errors.filters.expected_start_list", pos)
        out = [self.value(None)]
        while self.peek()[0] == "comma":
            self.take()
            out.append(self.value(None))
        if self.take()[0] != "rb":
            raise FilterSyntaxError("errors.filters.expected_end_list", self.toks[self.i - 1][2])
        return tuple(out)

    def value(self, field: str | None) -> Any:
        kind, text, pos = self.take()
        if kind in ("dq", "sq"):
            return _unquote(text, pos)
        if kind == "num":
            return float(text) if any(c in text for c in ".eE") else int(text)
        if kind == "rel":
            return Relative(int(text[1:-1]), text[-1])
        if kind == "word" and text.lower() in ("ok", "error"):
            return text.lower()
        if kind == "end":
            raise FilterSyntaxError("errors.filters.expected_value", pos)
        raise FilterSyntaxError("errors.filters.quote_text_values", pos, text=text)


def _unquote(text: str, pos: int) -> str:
    if text[0] == '"':
        try:
            return json.loads(text)
        except ValueError:
            raise FilterSyntaxError("errors.filters.invalid_escape_string", pos) from None
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def _field(text: str, pos: int | None, path: str | None = None) -> tuple[str, str | None]:
    """(field, key) of a field as written: `model`, `trace.name`, `metadata.env`,
    `span.attr.retrieval.top_k`, `metadata."a b"` (a quoted key is the whole key)."""
    low = text.lower()
    if low in FIELDS and not FIELDS[low].get("keyed"):
        return low, None
    name = next((f for f in KEYED if low.startswith(f + ".")), None)
    key = text[len(name) + 1:] if name else ""
    if not key:
        raise FilterSyntaxError("errors.filters.unknown_field_fields", pos, path, text=text, field_list=FIELD_LIST)
    if key.startswith('"'):
        if not re.fullmatch(r'"(?:[^"\\]|\\.)*"', key):
            raise FilterSyntaxError("errors.filters.quoted_key_whole", pos, path, text=text)
        key = _unquote(key, pos)
    return name, key


def check(c: Cond, pos: int | None = None, path: str | None = None, *, zone: tzinfo = timezone.utc) -> Cond:
    """Op allowed on the field and value of the right type (metadata numbers become text); a
    time without an offset is read in `zone`."""
    spec = FIELDS[c.field]
    _storable(c.key, pos, path)
    if c.op not in spec["ops"]:
        raise FilterSyntaxError("errors.filters.operator_allowed", pos, path, op=c.op, field=c.field)
    if c.op in ("exists", "missing"):
        return Cond(c.field, c.key, c.op, None)
    values = c.value if isinstance(c.value, tuple) else (c.value,)
    if c.op in ("in", "not_in") and not isinstance(c.value, tuple):
        raise FilterSyntaxError("errors.filters.needs_list", pos, path, op=c.op)
    fixed = tuple(_typed(spec["type"], c.field, v, pos, path, zone, c.op) for v in values)
    return Cond(c.field, c.key, c.op, fixed if c.op in ("in", "not_in") else fixed[0])


def _typed(kind: str, field: str, v: Any, pos: int | None, path: str | None, zone: tzinfo = timezone.utc,
           op: str = "=") -> Any:
    if kind == "str":
        if isinstance(v, bool) or isinstance(v, Relative) or v is None:
            raise FilterSyntaxError("errors.filters.needs_text_value", pos, path, field=field)
        _storable(v, pos, path)
        if field == "status" and v not in ("ok", "error"):
            raise FilterSyntaxError("errors.filters.status_ok_error", pos, path)
        return v if isinstance(v, str) else str(v)
    if kind in _HEX:  # OTLP's ids, in lower-case hex as stored
        if not isinstance(v, str) or not re.fullmatch(f"[0-9a-f]{{{_HEX[kind]}}}", v.lower()):
            raise FilterSyntaxError("errors.filters.needs_hex_digits", pos, path, field=field, n=_HEX[kind])
        return v.lower()
    if kind == "attr":  # a span attribute: text or a number, by what the operator compares
        number = isinstance(v, (int, float)) and not isinstance(v, bool)
        if op in ("<", "<=", ">", ">=") and not number:
            raise FilterSyntaxError("errors.filters.op_needs_number", pos, path, op=op, field=field)
        if not number and not isinstance(v, str):
            raise FilterSyntaxError("errors.filters.needs_text_or_number", pos, path, field=field)
        if op == "~" and not isinstance(v, str):
            raise FilterSyntaxError("errors.filters.tilde_needs_text", pos, path, field=field)
        _storable(v, pos, path)
        return float(v) if number and abs(v) > MAX_ID else v
    if kind in ("num", "int"):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise FilterSyntaxError("errors.filters.needs_number", pos, path, field=field)
        if kind == "int" and (not float(v).is_integer() or abs(v) > MAX_ID):
            raise FilterSyntaxError("errors.filters.needs_whole_number_below", pos, path, field=field)
        if kind == "num" and isinstance(v, int) and abs(v) > MAX_ID:
            return float(v)  # compare as a float: a bigger integer would not fit the column's type
        return int(v) if kind == "int" else v
    if isinstance(v, Relative):
        return v
    if isinstance(v, str):
        try:
            t = datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            raise FilterSyntaxError("errors.filters.time_needs_iso_8601_not", pos, path, v=v)
        return t.replace(tzinfo=zone).astimezone(timezone.utc) if t.tzinfo is None else t
    raise FilterSyntaxError("errors.filters.time_needs_iso_8601", pos, path)


def _storable(text: Any, pos: int | None, path: str | None) -> None:
    """No NUL or lone surrogate (a JSON escape such as "\\ud800" makes one): PostgreSQL's driver
    cannot send them, SQLite can, so both refuse them here alike."""
    if isinstance(text, str) and ("\x00" in text or not _encodable(text)):
        raise FilterSyntaxError("errors.filters.text_may_contain_nul", pos, path)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse(text: str, zone: tzinfo = timezone.utc) -> Node | None:
    """The filter's tree. Times written without an offset ("2026-03-01 09:00", "2026-03-01") are
    read in `zone` (the UI passes its page's zone; the API keeps UTC); an offset or Z is kept."""
    if text is None or not text.strip():
        return None
    if len(text) > MAX_TEXT:
        raise FilterSyntaxError("errors.filters.filter_longer_than_characters", MAX_TEXT, max_text=MAX_TEXT)
    p = _Parser(text, zone)
    node = p.expr(0)
    kind, rest, pos = p.peek()
    if kind != "end":
        raise FilterSyntaxError("errors.filters.unexpected_join_conditions", pos, rest=rest)
    return node


def _quote(v: Any) -> str:
    if isinstance(v, tuple):
        return "[" + ", ".join(_quote(x) for x in v) + "]"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, datetime):
        return json.dumps(v.isoformat())
    return str(v)


def to_text(node: Node | None) -> str:
    if node is None:
        return ""
    if isinstance(node, Cond):
        name = node.field if node.key is None else f"{node.field}.{json.dumps(node.key, ensure_ascii=False)}"
        if node.op in ("exists", "missing"):
            return f"{name} {node.op}"
        op = {"in": "in", "not_in": "not in"}.get(node.op, node.op)
        return f"{name} {op} {_quote(node.value)}"
    if isinstance(node, Not):
        return f"NOT ({to_text(node.item)})"
    joiner = " AND " if isinstance(node, And) else " OR "
    return joiner.join(f"({to_text(i)})" for i in node.items)


def to_json(node: Node | None) -> dict | None:
    if node is None:
        return None
    if isinstance(node, Cond):
        v = node.value
        v = list(v) if isinstance(v, tuple) else (str(v) if isinstance(v, Relative) else
                                                 v.isoformat() if isinstance(v, datetime) else v)
        return {"field": node.field, "key": node.key, "op": node.op, "value": v}
    if isinstance(node, Not):
        return {"not": to_json(node.item)}
    return {"and" if isinstance(node, And) else "or": [to_json(i) for i in node.items]}


def from_json(obj: Any, path: str = "filter", depth: int = 0) -> Node | None:
    if obj is None:
        return None
    if depth > MAX_DEPTH or not isinstance(obj, dict):
        raise FilterSyntaxError("errors.filters.expected_object_field", None, path)
    for k, cls in (("and", And), ("or", Or)):
        if k in obj:
            items = obj[k]
            if not isinstance(items, list) or not items:
                raise FilterSyntaxError("errors.filters.needs_non_empty_list", None, path, k=k)
            return cls(tuple(from_json(x, f"{path}.{k}[{i}]", depth + 1) for i, x in enumerate(items)))
    if "not" in obj:
        return Not(from_json(obj["not"], f"{path}.not", depth + 1))
    field, key = obj.get("field"), obj.get("key")
    if not isinstance(field, str):
        raise FilterSyntaxError("errors.filters.condition_needs_field", None, path)
    if key is None:
        field, key = _field(field, None, path)
    elif field not in KEYED or not isinstance(key, str) or not key:
        raise FilterSyntaxError("errors.filters.unknown_field_with_key", None, path, field=field, key=key, field_list=FIELD_LIST)
    op, value = obj.get("op"), obj.get("value")
    if isinstance(value, list):
        value = tuple(value)
    if isinstance(value, str) and FIELDS[field]["type"] == "time" and re.fullmatch(r"-\d+[mhd]", value):
        value = Relative(int(value[1:-1]), value[-1])
    return check(Cond(field, key, op, value), None, path)


def conditions(node: Node | None) -> Iterator[Cond]:
    if isinstance(node, Cond):
        yield node
    elif isinstance(node, Not):
        yield from conditions(node.item)
    elif node is not None:
        for i in node.items:
            yield from conditions(i)


def resolve_time(value: Any, now: datetime) -> datetime:
    if isinstance(value, Relative):
        return now - timedelta(**{{"m": "minutes", "h": "hours", "d": "days"}[value.unit]: value.amount})
    return value
