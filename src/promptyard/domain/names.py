"""Rules for the names users give things (prompts, folders, labels, tags)."""

from __future__ import annotations

import re
import unicodedata

from promptyard.errors import InvalidInput

LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
RESERVED_LABELS = frozenset({"latest"})  # computed: always the newest version


# The same rules as JSON-Schema patterns, for the API's OpenAPI document (tests/test_name_patterns.py
# checks that each pattern accepts exactly what its function below accepts). Written in the
# subset of regex syntax that ECMA-262 and Python share.
_WS = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"  # str.strip()'s
_CTRL = r"\x00-\x1f\x7f-\x9f"  # category Cc (Cs, lone surrogates, never reach a name: JSON with them is refused)
_EDGE, _INNER = f"[^/{_WS}{_CTRL}]", f"[^/{_CTRL}]"  # first/last character; any other (no '/' in both)
# Names with single '/' between non-empty parts, no spaces at either end.
PROMPT_NAME_PATTERN = f"^{_EDGE}(?:(?:{_INNER}|/{_INNER})*/?{_EDGE})?$"
_FOLDER = f"(?!\\.\\.?(?:/|[{_WS}]|$)){_EDGE}(?:{_INNER}{{0,98}}{_EDGE})?"
FOLDER_NAME_PATTERN = f"^{_FOLDER}$"
# '' (or only spaces and slashes) is the top level; spaces and slashes around the path are ignored.
FOLDER_PATH_PATTERN = f"^[{_WS}]*/*(?:{_FOLDER}(?:/{_FOLDER})*)?/*[{_WS}]*$"
FOLDER_PATH_REQUIRED_PATTERN = f"^[{_WS}]*/*{_FOLDER}(?:/{_FOLDER})*/*[{_WS}]*$"
LABEL_PATTERN = "^(?!latest$)[A-Za-z0-9][A-Za-z0-9_.\\-]{0,63}$"
# Text that must say something: at least one character that is not a space (and no NUL, which no
# text may hold: web/middleware.py).
SOME_TEXT_PATTERN = f"^[^\\x00]*[^{_WS}\\x00][^\\x00]*$"
TAG_PATTERN = f"^[{_WS}]*[^{_WS}{_CTRL}](?:[^{_CTRL}]*[^{_WS}{_CTRL}])?[{_WS}]*$"


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text)


def prompt_name(name: object) -> str:
    """Prompt names may contain '/', spaces and any script (e.g. '服薬指導/返信案')."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("prompt name must be a non-empty string")
    if len(name) > 200:
        raise InvalidInput(f"prompt name is {len(name)} characters long; the limit is 200")
    if name != name.strip() or _has_control(name):
        raise InvalidInput("prompt name may not start or end with spaces or contain control characters")
    if name.startswith("/") or name.endswith("/") or "//" in name:
        raise InvalidInput("prompt name may not start or end with '/' or contain '//'")
    return unicodedata.normalize("NFC", name)


def folder_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("folder name must be a non-empty string")
    if len(name) > 100 or "/" in name or name != name.strip() or _has_control(name) or name in (".", ".."):
        raise InvalidInput(f"invalid folder name {name!r}: 1-100 characters, no '/', no control characters, "
                           "no leading or trailing spaces")
    return unicodedata.normalize("NFC", name)


def folder_path(path: object) -> list[str]:
    """'experimental/pharmacy' -> ['experimental', 'pharmacy'] (a trailing '/' is allowed)."""
    if not isinstance(path, str):
        raise InvalidInput("folder must be a path string such as 'production/pharmacy'")
    parts = [p for p in path.strip().strip("/").split("/")]
    if parts == [""]:
        return []
    return [folder_name(p) for p in parts]


def label_name(name: object) -> str:
    if not isinstance(name, str) or not LABEL_RE.match(name):
        raise InvalidInput(f"invalid label name {name!r}: 1-64 characters of letters, digits, '_', '-', '.', "
                           "starting with a letter or digit")
    if name in RESERVED_LABELS:
        raise InvalidInput(f"'{name}' is reserved: it always means the newest version")
    return name


def tags(values: object, *, what: str = "tags") -> list[str]:
    if values is None:
        return []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise InvalidInput(f"{what} must be a list of strings")
    out: list[str] = []
    for v in values:
        v = v.strip()
        if not v or len(v) > 200 or _has_control(v):
            raise InvalidInput(f"invalid tag {v!r} in {what}: 1-200 characters, no control characters")
        if v not in out:
            out.append(v)
    return out
