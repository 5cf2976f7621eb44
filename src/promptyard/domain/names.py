"""Rules for the names users give things (prompts, folders, labels, tags)."""

from __future__ import annotations

import re
import unicodedata

from promptyard.catalogue import Text
from promptyard.errors import InvalidInput

LABEL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")  # whole names only: fullmatch (a "$" lets "v1\n" through)
RESERVED_LABELS = frozenset({"latest"})  # computed: always the newest version


# The same rules as JSON-Schema patterns, for the API's OpenAPI document (tests/test_name_patterns.py
# checks that each pattern accepts exactly what its function below accepts). Written in the
# subset of regex syntax that ECMA-262 and Python share.
_WS = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"  # str.strip()'s
# Characters a reader cannot see or that reorder what they see (Unicode 14 categories Cf, Zl, Zp):
# zero-width space/joiners, BOM, soft hyphen, the bidi embeddings/overrides U+202A-202E, isolates
# U+2066-2069, marks U+200E/U+200F/U+061C, line/paragraph separators. A name holding one can look
# exactly like another name (or hide a '../'). tests/test_names_paths.py checks this list against
# unicodedata.
INVISIBLE_RANGES = ((0xAD, 0xAD), (0x600, 0x605), (0x61C, 0x61C), (0x6DD, 0x6DD), (0x70F, 0x70F),
                    (0x890, 0x891), (0x8E2, 0x8E2), (0x180E, 0x180E), (0x200B, 0x200F), (0x2028, 0x202E),
                    (0x2060, 0x2064), (0x2066, 0x206F), (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB), (0x110BD, 0x110BD),
                    (0x110CD, 0x110CD), (0x13430, 0x13438), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
                    (0xE0001, 0xE0001), (0xE0020, 0xE007F))
_INVISIBLE = frozenset(cp for lo, hi in INVISIBLE_RANGES for cp in range(lo, hi + 1))


def _class_range(lo: int, hi: int) -> str:
    # BMP as \uXXXX escapes; astral code points as themselves (ECMA-262 reads \u only up to FFFF).
    one = (lambda cp: f"\\u{cp:04x}") if hi <= 0xFFFF else chr
    return one(lo) if lo == hi else f"{one(lo)}-{one(hi)}"


# Category Cc and the invisible ones (Cs, lone surrogates, never reach a name: JSON with them is refused).
_CC = r"\x00-\x1f\x7f-\x9f"
_CTRL = _CC + "".join(_class_range(lo, hi) for lo, hi in INVISIBLE_RANGES)
# First/last character of a name, and any other: no '/' (it separates) nor a backslash in either.
_EDGE, _INNER = f"[^/\\\\{_WS}{_CTRL}]", f"[^/\\\\{_CTRL}]"
# Names with single '/' between non-empty parts, no spaces at either end, no '.' or '..' part.
_NOT_DOTS = r"(?!\.\.?(?:/|$))"
PROMPT_NAME_PATTERN = f"^{_NOT_DOTS}{_EDGE}(?:(?:{_INNER}|/{_NOT_DOTS}{_INNER})*(?:/{_NOT_DOTS})?{_EDGE})?$"
_FOLDER = f"(?!\\.\\.?(?:/|[{_WS}]|$)){_EDGE}(?:{_INNER}{{0,98}}{_EDGE})?"
FOLDER_NAME_PATTERN = f"^{_FOLDER}$"
# '' (or only spaces and slashes) is the top level; spaces and slashes around the path are ignored.
FOLDER_PATH_PATTERN = f"^[{_WS}]*/*(?:{_FOLDER}(?:/{_FOLDER})*)?/*[{_WS}]*$"
FOLDER_PATH_REQUIRED_PATTERN = f"^[{_WS}]*/*{_FOLDER}(?:/{_FOLDER})*/*[{_WS}]*$"
LABEL_PATTERN = "^(?!latest$)[A-Za-z0-9][A-Za-z0-9_.\\-]{0,63}$"
# Text that must say something: at least one character that is not a space (and no NUL, which no
# text may hold: web/middleware.py).
SOME_TEXT_PATTERN = f"^[^\\x00]*[^{_WS}\\x00][^\\x00]*$"
TAG_PATTERN = f"^[{_WS}]*[^{_WS}{_CC}](?:[^{_CC}]*[^{_WS}{_CC}])?[{_WS}]*$"  # tags: no controls


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text)


def _unseen_char(text: str) -> Text | None:
    """A description of the first control, invisible or bidi character in `text`, or None."""
    for ch in text:
        control = unicodedata.category(ch) in ("Cc", "Cs")
        if control or ord(ch) in _INVISIBLE:
            return Text("errors.names.control_char" if control else "errors.names.invisible_char",
                        code=f"U+{ord(ch):04X} ({unicodedata.name(ch, 'unnamed')})")
    return None


def _path_rules(name: str, what: Text) -> None:
    """What makes a name unsafe as a file path (`prompts pull` writes <name>.yaml)."""
    problem = _unseen_char(name)
    if problem:
        raise InvalidInput("errors.names.may_not_contain_char", what=what, problem=problem)
    if "\\" in name:
        raise InvalidInput("errors.names.may_not_contain_backslash", what=what)
    bad = next((seg for seg in name.split("/") if seg in (".", "..")), None)
    if bad is not None:
        raise InvalidInput("errors.names.may_not_contain_dot_segment", what=what, bad=bad)


def prompt_name(name: object) -> str:
    """Prompt names may contain '/', spaces and any script (e.g. '服薬指導/返信案'), but nothing that
    could escape a directory or hide from a reader (see _path_rules)."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("errors.names.prompt_name_non_empty")
    if len(name) > 200:
        raise InvalidInput("errors.names.prompt_name_characters_long", n=len(name))
    if name.startswith("/") or name.endswith("/") or "//" in name:
        raise InvalidInput("errors.names.prompt_name_slashes")
    _path_rules(name, Text("errors.names.what_prompt_name"))
    if name != name.strip():
        raise InvalidInput("errors.names.prompt_name_spaces")
    return unicodedata.normalize("NFC", name)


def lookup_name(name: object) -> str:
    """A prompt name to look up: only normalised, not judged, so that a prompt stored before a
    rule existed stays reachable (and can be renamed); a name that cannot exist is simply not found."""
    if not isinstance(name, str):
        raise InvalidInput("errors.names.prompt_name_string")
    return unicodedata.normalize("NFC", name)


def folder_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("errors.names.folder_name_non_empty")
    if "/" in name:
        raise InvalidInput("errors.names.folder_name_may_contain", name=name)
    _path_rules(name, Text("errors.names.what_folder_name"))
    if len(name) > 100 or name != name.strip():
        raise InvalidInput("errors.names.invalid_folder_name_1", name=name)
    return unicodedata.normalize("NFC", name)


def folder_path(path: object) -> list[str]:
    """'experimental/pharmacy' -> ['experimental', 'pharmacy'] (a trailing '/' is allowed)."""
    if not isinstance(path, str):
        raise InvalidInput("errors.names.folder_path_string_such")
    parts = [p for p in path.strip().strip("/").split("/")]
    if parts == [""]:
        return []
    return [folder_name(p) for p in parts]


def label_name(name: object) -> str:
    if not isinstance(name, str) or not LABEL_RE.fullmatch(name):
        raise InvalidInput("errors.names.invalid_label_name_1", name=name)
    if name in RESERVED_LABELS:
        raise InvalidInput("errors.names.reserved_always_means_newest", name=name)
    return name


def tags(values: object, *, what: Text = Text("errors.names.what_tags")) -> list[str]:
    if values is None:
        return []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise InvalidInput("errors.names.list_strings", what=what)
    out: list[str] = []
    for v in values:
        v = v.strip()
        if not v or len(v) > 200 or _has_control(v):
            raise InvalidInput("errors.names.invalid_tag_1_200", v=v, what=what)
        if v not in out:
            out.append(v)
    return out
