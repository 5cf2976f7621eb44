"""Diffs of two versions: the API's unified diff (exact text, git's rules for a missing last line
ending) and the changed characters inside changed lines."""

from __future__ import annotations

import pytest

from promptyard.domain import diff
from tests.support import publish, unique

pytestmark = pytest.mark.one_database


def _unified(api, before: list[str], after: list[str]) -> str:  # noqa: ANN001
    """The API's unified diff of v1 -> v2 where each version's messages are the given system texts."""
    name = unique("diff")
    ids = []
    for texts in (before, after):
        body = publish(api, name, texts[0], commit="c", messages=[{"role": "system", "content": t} for t in texts])
        ids.append(body["prompt_id"])
    return api.get(f"/api/v1/prompts/{ids[0]}/diff", params={"from": 1, "to": 2}).json()["unified"]


CASES = {
    "a message added after the last line": (
        ["Answer {q}"], ["Answer {q}", "thanks"],
        "--- v1\n+++ v2\n@@ -1,2 +1,5 @@\n [system]\n Answer {q}\n+\n+[system]\n+thanks\n"),
    "the last line changed": (
        ["a\nb"], ["a\nc"],
        "--- v1\n+++ v2\n@@ -1,3 +1,3 @@\n [system]\n a\n-b\n+c\n"),
    "a line ending added at the end": (
        ["a\nb"], ["a\nb\n"],
        "--- v1\n+++ v2\n@@ -1,3 +1,3 @@\n [system]\n a\n-b\n\\ No newline at end of file\n+b\n"),
    "the line ending at the end removed with the line before it": (
        ["a\nb\n"], ["a"],
        "--- v1\n+++ v2\n@@ -1,3 +1,2 @@\n [system]\n-a\n-b\n+a\n\\ No newline at end of file\n"),
    "the last message removed": (
        ["x", "y"], ["x"],
        "--- v1\n+++ v2\n@@ -1,5 +1,2 @@\n [system]\n x\n-\n-[system]\n-y\n"),
}


@pytest.mark.parametrize("case", CASES)
def test_the_unified_diff_is_exact(api, case):  # noqa: ANN001
    before, after, expected = CASES[case]
    assert _unified(api, before, after) == expected


def test_a_two_character_change_in_a_long_japanese_line_is_marked(api):  # noqa: ANN001
    line = "服薬指導では、患者さんの年齢と体重を確認してから用量を説明し、副作用について"
    changed = line.replace("年齢", "症状")
    name = unique("diff")
    pid = publish(api, name, line, commit="c")["prompt_id"]
    publish(api, name, changed, commit="c")
    rows = api.get(f"/api/v1/prompts/{pid}/diff", params={"from": 1, "to": 2}).json()["rows"]
    row = next(r for r in rows if r["op"] == "replace")
    start = line.index("年齢")
    assert row["left_marks"] == [[start, start + 2]] and row["right_marks"] == [[start, start + 2]]
    assert diff.segments(row["right"], [(start, start + 2)])[1] == ("症状", True)


def test_lines_that_share_little_are_marked_whole_and_unchanged_lines_not_at_all():
    assert diff.unified("same\n", "same\n", "v1", "v2") == "" == diff.unified("x", "x", "v1", "v2")
    assert diff.char_marks("hello world", "XYZ") == (((0, 11),), ((0, 3),))
    assert diff.char_marks("", "new") == ((), ((0, 3),))
    rows = diff.text_rows("same\nold", "same\nnew line")
    assert rows[0] == diff.DiffRow("equal", 1, "same", 1, "same")
    assert diff.segments("abcdef", ((1, 2), (4, 6))) == [("a", False), ("b", True), ("cd", False), ("ef", True)]
