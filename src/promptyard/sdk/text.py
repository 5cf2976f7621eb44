"""Making logged values sendable: JSON the server accepts, whatever the application passed.

The server refuses NUL characters and lone UTF-16 surrogates (PostgreSQL cannot store them), so
they become U+FFFD here instead of costing the whole batch. This runs on the sender thread, never
on the caller's.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from datetime import date, datetime, timezone
from typing import Any

REPLACEMENT = "\ufffd"
_BAD = re.compile("[\x00\ud800-\udfff]")


def clean_text(text: str) -> str:
    """`text` with NUL and surrogate code points replaced by U+FFFD (a Python str holds a
    surrogate only when it is unpaired: a valid pair is one code point)."""
    return _BAD.sub(REPLACEMENT, text) if _BAD.search(text) else text


def clean(value: Any) -> Any:
    """JSON-ready data: texts cleaned, objects of provider SDKs turned into plain data."""
    if isinstance(value, str):
        return clean_text(value)
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None  # JSON has no NaN; the server would refuse it
    if isinstance(value, dict):
        return {clean_text(str(k)): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [clean(v) for v in value]
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return aware.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return clean(plain(value))


def plain(value: Any) -> Any:
    """Plain data for an object of another library (pydantic models of openai/anthropic,
    dataclasses); its text as the last resort, so one odd value never loses a log."""
    for method in ("model_dump", "to_dict", "dict"):
        fn = getattr(value, method, None)
        if callable(fn):
            try:
                return fn()
            except Exception:  # noqa: BLE001 - fall through to the next way of reading it
                continue
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def dumps(value: Any) -> bytes:
    return json.dumps(clean(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
