"""The request list's columns: which exist, the default, and the user's choice (pure).

The time (the link to the request) is always shown. The others are fixed columns (BUILT_IN) and
one per score name (`score:<name>`) and per metadata key (`meta:<key>`). The default fits a
1360 px window without a horizontal scroll bar (tests/test_ui_reading_browser.py): the question
and answer take the room left, and only the first DEFAULT_SCORES score names and DEFAULT_METADATA
metadata keys of the page get a column. A choice is remembered in a cookie per user
(`cookie_name`), written by the chooser's form (request_pages.columns): base64url JSON, checked on
every read, so a crafted cookie gives the default, never an error.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

BUILT_IN = ("prompt", "model", "question", "answer", "latency", "cost", "tokens", "tags")
DEFAULT = ("prompt", "model", "question", "answer", "latency", "cost", "tags")
DEFAULT_SCORES, DEFAULT_METADATA = 2, 1
MAX_CHOSEN, MAX_NAME = 40, 200  # a cookie stays far below browsers' 4 kB
SCORE, META = "score:", "meta:"


def cookie_name(user_id: int) -> str:
    return f"py_cols_{user_id}"


def encode(chosen: list[str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(_clean(chosen), ensure_ascii=False).encode()).decode()


def chosen(cookie: str | None) -> list[str] | None:
    """The user's columns from their cookie; None (the default) when there is none or it is not ours."""
    if not cookie:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cookie.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        return None
    return _clean(value) if isinstance(value, list) else None


def _clean(values: Any) -> list[str]:
    out: list[str] = []
    for v in values if isinstance(values, list) else []:
        if isinstance(v, str) and v not in out and (v in BUILT_IN or (
                v.startswith((SCORE, META)) and 0 < len(v.partition(":")[2]) <= MAX_NAME)):
            out.append(v)
    return out[:MAX_CHOSEN]


def shown(choice: list[str] | None, items: list[dict]) -> dict[str, list[str]]:
    """{built_in, scores, metadata}: the columns of this page, in a fixed order (so rows line up)."""
    if choice is None:
        return {"built_in": list(DEFAULT),
                "scores": sorted({n for i in items for n in i["scores"]})[:DEFAULT_SCORES],
                "metadata": sorted({k for i in items for k in i["metadata"]})[:DEFAULT_METADATA]}
    return {"built_in": [c for c in BUILT_IN if c in choice],
            "scores": [c.removeprefix(SCORE) for c in choice if c.startswith(SCORE)],
            "metadata": [c.removeprefix(META) for c in choice if c.startswith(META)]}


def choices(names: dict[str, list[str]], items: list[dict]) -> dict[str, list[str]]:
    """What the chooser offers: the built-in columns, and the workspace's score names and metadata
    keys (request_reads.suggestions) with those on this page."""
    return {"built_in": list(BUILT_IN),
            "scores": sorted(set(names.get("score_names", [])) | {n for i in items for n in i["scores"]}),
            "metadata": sorted(set(names.get("metadata_keys", [])) | {k for i in items for k in i["metadata"]})}


def is_list_path(path: str) -> bool:
    """Whether `path` is the list (with its query) to go back to: same site, never elsewhere."""
    return (path == "/ui/requests" or path.startswith("/ui/requests?")) and "\\" not in path
