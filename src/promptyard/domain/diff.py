"""Side-by-side diff of two prompt versions (template text, model and parameters)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DiffRow:
    op: str  # equal | replace | delete | insert
    left_no: int | None
    left: str | None
    right_no: int | None
    right: str | None


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: Any
    after: Any


def text_rows(left: str, right: str) -> list[DiffRow]:
    a, b = left.splitlines(), right.splitlines()
    rows: list[DiffRow] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        width = max(i2 - i1, j2 - j1)
        for k in range(width):
            li, rj = i1 + k, j1 + k
            has_l, has_r = li < i2, rj < j2
            rows.append(DiffRow(op if (has_l and has_r) or op == "equal" else ("delete" if has_l else "insert"),
                                li + 1 if has_l else None, a[li] if has_l else None,
                                rj + 1 if has_r else None, b[rj] if has_r else None))
    return rows


def unified(left: str, right: str, left_name: str, right_name: str) -> str:
    return "".join(difflib.unified_diff(left.splitlines(True), right.splitlines(True), left_name, right_name))


def field_changes(before: dict[str, Any], after: dict[str, Any]) -> list[FieldChange]:
    """Changes between two flat dicts (model, provider, format, each parameter)."""
    keys = list(dict.fromkeys([*before, *after]))
    return [FieldChange(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]
