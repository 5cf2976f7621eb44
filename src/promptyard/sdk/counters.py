"""What the logging pipeline did with what it was given: running counters, and the result of a
flush (the difference of two snapshots of them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Counters:
    queued: int = 0      # accepted into the queue
    sent: int = 0        # delivered (including duplicates the server already had, and replays)
    retried: int = 0     # retry attempts after a retryable failure
    dropped: int = 0     # lost: queue full (count or bytes), or no spool to keep what could not be sent
    spooled: int = 0     # written to the on-disk spool
    replayed: int = 0    # sent from the spool
    rejected: int = 0    # refused by the server (4xx other than 408/429): a data problem


@dataclass(frozen=True)
class FlushResult:
    """What happened to the logs, scores and metadata since the previous flush() (or since the
    client started): `delivered` to the server (also ones replayed from the spool), `rejected` by
    it, written to the `spooled` disk queue, `dropped` (lost), and still `queued` in memory (of
    those logged before this flush began: the timeout ran out first).

    True only when everything was delivered; so `if not py.flush(): ...` reads as before, and
    `py.flush().spooled` says what is waiting on disk."""

    delivered: int = 0
    rejected: int = 0
    spooled: int = 0
    dropped: int = 0
    queued: int = 0

    def __bool__(self) -> bool:
        return not (self.rejected or self.spooled or self.dropped or self.queued)

    @classmethod
    def between(cls, before: Counters, after: Counters, queued: int) -> "FlushResult":
        return cls(delivered=after.sent - before.sent, rejected=after.rejected - before.rejected,
                   spooled=after.spooled - before.spooled, dropped=after.dropped - before.dropped,
                   queued=queued)
