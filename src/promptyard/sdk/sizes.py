"""How much memory a logged value holds, estimated on the caller's thread without encoding it.

The queue is capped in bytes as well as in items (a few large logs can use more memory than
thousands of small ones). Encoding each log to measure it would cost the caller the JSON time
the sender thread is there to take, so this walks the value instead: a text counts its real
size (sys.getsizeof: 1, 2 or 4 bytes a character), a container a fixed cost per entry plus
its values (dict keys are short names, counted in the entry cost). A loop, not recursion: this
runs on every log() and must stay a few microseconds.
"""

from __future__ import annotations

from sys import getsizeof
from typing import Any

_ENTRY = 64      # about what one dict entry (with a short key) or list slot costs beyond its value
_SCALAR = 32     # an int, float, bool or None
_BUDGET = 100_000  # container entries counted, at most: a cycle or a giant structure stops here


def approx_size(value: Any, _str: type = str, _dict: type = dict, _list: type = list,
                _scalars: frozenset = frozenset({int, float, bool, type(None)})) -> int:
    # Defaults as locals and exact types before isinstance: this runs on every log().
    total, entries, stack = 0, 0, [value]
    pop, extend = stack.pop, stack.extend
    while stack:
        v = pop()
        t = type(v)
        if t is _str:
            total += getsizeof(v)
        elif t is _dict:
            entries += len(v) + 1
            extend(v.values())
        elif t is _list:
            entries += len(v) + 1
            extend(v)
        elif t in _scalars:
            total += _SCALAR
        else:
            entries += _other(v, extend)
        if entries > _BUDGET:
            break
    return total + _ENTRY * entries


def _other(v: Any, extend: Any) -> int:
    """Entries for subclasses, tuples, bytes, sets, and objects of other libraries (e.g. a
    provider SDK's pydantic response, by its fields)."""
    if isinstance(v, (str, bytes, bytearray)):
        return 1 + getsizeof(v) // _ENTRY
    if isinstance(v, dict):
        extend(v.values())
        return len(v) + 1
    if isinstance(v, (list, tuple, set, frozenset)):
        extend(v)
        return len(v) + 1
    fields = getattr(v, "__dict__", None)
    if isinstance(fields, dict):
        extend(fields.values())
    return 1
