"""How much memory a logged value holds, estimated on the caller's thread without encoding it.

The queue is capped in bytes as well as in items (a few large logs can use more memory than
thousands of small ones). Encoding each log to measure it would cost the caller the JSON time
the sender thread is there to take, so this walks the value instead: a text counts its real
size (sys.getsizeof: 1, 2 or 4 bytes a character), a container its items plus a fixed overhead.
"""

from __future__ import annotations

import sys
from typing import Any

_CONTAINER = 64  # about what a small dict or list entry costs beyond its contents
_SCALAR = 32     # an int, float, bool or None, with its slot


def approx_size(value: Any, depth: int = 0) -> int:
    if isinstance(value, (str, bytes, bytearray)):
        return sys.getsizeof(value)
    if depth > 20:  # a cycle, or nesting no log has: stop counting rather than recurse forever
        return _SCALAR
    if isinstance(value, dict):
        return _CONTAINER + sum(approx_size(k, depth + 1) + approx_size(v, depth + 1) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return _CONTAINER + sum(approx_size(v, depth + 1) for v in value)
    if value is None or isinstance(value, (bool, int, float)):
        return _SCALAR
    fields = getattr(value, "__dict__", None)  # e.g. a provider SDK's pydantic response object
    return approx_size(fields, depth + 1) if isinstance(fields, dict) else _SCALAR
