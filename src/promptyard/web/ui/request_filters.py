"""The request list's filter box and its helpers (pure).

The box holds the one truth: helper fields (metadata key/value, score name/op/value, tag, status,
model, time range) only ever turn into filter text that is appended to the box, so what the user
sees is exactly what runs, and a link or bookmark carries the whole filter.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from promptyard.domain import numbers, query

HELPER_FIELDS = ("h_meta_key", "h_meta_value", "h_score_name", "h_score_op", "h_score_value", "h_tag",
                 "h_status", "h_model", "h_since", "h_from", "h_to")
SCORE_OPS = ("<", "<=", "=", ">=", ">", "exists", "missing")
SINCE = ("-1h", "-24h", "-7d", "-30d")
_BARE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*\Z")


@dataclass(frozen=True)
class FilterError:
    """A parse error placed in the text: before / at / after the position, for the page to mark."""

    message: str
    position: int | None
    before: str
    at: str
    after: str


def _quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _field(field: str, key: str | None) -> str:
    if key is None:
        return field
    return f"{field}.{key}" if _BARE_KEY.match(key) else f"{field}.{_quote(key)}"


def _number(text: str) -> str:
    """A number as typed, refusing anything else (it would be a parse error further away)."""
    value = numbers.ascii_decimal(text)
    if value is None:
        raise query.FilterSyntaxError("errors.filters.text_number", text=text)
    return text if re.fullmatch(r"-?\d+(\.\d+)?", text) else repr(value)


def _local_time(text: str, zone: str) -> str:
    """A datetime-local input (the user's time zone) as an ISO-8601 time with its offset."""
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise query.FilterSyntaxError("errors.filters.date_time", text=text) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=ZoneInfo(zone))
    return _quote(t.isoformat())


def helper_conditions(form: Mapping[str, Any], zone: str) -> list[str]:
    """Filter conditions (text) from the helper fields that were filled in."""
    get = lambda name: (form.get(name) or "").strip()  # noqa: E731
    out = []
    if get("h_meta_key"):
        out.append(f"{_field('metadata', get('h_meta_key'))} = {_quote(get('h_meta_value'))}")
    if get("h_score_name"):
        op = get("h_score_op") if get("h_score_op") in SCORE_OPS else ">="
        name = _field("score", get("h_score_name"))
        out.append(f"{name} {op}" if op in ("exists", "missing")
                   else f"{name} {op} {_number(get('h_score_value') or '0')}")
    if get("h_tag"):
        out.append(f"tag = {_quote(get('h_tag'))}")
    if get("h_status") in ("ok", "error"):
        out.append(f"status = {get('h_status')}")
    if get("h_model"):
        out.append(f"model = {_quote(get('h_model'))}")
    if get("h_since") in SINCE:
        out.append(f"time >= {get('h_since')}")
    for name, op in (("h_from", ">="), ("h_to", "<")):
        if get(name):
            out.append(f"time {op} {_local_time(get(name), zone)}")
    return out


def combine(text: str, extra: list[str]) -> str:
    """The box's text AND the helper conditions; an OR in the box is kept whole in parentheses."""
    text = (text or "").strip()
    if not extra:
        return text
    if text:
        try:
            node = query.parse(text)
        except query.FilterSyntaxError:
            node = None
        if isinstance(node, query.Or) or node is None:
            text = f"({text})"
    return " AND ".join(([text] if text else []) + extra)


def has_helpers(form: Mapping[str, Any]) -> bool:
    return any((form.get(name) or "").strip() for name in HELPER_FIELDS if name not in ("h_score_op",))


def parse(text: str, zone: str, lang: str = "en") -> tuple[query.Node | None, FilterError | None]:
    """The filter, times without an offset read in `zone` (the page's), or the error placed in
    the text (never raises for bad input)."""
    try:
        return query.parse(text or "", ZoneInfo(zone)), None
    except query.FilterSyntaxError as exc:
        return None, place(text or "", exc, lang)


def place(text: str, exc: query.FilterSyntaxError, lang: str = "en") -> FilterError:
    pos = exc.position
    if pos is None or pos > len(text):
        return FilterError(exc.text(lang), None, text, "", "")
    return FilterError(exc.text(lang), pos, text[:pos], text[pos:pos + 1] or " ", text[pos + 1:])
