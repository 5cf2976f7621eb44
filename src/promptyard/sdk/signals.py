"""Flushing queued logs when the process is told to stop (SIGTERM, SIGINT).

SIGTERM's default action ends the process at once: atexit handlers never run, and everything
still queued (up to `max_queue` logs) was lost. The handler installed here first gives the
clients a bounded time (their `shutdown_timeout`) and then does what would have happened
without it: the handler the application had set runs; SIGTERM's default action still ends the
process (raised again with the default disposition, so the exit status still says "killed by
SIGTERM"). A second signal while flushing skips the wait. Installed only from the main thread
(Python allows no other), only once, and never over a signal the process ignores or a handler
set outside Python.

SIGINT's default handler is left in place: the KeyboardInterrupt it raises ends the process
through atexit, which already flushes (within `shutdown_timeout`), and asyncio.run() handles
Ctrl-C gracefully (cancelling the main task) only while that default handler is set. A SIGINT
handler of the application's own (which may end the process without atexit) gets the flush first.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Any, Callable

log = logging.getLogger("promptyard.sdk")
_previous: dict[int, Any] = {}
_on_stop: Callable[[bool], None] | None = None
_busy = False


def install(on_stop: Callable[[bool], None]) -> bool:
    """Route SIGTERM and SIGINT through `on_stop(terminating)` first; True when installed."""
    global _on_stop
    if threading.current_thread() is not threading.main_thread():
        return False
    _on_stop = on_stop
    for name in ("SIGTERM", "SIGINT"):
        signum = getattr(signal, name, None)
        if signum is None or signum in _previous:
            continue
        current = signal.getsignal(signum)
        if current in (signal.SIG_IGN, None, signal.default_int_handler) or current is _handle:
            continue
        _previous[signum] = current
        signal.signal(signum, _handle)
    return True


def _handle(signum: int, frame: FrameType | None) -> None:
    global _busy
    previous = _previous.get(signum, signal.SIG_DFL)
    if not _busy and _on_stop is not None:
        _busy = True
        try:
            _on_stop(previous == signal.SIG_DFL)  # the default action of both ends the process
        except Exception:  # noqa: BLE001 - whatever went wrong, the signal must still do its job
            log.exception("promptyard: flushing logs on signal %s failed", signum)
        finally:
            _busy = False
    if callable(previous):
        previous(signum, frame)  # the application's handler
        return
    signal.signal(signum, signal.SIG_DFL)
    signal.raise_signal(signum)


def keep_off_this_thread() -> None:
    """Block SIGTERM and SIGINT in the calling SDK thread, so the kernel hands them to a thread
    that runs Python code: a signal taken by a background thread does not interrupt the main
    thread's blocking call (a sleep, a socket read), and its handler would wait for that call."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
