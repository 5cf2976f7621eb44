"""What a dataset item is, without a database: its input (prompt variables {name: value}, or a full
list of chat messages), optional expected output (text), metadata (text values), and the rules an
item from the API or an uploaded file must meet. Also a dataset's name.

A bad row of an uploaded file is a `RowProblem`: the item's own problem with the line and column
where it is, worded in the reader's language (both the frame and the problem come from the
catalogue)."""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from promptyard import catalogue
from promptyard.domain import names
from promptyard.errors import InvalidInput

MAX_NAME = 200
MAX_TEXT = 200_000  # characters of one item's input (as JSON) or expected output
MAX_METADATA_KEYS = 50
MAX_KEY, MAX_VALUE = 200, 1000  # like a request's metadata


@dataclass
class Item:
    input: Any
    expected: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    source_request_id: int | None = None


def dataset_name(name: object) -> str:
    """Any script (e.g. '服薬指導の回帰セット'), 1-200 characters, none a reader cannot see, no '/'
    (names stay one path segment of a URL or a file name)."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("errors.datasets.name_empty", field="name")
    if len(name) > MAX_NAME:
        raise InvalidInput("errors.datasets.name_long", field="name", n=len(name), limit=MAX_NAME)
    if "/" in name or "\\" in name or name != name.strip() or names._unseen_char(name):
        raise InvalidInput("errors.datasets.name_chars", field="name")
    return unicodedata.normalize("NFC", name)


def item(raw: object) -> Item:
    """An item as the API takes it: {"input": {...} | [messages], "expected"?: text, "metadata"?: {...}}."""
    if not isinstance(raw, dict):
        raise InvalidInput("errors.datasets.item_not_object", field="item")
    unknown = sorted(set(raw) - {"input", "expected", "metadata"})
    if unknown:
        raise InvalidInput("errors.datasets.item_unknown_field", field=unknown[0])
    return Item(item_input(raw.get("input")), expected(raw.get("expected")), metadata(raw.get("metadata")))


def item_input(value: object) -> dict[str, Any] | list[dict[str, Any]]:
    if isinstance(value, dict):
        if not all(isinstance(k, str) and k for k in value):
            raise InvalidInput("errors.datasets.input_type", field="input")
    elif isinstance(value, list):
        if not value or not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in value):
            raise InvalidInput("errors.datasets.messages_shape", field="input")
    else:
        raise InvalidInput("errors.datasets.input_type", field="input")
    size = len(json.dumps(value, ensure_ascii=False))
    if size > MAX_TEXT:
        raise InvalidInput("errors.datasets.too_long", field="input", n=size, limit=MAX_TEXT)
    return value


def expected(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput("errors.datasets.expected_type", field="expected")
    if len(value) > MAX_TEXT:
        raise InvalidInput("errors.datasets.too_long", field="expected", n=len(value), limit=MAX_TEXT)
    return value


def metadata(value: object) -> dict[str, str]:
    """Text values (numbers and booleans become their text, as request metadata does)."""
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_METADATA_KEYS:
        raise InvalidInput("errors.datasets.metadata_type", field="metadata", limit=MAX_METADATA_KEYS)
    out: dict[str, str] = {}
    for k, v in value.items():
        if isinstance(v, bool):
            v = "true" if v else "false"
        elif isinstance(v, (int, float)):
            v = str(v)
        if not isinstance(k, str) or not k or len(k) > MAX_KEY or not isinstance(v, str) or len(v) > MAX_VALUE:
            raise InvalidInput("errors.datasets.metadata_entry", field=f"metadata.{k}", key_limit=MAX_KEY,
                               value_limit=MAX_VALUE)
        out[k] = v
    return out


class Located(InvalidInput):
    """An item's problem with where it is: `at` names the frame ("errors.datasets.at_row": a line and
    column of an upload, 1-based, the column being the CSV column number or the character of a JSONL
    line; "errors.datasets.at_item": an item of an API call, from 0). Both the frame and the problem
    are worded in the reader's language; `details` carries the place and the field for programs."""

    def __init__(self, problem: InvalidInput, at: str, **where: int):
        self.problem, self.at, self.where = problem, at, where
        super().__init__(at, problem=problem.message, **where,
                         details=where | {"field": problem.params.get("field")})

    def text(self, lang: str) -> str:
        return catalogue.translate(lang, self.at, problem=self.problem.text(lang), **self.where)
