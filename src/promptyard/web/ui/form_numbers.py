"""Numbers typed into the UI's forms, read strictly: ASCII digits only.

Python's own parsers are too lenient for form input: str.isdigit() accepts '²' (which int() then
refuses with an error), and int()/float() accept other scripts' digits ('١٢' is 12), '1_000',
'nan' and 'inf'. A form value is a number only when it is written the way the form shows it;
anything else is None, and the page says what it expected."""

from __future__ import annotations

import math
import re

_WHOLE = re.compile(r"\+?[0-9]{1,18}")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]{1,18}(?:\.[0-9]{0,18})?|\.[0-9]{1,18})(?:[eE][+-]?[0-9]{1,3})?")


def whole(value: object, lo: int | None = None, hi: int | None = None) -> int | None:
    """A whole number in ASCII digits (surrounding spaces allowed) within [lo, hi], else None."""
    if not isinstance(value, str) or not _WHOLE.fullmatch(value.strip()):
        return None
    number = int(value.strip())
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        return None
    return number


def decimal(value: object) -> float | None:
    """A finite decimal number in ASCII ('12', '-0.5', '1e3'), else None."""
    if not isinstance(value, str) or not _DECIMAL.fullmatch(value.strip()):
        return None
    number = float(value.strip())
    return number if math.isfinite(number) else None
