"""The OpenAPI states the naming rules as patterns (domain/names.py); each pattern must accept
exactly the names its checking function accepts, or the schema would tell clients wrong."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptyard.domain import names
from promptyard.errors import InvalidInput


def _accepts(check, value: str) -> bool:  # noqa: ANN001
    try:
        check(value)
    except InvalidInput:
        return False
    return True


def _folder_path_required(value: str) -> None:
    if not names.folder_path(value):
        raise InvalidInput("folder path must not be empty")


def _some_text(value: str) -> None:
    if not value.strip() or "\x00" in value:
        raise InvalidInput("blank")


RULES = [
    (names.PROMPT_NAME_PATTERN, names.prompt_name, 200),
    (names.FOLDER_NAME_PATTERN, names.folder_name, None),
    (names.FOLDER_PATH_PATTERN, names.folder_path, None),
    (names.FOLDER_PATH_REQUIRED_PATTERN, _folder_path_required, None),
    (names.LABEL_PATTERN, names.label_name, None),
    (names.TAG_PATTERN, lambda v: names.tags([v]), 200),
    (names.SOME_TEXT_PATTERN, _some_text, None),
]
# Characters where the rules have edges: separators, spaces of several kinds, controls, dots.
TRICKY = st.sampled_from(list("/ ./a_-Z9é服\t\n\x00\x1f\x7f\x85\xa0\u2003\u3000\ufeff") + ["latest"])
TEXT = st.lists(st.one_of(TRICKY, st.characters(exclude_categories=["Cs"])), max_size=12).map("".join)


@pytest.mark.parametrize("pattern, check, max_length", RULES, ids=[r[1].__name__ for r in RULES])
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_pattern_and_check_agree(pattern, check, max_length, data):  # noqa: ANN001
    compiled = re.compile(pattern.replace("$", r"\Z"))  # JSON Schema's '$' is the very end
    value = data.draw(st.one_of(TEXT, st.from_regex(compiled)))
    matches = compiled.search(value) is not None and (max_length is None or len(value) <= max_length)
    assert matches == _accepts(check, value), (value, matches)


def test_edges_hypothesis_found():
    """Cases a random run found once: a trailing newline passed the label rule ('$' matches before
    it), and the prompt-name pattern let '.' and '..' parts through while the rule refused them."""
    assert not _accepts(names.label_name, "v1\n")
    prompt = re.compile(names.PROMPT_NAME_PATTERN.replace("$", r"\Z"))
    for name in (".", "..", "a/..", "./a", "a/./b"):
        assert prompt.search(name) is None and not _accepts(names.prompt_name, name)
    assert prompt.search("a.b/c..d") and _accepts(names.prompt_name, "a.b/c..d")
