"""The one place that reads driver errors: which mean "the database is unavailable" (503 with
Retry-After, the client should retry) and which mean "this query ran out of time" (a 4xx for the
caller), and the outage log (one line when an outage starts, one summary when it ends: a
PostgreSQL outage used to log two full tracebacks per request, 10 MB in 25 s).
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import exc as sa_exc

from promptyard.errors import TimedOut, Unavailable

log = logging.getLogger("promptyard.db")

RETRY_AFTER_S = 5  # what a 503 for an unavailable database tells clients to wait
# SQLite primary result codes (extended codes carry them in the low byte).
_SQLITE_UNAVAILABLE = {5: "busy", 6: "locked", 10: "disk I/O error", 13: "disk full", 14: "cannot open"}
_SQLITE_INTERRUPT = 9
# PostgreSQL SQLSTATE classes/codes: 08 connection, 53 insufficient resources (disk full, out of
# memory, too many connections), 57P0x shutdown / cannot connect now, 58 system (I/O) errors.
_PG_UNAVAILABLE_PREFIXES = ("08", "53", "57P", "58")
_PG_QUERY_CANCELED = "57014"  # statement_timeout
_PG_LOCK_NOT_AVAILABLE = "55P03"  # lock_timeout


def lock_timed_out(exc: BaseException) -> bool:
    """A statement that gave up waiting for a lock (PostgreSQL's lock_timeout)."""
    return isinstance(exc, sa_exc.DBAPIError) and getattr(exc.orig, "sqlstate", None) == _PG_LOCK_NOT_AVAILABLE


def classify(exc: BaseException) -> str | None:
    """'unavailable', 'timeout' or None (not a database fault we know: a bug or bad input)."""
    if isinstance(exc, (sa_exc.TimeoutError, sa_exc.DisconnectionError)):
        return "unavailable"  # pool exhausted, or a connection lost between statements
    if not isinstance(exc, sa_exc.DBAPIError):
        return None
    if exc.connection_invalidated:
        return "unavailable"
    orig = exc.orig
    sqlite_code = getattr(orig, "sqlite_errorcode", None)
    if sqlite_code is not None:
        if sqlite_code & 0xFF == _SQLITE_INTERRUPT:
            return "timeout"
        return "unavailable" if sqlite_code & 0xFF in _SQLITE_UNAVAILABLE else None
    state = getattr(orig, "sqlstate", None)
    if state == _PG_QUERY_CANCELED:
        return "timeout"
    if state is not None:
        return "unavailable" if state.startswith(_PG_UNAVAILABLE_PREFIXES) else None
    # psycopg's client-side failures (refused, reset, closed) have no SQLSTATE.
    return "unavailable" if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)) else None


class Outage:
    """Counts the requests refused while the database is away, and logs the start and end once.

    The end is a success with no failure for SETTLE_S: a full disk fails writes while reads (and
    empty write transactions) still succeed, and a flapping line fails some connections only;
    ending the outage at the first success logged a start and an end every few requests."""

    SETTLE_S = 2.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.since: float | None = None
        self.last_failure = 0.0
        self.refused = 0

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            self.refused += 1
            self.last_failure = time.monotonic()
            if self.since is not None:
                return
            self.since = self.last_failure
        # The class only: a driver's message can quote stored text (PostgreSQL's DETAIL/CONTEXT).
        cause = type(getattr(exc, "orig", None) or exc).__name__
        log.error("the database is unavailable (%s); answering 503 until it is back", cause)

    def succeeded(self) -> None:
        if self.since is None:  # the hot path: one attribute read
            return
        now = time.monotonic()
        with self._lock:
            if self.since is None or now - self.last_failure < self.SETTLE_S:
                return
            took, refused = self.last_failure - self.since, self.refused
            self.since, self.refused = None, 0
        log.warning("the database is back; it was unavailable for %.1f s and refused %d transactions "
                    "(requests and background work)",
                    took, refused)

    @property
    def down(self) -> bool:
        return self.since is not None


def translate(exc: BaseException, outage: Outage, timeout_s: float | None = None) -> Exception | None:
    """The domain error for a driver error (None: let it propagate as it is)."""
    kind = classify(exc)
    if kind == "unavailable":
        outage.failed(exc)
        return Unavailable("errors.system.database_unavailable_try_again", retry_after_s=RETRY_AFTER_S)
    if kind == "timeout":
        limit = f"{timeout_s:g} s" if timeout_s else "the time limit"
        return TimedOut("errors.system.query_took_longer_than", limit=limit)
    return None
