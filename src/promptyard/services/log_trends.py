"""Trends over time for the analytics page: per day (or hour) and prompt version, the number of
requests, the errors and each score's n and mean, over the last `days` days of the matching logs.

Days are the viewer's (local midnight to midnight in `tz`, so a Tokyo team's Monday is its own), and
so are hours (a zone half an hour off UTC has its hours start at :30 UTC);
the boundaries are computed here as UTC instants. Without a filter, and where every boundary is a
whole UTC hour (any zone a whole number of hours off UTC, daylight saving included), the numbers are
added up from the running totals per version and UTC hour (store/rollups.py: HourTotals,
HourScoreTotals), a few rows per hour whatever the traffic. A filter, or a zone such as India's
(+05:30), reads the logs of the period: the database puts each log in its bucket with CASEs over
start_time, the same portable statement on SQLite and PostgreSQL, over the (workspace, start_time)
index (bench/bench_trends.py has both)."""

from __future__ import annotations

from collections import namedtuple
from datetime import datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Float, String, case, cast, func, literal, select, union_all
from sqlalchemy.orm import Session

from promptyard.domain import access, query
from promptyard.domain.records import Principal
from promptyard.store.models import HourScoreTotals, HourTotals, Request, Score
from promptyard.store.query_sql import where
from promptyard.store.types import utcnow

_Row = namedtuple("_Row", "score day name number n value")
PERIODS = (7, 14, 30, 90)  # days a page may ask for
HOUR_PERIODS = (1, 2, 3, 7)  # days a page may ask for per hour (at most 168 points a line)


def per_day(session: Session, p: Principal, *, days: int, tz: str, prompt: str | None = None,
            node: query.Node | None = None, now: datetime | None = None) -> dict[str, Any]:
    """{"days": [date, ...] oldest first, "series": [{"prompt", "version", "count": [n per day],
    "errors": [...], "scores": {name: [(n, mean) or None per day]}}, ...]} (busiest version first)."""
    now = now or utcnow()
    edges, dates = _day_edges(now, days, ZoneInfo(tz))
    return {"days": dates, "series": _series_over(session, p, edges, prompt, node, now)}


def per_hour(session: Session, p: Principal, *, hours: int, tz: str, prompt: str | None = None,
             node: query.Node | None = None, now: datetime | None = None) -> dict[str, Any]:
    """As per_day, per hour of the last `hours` hours (the current one included): "hours" holds
    each hour's start as an aware datetime in `tz`, oldest first."""
    now = now or utcnow()
    edges, starts = _hour_edges(now, hours, ZoneInfo(tz))
    return {"hours": starts, "series": _series_over(session, p, edges, prompt, node, now)}


def _series_over(session: Session, p: Principal, edges: list[datetime], prompt: str | None,
                 node: query.Node | None, now: datetime) -> list[dict[str, Any]]:
    """Each version's numbers per bucket [edges[i], edges[i + 1]) (UTC instants, ascending)."""
    access.require(p, "read")
    if node is None and all(e.minute == e.second == e.microsecond == 0 for e in edges):
        return _from_totals(session, p, edges, prompt)
    return _from_logs(session, p, edges, prompt, node, now)


def _from_totals(session: Session, p: Principal, edges: list[datetime], prompt: str | None) -> list[dict[str, Any]]:
    """The buckets added up from the running totals per UTC hour (edges on whole hours)."""
    buckets = len(edges) - 1
    rows = []
    for model, values in ((HourTotals, (func.sum(HourTotals.requests), cast(func.sum(HourTotals.errors), Float))),
                          (HourScoreTotals, (func.sum(HourScoreTotals.n), cast(func.sum(HourScoreTotals.sum), Float)))):
        score = model.name if model is HourScoreTotals else literal(None, String)
        day = _day_of(model.hour, edges, 0, buckets)
        q = select(score.label("score"), day.label("day"), model.prompt_name.label("name"),
                   model.version_number.label("number"), values[0].label("n"), values[1].label("value")
                   ).where(model.workspace_id == p.workspace_id, model.hour >= edges[0], model.hour < edges[-1])
        if prompt:
            q = q.where(model.prompt_name == prompt)
        group = (day, model.prompt_name, model.version_number) + ((model.name,) if model is HourScoreTotals else ())
        rows += [r for r in session.execute(q.group_by(*group)) if r.n]
    # a version's totals count unlinked logs under ("", 0); a log's own columns say None
    # (PostgreSQL sums bigints as numeric)
    return _collect([_Row(r.score, r.day, r.name or None, r.number or None, int(r.n),
                          float(r.value) / int(r.n) if r.score is not None else float(r.value)) for r in rows], buckets)


def _from_logs(session: Session, p: Principal, edges: list[datetime], prompt: str | None,
               node: query.Node | None, now: datetime) -> list[dict[str, Any]]:
    """The buckets counted from the period's logs (a filter, or edges off whole UTC hours)."""
    buckets = len(edges) - 1
    day = _day_of(Request.start_time, edges, 0, buckets)
    scope = [Request.workspace_id == p.workspace_id, Request.start_time >= edges[0], Request.start_time < edges[-1]]
    if prompt:
        scope.append(Request.prompt_name == prompt)
    if node is not None:
        scope.append(where(node, now, sets_of=p.workspace_id))
    m = select(Request.id, day.label("day"), Request.prompt_name.label("name"),
               Request.version_number.label("number"), Request.status
               ).where(*scope).cte("in_period").prefix_with("MATERIALIZED")  # else SQLite reads every log
    errors = func.sum(case((m.c.status == "error", 1), else_=0))
    totals = select(literal(None, String).label("score"), m.c.day, m.c.name, m.c.number, func.count().label("n"),
                    cast(errors, Float).label("value")).group_by(m.c.day, m.c.name, m.c.number)
    scores = select(Score.name.label("score"), m.c.day, m.c.name, m.c.number, func.count(Score.value).label("n"),
                    cast(func.avg(Score.value), Float).label("value")
                    ).join(Score, Score.request_id == m.c.id).group_by(m.c.day, m.c.name, m.c.number, Score.name)
    return _collect(session.execute(union_all(totals, scores)).all(), buckets)  # one statement: one read


def _collect(rows: list[Any], buckets: int) -> list[dict[str, Any]]:
    """Rows (score or None, day, name, number, n, value: errors, or a score's mean) as series."""
    series: dict[tuple, dict[str, Any]] = {}
    for r in sorted(rows, key=lambda r: r.score is not None):  # totals first: they make the series
        if r.score is None:
            s = series.setdefault((r.name, r.number), _series(r.name, r.number, buckets))
            s["count"][r.day], s["errors"][r.day] = r.n, int(r.value or 0)
        else:
            day_means = series[(r.name, r.number)]["scores"].setdefault(r.score, [None] * buckets)
            day_means[r.day] = (r.n, float(r.value))
    return sorted(series.values(), key=lambda s: (-sum(s["count"]), s["prompt"] or "", s["version"] or 0))


def _day_of(column: Any, edges: list[datetime], lo: int, hi: int) -> Any:
    """The bucket (lo <= index < hi) a time (a log's start_time, an hour) falls in: CASEs that halve
    the buckets, so a row takes log2(buckets) comparisons, not one per bucket."""
    if hi - lo == 1:
        return literal(lo)
    mid = (lo + hi) // 2
    return case((column < edges[mid], _day_of(column, edges, lo, mid)), else_=_day_of(column, edges, mid, hi))


def _day_edges(now: datetime, days: int, zone: ZoneInfo) -> tuple[list[datetime], list[Any]]:
    """The UTC instants of the local midnights that bound the last `days` days (today included)."""
    today = now.astimezone(zone).date()
    dates = [today - timedelta(days=days - 1 - i) for i in range(days)]
    edges = [datetime.combine(d, time(), zone).astimezone(timezone.utc) for d in [*dates, today + timedelta(days=1)]]
    return edges, dates


def _hour_edges(now: datetime, hours: int, zone: ZoneInfo) -> tuple[list[datetime], list[datetime]]:
    """The UTC instants that bound the last `hours` local hours, and each hour's start in `zone`.
    Hours are an hour apart in UTC, so a DST change neither skips nor doubles one."""
    local = now.astimezone(zone)
    current = local.replace(minute=0, second=0, microsecond=0).astimezone(timezone.utc)
    edges = [current - timedelta(hours=hours - 1 - i) for i in range(hours + 1)]
    return edges, [e.astimezone(zone) for e in edges[:-1]]


def _series(name: str | None, number: int | None, days: int) -> dict[str, Any]:
    return {"prompt": name, "version": number, "count": [0] * days, "errors": [0] * days, "scores": {}}
