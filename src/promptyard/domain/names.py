"""Rules for the names users give things (prompts, folders, labels, tags)."""

from __future__ import annotations

import re
import unicodedata

from promptyard.errors import InvalidInput

LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
RESERVED_LABELS = frozenset({"latest"})  # computed: always the newest version


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
