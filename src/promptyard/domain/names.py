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


# Characters a reader cannot see or that reorder what they see: format characters (category Cf:
# zero-width space/joiners, BOM, soft hyphen, the bidi embeddings/overrides U+202A-202E, isolates
# U+2066-2069, marks U+200E/U+200F/U+061C), line/paragraph separators, and unassigned or private
# code points. A name holding one can look exactly like another name (or hide a '../').
_UNSEEN = frozenset({"Cc", "Cs", "Cf", "Co", "Cn", "Zl", "Zp"})


def _unseen_char(text: str) -> str | None:
    """A description of the first control, invisible or bidi character in `text`, or None."""
    for ch in text:
        if unicodedata.category(ch) in _UNSEEN:
            kind = "control" if unicodedata.category(ch) in ("Cc", "Cs") else "invisible or bidi-control"
            return f"{kind} character U+{ord(ch):04X} ({unicodedata.name(ch, 'unnamed')})"
    return None


def _path_rules(name: str, what: str) -> None:
    """What makes a name unsafe as a file path (`prompts pull` writes <name>.yaml)."""
    problem = _unseen_char(name)
    if problem:
        raise InvalidInput(f"{what} may not contain the {problem}")
    if "\\" in name:
        raise InvalidInput(f"{what} may not contain '\\' (use '/' between folders)")
    bad = next((seg for seg in name.split("/") if seg in (".", "..")), None)
    if bad is not None:
        raise InvalidInput(f"{what} may not contain '{bad}' as a path segment")


def prompt_name(name: object) -> str:
    """Prompt names may contain '/', spaces and any script (e.g. '服薬指導/返信案'), but nothing that
    could escape a directory or hide from a reader (see _path_rules)."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("prompt name must be a non-empty string")
    if len(name) > 200:
        raise InvalidInput(f"prompt name is {len(name)} characters long; the limit is 200")
    if name.startswith("/") or name.endswith("/") or "//" in name:
        raise InvalidInput("prompt name may not start or end with '/' or contain '//'")
    _path_rules(name, "prompt name")
    if name != name.strip():
        raise InvalidInput("prompt name may not start or end with spaces")
    return unicodedata.normalize("NFC", name)


def lookup_name(name: object) -> str:
    """A prompt name to look up: only normalised, not judged, so that a prompt stored before a
    rule existed stays reachable (and can be renamed); a name that cannot exist is simply not found."""
    if not isinstance(name, str):
        raise InvalidInput("prompt name must be a string")
    return unicodedata.normalize("NFC", name)


def folder_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("folder name must be a non-empty string")
    if "/" in name:
        raise InvalidInput(f"folder name {name!r} may not contain '/'")
    _path_rules(name, "folder name")
    if len(name) > 100 or name != name.strip():
        raise InvalidInput(f"invalid folder name {name!r}: 1-100 characters, no leading or trailing spaces")
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
