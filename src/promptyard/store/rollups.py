"""Running totals per prompt version, kept in step with every write of the request log, so that
statistics over all of a workspace's logs read a few hundred rows instead of every log (a million
logs: about 1 s from the logs themselves, a few milliseconds from here).

Per version key (prompt name, version number): request, error, token and cost totals; a latency
histogram with buckets 2% wide (percentiles read from it are within 1% of the exact value); and
per score name n, sum and sum of squares (mean and confidence interval). Per version and UTC hour
(the hour the log started in): requests, errors and each score's n and sum, which the trends per day
and per hour add up (services/log_trends.py). Writers collect deltas
in a `Changes` and apply them once per transaction, in key order, so that concurrent writers
lock the same rows in the same order (no deadlocks) and hold them only until their commit.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import datetime, timezone
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from promptyard.store import bulk, experiment_totals
from promptyard.store.models import HourScoreTotals, HourTotals, LatencyBucket, ScoreTotals, VersionTotals

Key = tuple[str, int]
GAMMA = 1.02  # bucket width; migration 0003 computes buckets with the same formula
ZERO_BUCKET = -100_000  # latencies of 0 ms or less (clock skew between start and end)
_TOTALS = ("requests", "errors", "tokens_n", "tokens_sum", "cost_n", "cost_sum")


def key(prompt_name: str | None, version_number: int | None) -> Key:
    return (prompt_name or "", version_number or 0)


def bucket(latency_ms: float) -> int:
    return ZERO_BUCKET if latency_ms <= 0 else math.floor(math.log(latency_ms) / math.log(GAMMA))


def hour_of(at: datetime) -> datetime:
    """The start of the UTC hour `at` falls in (a naive time is UTC, as the store reads it)."""
    at = at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)
    return at.replace(minute=0, second=0, microsecond=0)


def bucket_value(b: int) -> float:
    """The geometric middle of bucket b: at most 1% from any latency in it."""
    return 0.0 if b == ZERO_BUCKET else GAMMA ** (b + 0.5)


class Changes:
    """Deltas to the totals, collected while a transaction writes logs and scores; a request that
    counts for an experiment (`unit`, see store/experiment_totals.py) updates its sums too."""

    def __init__(self) -> None:
        self.totals: dict[Key, list[float]] = defaultdict(lambda: [0] * len(_TOTALS))
        self.buckets: Counter[tuple[Key, int]] = Counter()
        self.scores: dict[tuple[Key, str], list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
        self.hours: dict[tuple[datetime, Key], list[int]] = defaultdict(lambda: [0, 0])
        self.hour_scores: dict[tuple[datetime, Key, str], list[float]] = defaultdict(lambda: [0, 0.0])
        self.units = experiment_totals.Deltas()
        self._at: datetime | None = None  # the last time seen, and its hour: a log's scores share its time
        self._hour: datetime | None = None

    def _hour_of(self, at: datetime) -> datetime:
        if at is not self._at:
            self._at, self._hour = at, hour_of(at)
        return self._hour

    def request(self, k: Key, *, at: datetime, status: str, total_tokens: int | None, cost: float | None,
                latency_ms: float | None, sign: int = 1, unit: experiment_totals.UnitKey | None = None) -> None:
        """One log (`at`: its start time) counted in (sign=1) or out (-1)."""
        h = self.hours[(self._hour_of(at), k)]
        h[0] += sign
        h[1] += sign if status == "error" else 0
        if unit is not None:
            for metric, value in experiment_totals.request_values(status, latency_ms, cost):
                self.units.add(unit, metric, value, sign)
        t = self.totals[k]
        t[0] += sign
        t[1] += sign if status == "error" else 0
        if total_tokens is not None:
            t[2], t[3] = t[2] + sign, t[3] + sign * total_tokens
        if cost is not None:
            t[4], t[5] = t[4] + sign, t[5] + sign * cost
        if latency_ms is not None:
            self.buckets[(k, bucket(latency_ms))] += sign

    def score(self, k: Key, name: str, value: float, *, at: datetime, sign: int = 1,
              unit: experiment_totals.UnitKey | None = None) -> None:
        """A score of a log (`at`: the log's start time) counted in or out."""
        if unit is not None:
            self.units.add(unit, name, value, sign)
        hs = self.hour_scores[(self._hour_of(at), k, name)]
        hs[0] += sign
        hs[1] += sign * value
        s = self.scores[(k, name)]
        s[0] += sign
        s[1] += sign * value
        s[2] += sign * value * value

    def apply(self, session: Session, workspace_id: int) -> None:
        ws = {"workspace_id": workspace_id}
        _add(session, VersionTotals, ("prompt_name", "version_number"), _TOTALS,
             [ws | _k(k) | dict(zip(_TOTALS, t)) for k, t in sorted(self.totals.items()) if any(t)])
        _add(session, LatencyBucket, ("prompt_name", "version_number", "bucket"), ("n",),
             [ws | _k(k) | {"bucket": b, "n": n} for (k, b), n in sorted(self.buckets.items()) if n])
        _add(session, ScoreTotals, ("prompt_name", "version_number", "name"), ("n", "sum", "sum_sq"),
             [ws | _k(k) | {"name": name, "n": s[0], "sum": s[1], "sum_sq": s[2]}
              for (k, name), s in sorted(self.scores.items()) if s[0] or s[1]])
        _add(session, HourTotals, ("hour", "prompt_name", "version_number"), ("requests", "errors"),
             [ws | {"hour": h} | _k(k) | {"requests": t[0], "errors": t[1]}
              for (h, k), t in sorted(self.hours.items()) if any(t)])
        _add(session, HourScoreTotals, ("hour", "prompt_name", "version_number", "name"), ("n", "sum"),
             [ws | {"hour": h} | _k(k) | {"name": name, "n": s[0], "sum": s[1]}
              for (h, k, name), s in sorted(self.hour_scores.items()) if s[0] or s[1]])
        self.units.apply(session)


def _k(k: Key) -> dict[str, Any]:
    return {"prompt_name": k[0], "version_number": k[1]}


def _add(session: Session, model: Any, keys: tuple[str, ...], values: tuple[str, ...], rows: list[dict]) -> None:
    """Upsert that adds to the stored values (a row is created at the first delta)."""
    bulk.insert(session, model.__table__, rows, add_on_conflict=(("workspace_id", *keys), values))


# --- reading --------------------------------------------------------------------------------


def read(session: Session, workspace_id: int, prompt: str | None = None) -> dict[str, dict[Key, Any]]:
    """{"totals": {key: row}, "latency": {key: [(bucket, n), ...] ascending}, "scores": {key: {name: row}}};
    rows have the columns' names as attributes (plain rows, not ORM objects: a million logs leave
    a few thousand buckets to read)."""
    def rows(model: Any, *cols: Any) -> Any:
        q = select(model.prompt_name, model.version_number, *cols).where(model.workspace_id == workspace_id)
        return session.execute(q if prompt is None else q.where(model.prompt_name == prompt))

    t, b, sc = VersionTotals, LatencyBucket, ScoreTotals
    out: dict[str, dict] = {"totals": {}, "latency": defaultdict(list), "scores": defaultdict(dict)}
    for row in rows(t, *(t.__table__.c[c] for c in _TOTALS)):
        if row.requests > 0:
            out["totals"][(row.prompt_name, row.version_number)] = row
    for row in rows(b, b.bucket, b.n):
        if row.n > 0:
            out["latency"][(row.prompt_name, row.version_number)].append((row.bucket, row.n))
    for row in rows(sc, sc.name, sc.n, sc.sum, sc.sum_sq):
        if row.n > 0:
            out["scores"][(row.prompt_name, row.version_number)][row.name] = row
    for buckets in out["latency"].values():
        buckets.sort()
    return out


def percentile(buckets: Iterable[tuple[int, int]], q: float) -> float | None:
    """The q-th percentile (linear between ranks, numpy's default) from a histogram."""
    buckets = list(buckets)
    n = sum(count for _, count in buckets)
    if not n:
        return None
    k = (n - 1) * q / 100
    lo, w = int(k), k - int(k)
    values, seen = {}, 0
    for b, count in buckets:
        for r in (lo, lo + 1):
            if seen <= r < seen + count:
                values[r] = bucket_value(b)
        seen += count
    low = values[lo]
    return low + (values.get(lo + 1, low) - low) * w
