"""Numbers typed by clients: ids in paths, numbers in bodies, filters and forms, header values.

One rule for every surface: ASCII decimal digits only, within bounds, else "not a number".
str.isdigit() is not enough - it accepts '²' and '①', which int() then refuses (a 500) - and
int() alone is too lenient: it takes '٣' (Arabic-Indic three), '1_000' and surrounding
whitespace of any script, and a 5,000-digit string raises instead of answering.
"""

from __future__ import annotations

import math
import re

MAX_ID = 2**31 - 1  # the largest value of a 32-bit id or number column (PostgreSQL INTEGER)
ROW_ID_MAX = 2**53 - 1  # request row ids (PostgreSQL: 1, YYYYMM, 9 digits, store/partitions.py; exact in JSON); a larger all-digit ref is taken as a client id
_MAX_DIGITS = 19  # anything longer is out of every bound we use (2**63 has 19 digits)
_DECIMAL = re.compile(r"[+-]?(?:[0-9]{1,18}(?:\.[0-9]{0,18})?|\.[0-9]{1,18})(?:[eE][+-]?[0-9]{1,3})?")


def is_ascii_digits(text: str) -> bool:
    """Only '0'-'9', at least one."""
    return text.isascii() and text.isdigit()


def ascii_int(value: object, *, lo: int = 0, hi: int = MAX_ID) -> int | None:
    """`value` (str or bytes) as an integer in lo..hi when it is ASCII decimal digits with at most
    surrounding spaces or tabs; None for anything else (the caller words the error)."""
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("latin-1")
    if not isinstance(value, str):
        return None
    text = value.strip(" \t")
    if not (len(text) <= _MAX_DIGITS and is_ascii_digits(text)):
        return None
    number = int(text)
    return number if lo <= number <= hi else None


def ascii_decimal(value: object) -> float | None:
    """A finite decimal number in ASCII ('12', '-0.5', '1e3'), else None: float() alone takes
    other scripts' digits ('١.٥'), '1_0', 'nan' and 'inf'."""
    if not isinstance(value, str) or not _DECIMAL.fullmatch(value.strip(" \t")):
        return None
    number = float(value.strip(" \t"))
    return number if math.isfinite(number) else None
