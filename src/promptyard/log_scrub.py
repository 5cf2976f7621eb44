"""What the server may write to its log about an exception: class names and stack frames, never an
exception's message (a database error's message quotes its SQL, a driver's the row it failed on, and
request content must never reach a server log: DESIGN.md rule 13)."""

from __future__ import annotations

import logging
import sys
import traceback


def failure(log: logging.Logger, message: str, *args: object) -> None:
    """`log.exception` for the exception being handled, with every message in its chain withheld."""
    log.error(message + "\n%s", *args, scrubbed_traceback(sys.exc_info()[1]))


def scrubbed_traceback(exc: BaseException | None) -> str:
    """The chain of exceptions (outermost last, as Python prints it) with class names and stack
    frames only."""
    chain: list[BaseException] = []
    while exc is not None and exc not in chain:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    parts = []
    for item in reversed(chain):
        frames = "".join(traceback.format_list(traceback.extract_tb(item.__traceback__)))
        parts.append(f"Traceback (most recent call last):\n{frames}{error_name(item)}: (message withheld)\n")
    return "\nwhich led to:\n\n".join(parts)


def error_name(exc: BaseException) -> str:
    kind = type(exc)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
