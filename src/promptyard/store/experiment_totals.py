"""Running sums for experiments, per (experiment, version, rule, unit, metric), kept in step with
every write of the request log (like store/rollups.py), so that an experiment's statistics read
one row per unit and metric instead of every request and score (a million requests of a few
thousand users: a few thousand rows).

A unit is the value of the policy's sticky key (stored as a digest: its text is never needed);
requests randomised one by one have unit '' and are each their own unit. `moments` turns the rows
into the unit-level sums of domain/experiments.UnitMoments in one GROUP BY.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Iterable

from sqlalchemy import bindparam, case, delete, func, select
from sqlalchemy.orm import Session

from promptyard.domain.experiments import UnitMoments
from promptyard.store import bulk
from promptyard.store.models import ExperimentUnit

# Built-in metrics, beside the score names (which can only hold letters, digits, '_', '.', '-').
ERROR_RATE, LATENCY, COST = "@error_rate", "@latency_ms", "@cost"
UnitKey = tuple[int, int, str, str]  # experiment id, version, rule, unit digest ('' = per request)
KEY = ("experiment_id", "version", "rule", "metric", "unit")  # the table's key, in its order


def unit_digest(unit: str | None) -> str:
    return hashlib.sha256(unit.encode("utf-8")).hexdigest()[:32] if unit else ""


def request_values(status: str, latency_ms: float | None, cost: float | None) -> list[tuple[str, float]]:
    """What one request adds to the built-in metrics (errors in percent: differences read in
    percentage points)."""
    out = [(ERROR_RATE, 100.0 if status == "error" else 0.0)]
    if latency_ms is not None:
        out.append((LATENCY, float(latency_ms)))
    if cost is not None:
        out.append((COST, float(cost)))
    return out


class Deltas:
    """Changes to the sums, collected during one transaction and applied once, in key order."""

    def __init__(self) -> None:
        # keyed as the table is: (experiment id, version, rule, metric, unit)
        self.sums: dict[tuple[int, int, str, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])

    def add(self, key: UnitKey, metric: str, value: float, sign: int = 1) -> None:
        s = self.sums[(key[0], key[1], key[2], metric, key[3])]
        s[0] += sign
        s[1] += sign * value
        s[2] += sign * value * value

    def apply(self, session: Session) -> None:
        rows = [dict(zip(KEY, k), n=s[0], y=s[1], yy=s[2]) for k, s in sorted(self.sums.items()) if any(s)]
        if not rows:
            return
        bulk.insert(session, ExperimentUnit.__table__, rows, add_on_conflict=(KEY, ("n", "y", "yy")))
        # A unit whose last request went (erased, purged, relinked) is no unit any more: its row
        # goes, so that no count, no sample-ratio check and no trace of its digest is left. Only
        # rows this transaction has just written (and so holds locked) are looked at.
        emptied = [dict(zip(KEY, k)) for k, s in sorted(self.sums.items()) if s[0] < 0]
        if emptied:
            t = ExperimentUnit.__table__
            session.execute(delete(t).where(*(t.c[c] == bindparam(f"b_{c}") for c in KEY), t.c.n < 0.5),
                            [{f"b_{c}": row[c] for c in KEY} for row in emptied])


def moments(session: Session, experiment_ids: Iterable[int]) -> dict[tuple[int, int, str, str], UnitMoments]:
    """{(experiment id, version, rule, metric): UnitMoments}. A sticky unit contributes
    (y_u, n_u); a '' row holds requests that are their own units, whose sums of squares are
    kept (n_u = 1, so nn = n and yn = y)."""
    u = ExperimentUnit
    own = u.unit == ""
    q = (select(u.experiment_id, u.version, u.rule, u.metric,
                func.sum(case((own, u.n), else_=1)), func.sum(u.n), func.sum(u.y),
                func.sum(case((own, u.yy), else_=u.y * u.y)), func.sum(case((own, u.n), else_=u.n * u.n)),
                func.sum(case((own, u.y), else_=u.y * u.n)))
         .where(u.experiment_id.in_(list(experiment_ids)), u.n > 0.5)
         .group_by(u.experiment_id, u.version, u.rule, u.metric))
    return {(e, v, r, m): UnitMoments(int(k), n, y, yy, nn, yn)
            for e, v, r, m, k, n, y, yy, nn, yn in session.execute(q)}
