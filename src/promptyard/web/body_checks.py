"""Checks on a raw JSON request body, made before anything parses it (web/middleware.py).

Each check is a cheap pass over the bytes (str/bytes methods that run in C) that is nearly
always conclusive; only a suspect body is looked at precisely (strings removed, or decoded and
walked). They keep out what would cost memory or crash a route or a database driver:

- too many values: `[{}, {}, ...]` in 8 MB is 2 million dicts, ~100 MB once parsed, refused
  only afterwards by the batch limit. Commas and brackets bound the number of values;
- nesting deeper than the limit: recursive code (json.dumps, our walks) hits Python's
  recursion limit, a RecursionError (500);
- text one of our databases cannot store (NUL, lone UTF-16 surrogates: PostgreSQL refuses both,
  SQLite stores them), so both databases accept exactly the same input;
- NaN, Infinity and numbers too large for a double (which Python reads as inf): PostgreSQL
  refuses them in JSON columns, SQLite stores a log that no JSON answer can carry again.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from promptyard.catalogue import Text

# An escaped NUL or an escaped surrogate (paired or not): only such a body is decoded and walked,
# which tells a real NUL or lone surrogate from an escaped backslash or a valid pair (an emoji).
# A precise regex over every body cost 29 ms per 500 logs.
_SUSPECT_TEXT = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
# A float literal that may overflow a double has a positive exponent of 3 digits or more, or a
# mantissa of 309 digits. Looked for on a copy with every digit mapped to '0', 'E' to 'e' and
# every byte that may end a number to ',' (translate runs in C; a regex over the raw bytes with
# a character class first cost 200 ms per 4 MB): a literal prefix the regex engine finds fast, and
# hex ids ("c0e123-", "...e123"") do not match, as no number is followed by '-' or '"'.
_NUMBER_VIEW = bytes.maketrans(b"123456789E}] \t\r\n", b"000000000e,,,,,,")
_HUGE_EXPONENT = re.compile(rb"0e\+?000+(?:,|\Z)")
_LONG_MANTISSA = b"0" * 309
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_PAIR = re.compile(rb"\{\}|\[\]")
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


@dataclass(frozen=True)
class Problem:
    status: int
    code: str
    message: Text  # rendered in the caller's language where the answer is written


def check(body: bytes, *, max_values: int, max_depth: int, publishable: bool) -> Problem | None:
    """The first problem of a JSON body, or None (also for text that is not JSON: the route
    that parses it reports that, with the position)."""
    stripped: list[bytes] = []

    def without_strings() -> bytes:  # made once, and only when a cheap pass was not conclusive
        if not stripped:
            stripped.append(_STRING.sub(b'""', body))
        return stripped[0]

    if _values(body) > max_values and _values(without_strings()) > max_values:
        return Problem(413, "too_large", Text("errors.bodies.too_many_values_publishable" if publishable
                                              else "errors.bodies.too_many_values", limit=max_values))
    if not _within_depth(body, max_depth) and not _within_depth(without_strings(), max_depth) and _json(body):
        return Problem(422, "invalid_input", Text("errors.bodies.too_deep", depth=max_depth))
    if b"\x00" in body:
        return Problem(422, "invalid_input", Text("errors.bodies.nul"))
    return _unstorable(body)


def _json(body: bytes) -> bool:
    """Whether a body whose brackets nest too deep is JSON at all (else the route says where not)."""
    try:
        json.loads(body)
    except RecursionError:
        return True
    except ValueError:
        return False
    return True


def _unstorable(body: bytes) -> Problem | None:
    """NUL or lone surrogates behind escapes, or numbers that are not finite, named by field."""
    text_suspect = bool(_SUSPECT_TEXT.search(body))
    if not (text_suspect or b"NaN" in body or b"Infinity" in body or _maybe_huge(body)):
        return None
    try:
        if not text_suspect:  # numbers only: a parse that stops at the first bad one tells (no walk)
            json.loads(body, parse_constant=_stop, parse_float=_stop_if_infinite)
            return None
    except _Stop:
        pass
    except ValueError:
        return None
    try:  # name the field: parse with stand-ins and walk
        _walk(json.loads(body, parse_constant=_not_finite, parse_float=_float))
    except _Refused as exc:
        return Problem(422, "invalid_input", exc.text)
    except ValueError:
        return None
    return None


def _values(body: bytes) -> int:
    # Every value but the first is preceded by a comma or opens a container (a key's colon is
    # not counted: a key is a string, the cheapest thing there is).
    return body.count(b",") + body.count(b"{") + body.count(b"[")


def _maybe_huge(body: bytes) -> bool:
    view = body.translate(_NUMBER_VIEW)
    return _HUGE_EXPONENT.search(view) is not None or _LONG_MANTISSA in view


def _within_depth(body: bytes, max_depth: int) -> bool:
    """Brackets only; each round removes the innermost pairs, one level. Brackets inside strings
    can only make this answer False (the caller then looks again without the strings)."""
    brackets = body.translate(None, _NOT_BRACKET)
    for _ in range(max_depth):
        if not brackets:
            return True
        brackets = _PAIR.sub(b"", brackets)
    return not brackets


class _NotFinite(float):
    """Stands in for NaN, Infinity and overflowing literals until the walk names their field."""


def _not_finite(literal: str) -> float:
    return _NotFinite("nan")


def _float(literal: str) -> float:
    value = float(literal)
    return value if math.isfinite(value) else _NotFinite(value)


class _Refused(ValueError):
    def __init__(self, text: Text):
        super().__init__(text.key)
        self.text = text


class _Stop(Exception):  # not a ValueError: json.loads lets it through as it is
    pass


def _stop(literal: str) -> float:
    raise _Stop


def _stop_if_infinite(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise _Stop
    return value


def _walk(value: Any, path: str = "$") -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise _Refused(Text("errors.bodies.field_nul", path=path))
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _Refused(Text("errors.bodies.field_surrogate", path=path)) from None
    elif isinstance(value, _NotFinite):
        raise _Refused(Text("errors.bodies.field_not_finite", path=path))
    elif isinstance(value, dict):
        for k, v in value.items():
            _walk(k, path)
            _walk(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _walk(v, f"{path}[{i}]")
