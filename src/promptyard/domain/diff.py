"""Diffs of two prompt versions: side-by-side rows with the changed characters inside changed
lines, a unified diff (git's rules for a last line without a line ending), and the model and
parameter changes."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

NO_EOL = "\\ No newline at end of file\n"
CONTEXT = 3
# Below this share of common characters two lines are different lines, not one edited line:
# marking scattered common letters would only be noise.
MIN_COMMON = 0.5

Marks = tuple[tuple[int, int], ...]  # [start, end) character ranges that changed


@dataclass(frozen=True)
class DiffRow:
    op: str  # equal | replace | delete | insert
    left_no: int | None
    left: str | None
    right_no: int | None
    right: str | None
    left_marks: Marks = ()
    right_marks: Marks = ()


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: Any
    after: Any


def text_rows(left: str, right: str) -> list[DiffRow]:
    a, b = left.splitlines(), right.splitlines()
    rows: list[DiffRow] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        for k in range(max(i2 - i1, j2 - j1)):
            li, rj = i1 + k, j1 + k
            has_l, has_r = li < i2, rj < j2
            if has_l and has_r and op == "replace":
                rows.append(DiffRow(op, li + 1, a[li], rj + 1, b[rj], *char_marks(a[li], b[rj])))
            else:
                rows.append(DiffRow(op if op == "equal" else ("delete" if has_l else "insert"),
                                    li + 1 if has_l else None, a[li] if has_l else None,
                                    rj + 1 if has_r else None, b[rj] if has_r else None))
    return rows


def char_marks(left: str, right: str) -> tuple[Marks, Marks]:
    """The characters of each line that the other lacks (a whole line when the two share little)."""
    sm = difflib.SequenceMatcher(None, left, right, autojunk=False)
    common = sum(size for _, _, size in sm.get_matching_blocks())
    if common < MIN_COMMON * min(len(left), len(right)) or not common:
        return _whole(left), _whole(right)
    ops = [o for o in sm.get_opcodes() if o[0] != "equal"]
    return (tuple((i1, i2) for _, i1, i2, _, _ in ops if i2 > i1),
            tuple((j1, j2) for _, _, _, j1, j2 in ops if j2 > j1))


def _whole(text: str) -> Marks:
    return ((0, len(text)),) if text else ()


def segments(text: str | None, marks: Marks) -> list[tuple[str, bool]]:
    """`text` cut into (piece, changed) pieces along `marks`, for the page to highlight."""
    out: list[tuple[str, bool]] = []
    at = 0
    for start, end in marks:
        if start > at:
            out.append((text[at:start], False))
        out.append((text[start:end], True))
        at = end
    if text and at < len(text):
        out.append((text[at:], False))
    return out


def unified(left: str, right: str, left_name: str, right_name: str) -> str:
    """A unified diff of the lines. Line endings are normalised: a last line without an ending is
    the same line as with one, so text added after it does not show it removed and re-added (as a
    template's last message always lacks one). Only when one side ends with a line ending and the
    other does not is that a change, written as git does: the line removed and re-added, NO_EOL
    after the side without it."""
    a, a_eol = _lines(left)
    b, b_eol = _lines(right)
    ka, kb = list(a), list(b)
    if a_eol != b_eol:
        (ka if not a_eol else kb)[-1] += "\n"
    mark_a, mark_b = a_eol == b_eol or a_eol, a_eol == b_eol or b_eol
    out: list[str] = []
    for group in difflib.SequenceMatcher(None, ka, kb, autojunk=False).get_grouped_opcodes(CONTEXT):
        first, last = group[0], group[-1]
        out.append(f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@\n")
        for op, i1, i2, j1, j2 in group:
            if op == "equal":
                out += _emit(" ", a, range(i1, i2), True)
                continue
            out += _emit("-", a, range(i1, i2), mark_a)
            out += _emit("+", b, range(j1, j2), mark_b)
    return f"--- {left_name}\n+++ {right_name}\n" + "".join(out) if out else ""


def _lines(text: str) -> tuple[list[str], bool]:
    """The lines without their endings, and whether the last one had an ending."""
    lines = text.splitlines()
    return lines, not lines or text.splitlines(True)[-1] != lines[-1]


def _emit(sign: str, lines: list[str], indexes: range, ends_with_eol: bool) -> list[str]:
    out = [f"{sign}{lines[i]}\n" for i in indexes]
    if out and not ends_with_eol and indexes[-1] == len(lines) - 1:
        out.append(NO_EOL)
    return out


def _range(start: int, stop: int) -> str:
    """difflib's (and GNU diff's) hunk range: 1-based start, length omitted when 1."""
    length = stop - start
    if length == 1:
        return f"{start + 1}"
    return f"{start + 1 if length else start},{length}"


def field_changes(before: dict[str, Any], after: dict[str, Any]) -> list[FieldChange]:
    """Changes between two flat dicts (model, provider, format, each parameter)."""
    keys = list(dict.fromkeys([*before, *after]))
    return [FieldChange(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]
