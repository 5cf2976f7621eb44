"""Choosing how a page of the request log is read for a filter: walk the workspace's
(workspace_id, start_time, id) index newest first and test each log (a broad filter fills a page
after a few rows), or drive from the smallest index set of one AND-ed condition (a selective
filter would make the walk visit most of the log for a few matches).

Estimates are bounded probes, `SELECT count(*) FROM (SELECT request_id FROM <index range> LIMIT
PROBE)`: at most PROBE index entries each, the same SQL on SQLite and PostgreSQL, exact for small
sets (the ones worth driving from), and never stale. Planner statistics were the alternative:
SQLite keeps none per value (sqlite_stat1 is an average per key prefix) and PostgreSQL's are per
column, not per (key, value), and lag behind bulk loads; running per-value counts would add a
write to every ingest for a read-side guess.

Only a condition that every matching log satisfies through a set of ids can drive: at the top
level of the AND, a positive metadata, score or tag condition (store/query_sql.index_set), a
text condition (`text ~`, `input ~`, `output ~`: the text index, store/text_search.py, gives
the matches, or on SQLite a superset with the row check that narrows it to them) or `trace_id =` /
`in` (the trace's spans; the other trace conditions, on span names and attributes, have no index
and are checked row by row). A condition under OR or NOT, a negated one (`!=`, `missing`) and a
column condition are checked row by row. A provider in PROVIDERS maps a condition to a Candidate;
an inexact one (a superset) carries the check its rows must pass as well.

The match count (`counting`, `count`) drives from the smallest set even when the page walks.

Whatever drives, the WHERE clause is the filter's own conditions (the driver's replaced by the same
set), so the rows and their order (start_time desc, id desc) are the same for every plan."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from sqlalchemy import BigInteger, Integer, Select, and_, bindparam, func, select, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from promptyard.domain.query import And, Cond, Node
from promptyard.store import text_search
from promptyard.store.models import Request, VersionTotals
from promptyard.store.query_sql import index_set, trace_index_set, where

PROBE = 10_000  # index entries a probe reads at most; also the bound of the match count
# A driven row costs about six walked ones (measured on both databases at 100k logs): the walk
# tests the child indexes from the time index alone, a driven id reads its row (for the workspace
# check and the order) and is sorted. Misjudging is lopsided: a needless drive costs at most
# DRIVEN_ROW * PROBE rows, a needless walk up to the whole log; the estimates lean to driving.
DRIVEN_ROW = 6
FIRST_PROBE = 100  # entries each set is counted to first
COUNT_PROBE = 4 * PROBE  # entries a set is counted to at most when looking for the smallest to count by
BOUNDED_OPS = ("=", "in", "<", "<=", ">", ">=", "exists")  # one index range each; `~` would scan a key's values


@dataclass(frozen=True)
class Candidate:
    """The ids of the requests matching `cond`, or a superset of them whose rows must pass
    `check` as well (None: the set is exact), as a SELECT of request ids."""

    cond: Cond
    ids: Select
    check: ColumnElement[bool] | None = None


Provider = Callable[[Cond, int], "Candidate | None"]


def _child_index(c: Cond, workspace_id: int) -> Candidate | None:
    if c.op not in BOUNDED_OPS:
        return None
    ids = index_set(c, workspace_id)
    return Candidate(c, ids) if ids is not None else None


def _text_index(c: Cond, workspace_id: int) -> Candidate | None:
    if c.field not in text_search.FIELDS or c.op != "~":
        return None
    ids = text_search.ids(c.field, c.value, workspace_id)
    return Candidate(c, ids, text_search.check(c.field, c.value)) if ids is not None else None


def _trace_index(c: Cond, workspace_id: int) -> Candidate | None:
    ids = trace_index_set(c, workspace_id)
    return Candidate(c, ids) if ids is not None else None


# Who can offer an index set for a condition: the child rows' indexes, the text index, a trace id.
PROVIDERS: list[Provider] = [_child_index, _text_index, _trace_index]


@dataclass(frozen=True)
class Plan:
    """How to read: `driver` None walks the time index; else `id IN driver.ids` leads, or the
    driving set's ids themselves (`found`, see `_found`). `offers`: every set the filter offers;
    `estimates`: their probe counts, capped."""

    conds: tuple[Node, ...]
    driver: Candidate | None = None
    offers: tuple[Candidate, ...] = ()
    estimates: tuple[int, ...] = field(default=())
    found: tuple[int, ...] | None = None

    def where(self, now: datetime) -> ColumnElement[bool]:
        if self.driver is None:
            return and_(true(), *(where(c, now) for c in self.conds))
        ids = Request.id.in_(self.driver.ids) if self.found is None else _among(self.found)
        return and_(ids, *self._rest(now))

    def ids(self, now: datetime) -> Select:
        """The ids of the matching requests (the caller adds the workspace and scope), for
        counting: when a set drives, read from it by a join, which SQLite streams (and a
        count stops at its bound), where `id IN (set)` would first copy the whole set."""
        if self.driver is None:
            return select(Request.id).where(self.where(now))
        found = self.driver.ids.subquery()
        q = select(Request.id).join_from(found, Request, Request.id == found.c.request_id)
        return q.where(*self._rest(now)).distinct()  # a set may hold an id twice

    def _rest(self, now: datetime) -> list[ColumnElement[bool]]:
        """The conditions besides the driving set (which stands for its own, with its check)."""
        rest = [where(c, now) for c in self.conds if c is not self.driver.cond]
        return rest if self.driver.check is None else [self.driver.check, *rest]

    def workspace(self) -> ColumnElement[int]:
        """The workspace column to compare: when a set drives, SQLite gets `+ 0`, which keeps the
        check but out of its choice of index, so that it does not walk the time index in its place.
        PostgreSQL gets the column: it judges the check from its statistics (every log of the
        workspace), where `+ 0` made it guess 0.5% of the logs and, over the month partitions, read
        them all to count a broad filter's matches (1,080 ms instead of 235 at a million logs)."""
        return _OutOfIndex(Request.workspace_id) if self.driver is not None else Request.workspace_id


class _OutOfIndex(ColumnElement[int]):
    type = Integer()
    inherit_cache = False  # compiled per dialect

    def __init__(self, col: ColumnElement[int]):
        self.col = col


@compiles(_OutOfIndex, "sqlite")
def _sqlite_out_of_index(element: _OutOfIndex, compiler, **kw):  # noqa: ANN001, ANN202
    return compiler.process(element.col + 0, **kw)


@compiles(_OutOfIndex)
def _out_of_index(element: _OutOfIndex, compiler, **kw):  # noqa: ANN001, ANN202
    return compiler.process(element.col, **kw)


def conjuncts(node: Node | None) -> tuple[Node, ...]:
    """The top-level AND-ed conditions (nested ANDs flattened)."""
    if node is None:
        return ()
    if isinstance(node, And):
        return tuple(c for item in node.items for c in conjuncts(item))
    return (node,)


def candidates(node: Node | None, workspace_id: int) -> list[Candidate]:
    """Every index set an AND-ed condition offers, in the filter's order."""
    out = []
    for c in conjuncts(node):
        if isinstance(c, Cond):
            offer = next((o for o in (p(c, workspace_id) for p in PROVIDERS) if o is not None), None)
            if offer is not None:
                out.append(offer)
    return out


def probe(session: Session, ids: Select, bound: int = PROBE) -> int:
    """How many entries `ids` has, counting at most `bound`."""
    return session.scalar(select(func.count()).select_from(ids.limit(bound).subquery())) or 0


def choose(session: Session, node: Node | None, workspace_id: int, *, limit: int,
           force: str | int | None = None) -> Plan:
    """The plan for one page of `limit` rows. `force`: "walk", or the index of a candidate to
    drive from (tests and benchmarks compare every plan)."""
    conds, offers = conjuncts(node), tuple(candidates(node, workspace_id))
    if force == "walk" or not offers:
        return Plan(conds, None, offers)
    if isinstance(force, int):
        return Plan(conds, offers[force], offers)
    counts, bounds = _probe_all(session, offers)
    best = min(range(len(offers)), key=counts.__getitem__)
    if counts[best] >= PROBE:  # every set is large: the filter is broad, a page fills fast
        return Plan(conds, None, offers, counts)
    if counts[best] * DRIVEN_ROW <= _walk_rows(session, counts, bounds, workspace_id, limit):
        return Plan(conds, offers[best], offers, counts, _found(session, offers[best], counts[best] < bounds[best]))
    return Plan(conds, None, offers, counts)


def _among(found: tuple[int, ...]) -> ColumnElement[bool]:
    """`Request.id IN (SELECT unnest(<the ids>))` (PostgreSQL, the only database with `found`). The ids
    of a text match lie in every month: handed `id = ANY(<array>)`, the planner estimated the whole
    array against each month's partition (1,000 ids over ten months: 20-30 ms of planning, every
    partition probed for every id); joined to the array's elements, each id reads its own month's
    partition only (pruned as the join runs), and the array is estimated as the rows it holds."""
    return Request.id.in_(select(func.unnest(bindparam("found", list(found), type_=ARRAY(BigInteger), unique=True))))


def _found(session: Session, driver: Candidate, exact: bool) -> tuple[int, ...] | None:
    """PostgreSQL: the driving set's ids, when its probe counted all of them (fewer than PROBE).
    Handed `id IN (<set>)`, its planner estimates the set from column statistics, not from the
    count we have: for a 2-character word in 0.1% of 120,000 logs whose other words all logs
    share it expected a few hundred requests in the workspace and read every one newest first,
    probing the text index for each (125 ms); given the ids it reads just those rows by key.
    SQLite plans the set first anyway."""
    if not exact or session.get_bind().dialect.name != "postgresql":
        return None
    return tuple(session.scalars(driver.ids.limit(PROBE)))


def counting(session: Session, plan: Plan) -> Plan:
    """The plan for counting the matches (to PROBE): driven by the smallest set whatever its
    size. A count reads until PROBE + 1 matches; every match is in each set and the set's rows
    need no sort (Plan.ids streams them), so the smallest set never reads more rows than the
    walk, and for a broad but rare filter (0.6% of a million logs: every log walked) far fewer."""
    if not plan.offers:
        return plan
    best, counts = smallest(session, plan.offers, plan.estimates)
    return Plan(plan.conds, plan.offers[best], plan.offers, counts)


def every_match(session: Session, node: Node | None, workspace_id: int) -> Plan:
    """The plan for visiting every match (aggregates: services/log_stats.py): the smallest set
    drives whatever its size, as for a count; a walk would visit every log."""
    conds, offers = conjuncts(node), tuple(candidates(node, workspace_id))
    if not offers:
        return Plan(conds)
    best, counts = smallest(session, offers)
    return Plan(conds, offers[best], offers, counts)


def smallest(session: Session, offers: tuple[Candidate, ...],
             counts: tuple[int, ...] = ()) -> tuple[int, tuple[int, ...]]:
    """Which set holds the fewest ids, and the (capped) counts: from `counts` when the page's
    probes gave them, else each set probed to PROBE, no further than the smallest so far. When
    every set reached PROBE they are probed on to COUNT_PROBE (beyond that, a filter is dense
    enough in any of them)."""
    if len(offers) < 2:
        return 0, counts
    counts = counts or _capped(session, offers, PROBE)
    if min(counts) >= PROBE:
        counts = _capped(session, offers, COUNT_PROBE)
    return min(range(len(offers)), key=counts.__getitem__), counts


def _capped(session: Session, offers: tuple[Candidate, ...], bound: int) -> tuple[int, ...]:
    counts, cap = [], bound
    for o in offers:
        counts.append(probe(session, o.ids, cap))
        cap = min(cap, counts[-1])  # a later set that reaches it is not the smallest
    return tuple(counts)


def _probe_all(session: Session, offers: list[Candidate]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Each set's size and the bound it was counted to. First every set to FIRST_PROBE entries
    (a selective filter is settled there); else equalities first (the likely small ones), each
    probe stopping at the smallest size so far: a set that reaches it cannot drive."""
    counts = [probe(session, o.ids, FIRST_PROBE) for o in offers]
    if min(counts) < FIRST_PROBE:
        return tuple(counts), (FIRST_PROBE,) * len(offers)
    order = sorted(range(len(offers)), key=lambda i: _OP_ORDER.get(offers[i].cond.op, 3))
    bounds, cap = [0] * len(offers), PROBE
    for i in order:
        bounds[i] = cap
        counts[i] = probe(session, offers[i].ids, cap)
        cap = min(cap, counts[i] + 1)
    return tuple(counts), tuple(bounds)


_OP_ORDER = {"=": 0, "in": 1}


def _walk_rows(session: Session, counts: tuple[int, ...], bounds: tuple[int, ...], workspace_id: int,
               limit: int) -> float:
    """Rows the time walk would visit to fill a page, with the conditions taken as independent.
    A set that reached its probe's bound b holds between b and all of the logs: its share is
    taken half-way on a log scale, sqrt(b / logs)."""
    logs = int(session.scalar(select(func.sum(VersionTotals.requests)).where(
        VersionTotals.workspace_id == workspace_id)) or 0)
    if logs <= 0:
        return 0.0
    share = 1.0
    for n, b in zip(counts, bounds):
        share *= n / logs if n < b else math.sqrt(min(1.0, b / logs))
    return min(float(logs), (limit + 1) / share) if share > 0 else float(logs)


CHECKED_COUNT = 1_000  # the count's bound when SQLite checks every counted row (~50 µs each, its stored JSON read)


def count_bound(session: Session, plan: Plan) -> int:
    """How far a count goes exactly: PROBE, or CHECKED_COUNT where the matches are a text superset that
    SQLite narrows row by row (a text query of 3 or more characters, or on input / output): counting
    10,000 of those would cost half a second, so such a count says "more than 1,000" sooner."""
    checked = any(o.check is not None for o in plan.offers)
    return CHECKED_COUNT if checked and session.get_bind().dialect.name == "sqlite" else PROBE


def count(session: Session, ids: Select, bound: int = PROBE) -> tuple[int, bool]:
    """How many rows `ids` (Plan.ids with the workspace and scope) has, counting at most
    `bound`: (n, True) means more than n."""
    n = session.scalar(select(func.count()).select_from(ids.limit(bound + 1).subquery())) or 0
    return (bound, True) if n > bound else (n, False)
