"""Aggregates per prompt version over any filter: count, error rate, latency p50/p95, tokens,
cost, and per score name count, mean and a 95% confidence interval - all computed by the
database from covering indexes (docs/benchmarks.md has the figures for a million logs)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from promptyard.domain import access, query, stats
from promptyard.domain.records import Principal
from promptyard.store.query_sql import where
from promptyard.store.models import Request, Score
from promptyard.store.types import utcnow


KEY = (Request.prompt_name, Request.version_number)
QUANTILES = (50, 95)


def per_version(session: Session, p: Principal, *, prompt: str | None = None,
                node: query.Node | None = None) -> list[dict[str, Any]]:
    access.require(p, "read")
    scope = [Request.workspace_id == p.workspace_id, where(node, utcnow(), sets_of=p.workspace_id)]
    if prompt:
        scope.append(Request.prompt_name == prompt)
    totals = session.execute(
        select(*KEY, func.count(), func.sum(case((Request.status == "error", 1), else_=0)),
               func.sum(Request.total_tokens), func.avg(Request.total_tokens), func.sum(Request.cost),
               func.count(Request.latency_ms))
        .where(*scope).group_by(*KEY).order_by(*KEY)).all()
    latency = _latency_percentiles(session, scope, {(row[0], row[1]): row[-1] for row in totals}, node is not None)
    out: dict[tuple, dict[str, Any]] = {}
    for name, number, n, errors, tok_sum, tok_avg, cost, _ in totals:
        p50, p95 = latency.get((name, number), (None, None))
        out[(name, number)] = {"prompt": name, "version": number, "count": n, "error_rate": (errors or 0) / n,
                               "tokens_total": tok_sum, "tokens_mean": float(tok_avg) if tok_avg is not None else None,
                               "cost_total": cost, "latency_p50": p50, "latency_p95": p95, "scores": {}}
    for name, number, sname, n, mean, mean_sq in session.execute(_score_moments(p, prompt, node)):
        if (name, number) not in out:  # a score of a request outside the scope
            continue
        s = stats.summary_from_moments(n, float(mean), float(mean_sq))
        out[(name, number)]["scores"][sname] = {"n": s.n, "mean": s.mean, "ci_low": s.ci_low, "ci_high": s.ci_high}
    return list(out.values())


def _score_moments(p: Principal, prompt: str | None, node: query.Node | None) -> Select:
    """n, mean and mean of squares per version and score name. Without a filter the scores table
    answers alone (each score carries its request's version); a filter needs the requests."""
    key = (Score.prompt_name, Score.version_number)
    moments = (func.count(Score.value), func.avg(Score.value), func.avg(Score.value * Score.value))
    if node is None:
        q = select(*key, Score.name, *moments).where(Score.workspace_id == p.workspace_id)
        if prompt:
            q = q.where(Score.prompt_name == prompt)
    else:
        q = select(*key, Score.name, *moments).join(Request, Request.id == Score.request_id).where(
            Request.workspace_id == p.workspace_id, where(node, utcnow(), sets_of=p.workspace_id))
        if prompt:
            q = q.where(Request.prompt_name == prompt)
    return q.group_by(*key, Score.name).order_by(Score.name)


def _ranks(n: int, q: float) -> tuple[int, float]:
    """0-based rank below the q-th percentile of n sorted values, and the interpolation weight
    (linear, numpy's default)."""
    k = (n - 1) * q / 100
    return int(k), k - int(k)


def _latency_percentiles(session: Session, scope: list, counts: dict[tuple, int],
                         filtered: bool) -> dict[tuple, list[float | None]]:
    """p50 and p95 of latency per version; only the rows at those ranks leave the database.

    Without a filter the covering index is already sorted by version and latency, so ORDER BY +
    OFFSET reads each rank directly. A filter's matches are not in index order: one window query
    ranks them all in a single pass instead of one sort per version and percentile (12 s -> 0.7 s
    on a million logs, SQLite)."""
    wanted = {key: [_ranks(n, q) for q in QUANTILES] for key, n in counts.items() if n}
    found: dict[tuple, dict[int, float]] = {key: {} for key in wanted}
    ordered = select(Request.latency_ms).where(*scope, Request.latency_ms.is_not(None)).order_by(Request.latency_ms)
    if filtered and wanted:
        rank = func.row_number().over(partition_by=KEY, order_by=Request.latency_ms) - 1
        ranked = select(*KEY, Request.latency_ms, rank.label("rank")).where(
            *scope, Request.latency_ms.is_not(None)).subquery()
        ranks = sorted({r + d for parts in wanted.values() for r, _ in parts for d in (0, 1)})
        for name, number, latency, r in session.execute(select(ranked).where(ranked.c.rank.in_(ranks))):
            if (name, number) in found:
                found[(name, number)][r] = latency
    else:
        for (name, number), parts in wanted.items():
            one = ordered.where(_is(Request.prompt_name, name), _is(Request.version_number, number))
            for r, _ in parts:
                found[(name, number)].update(enumerate(session.scalars(one.offset(r).limit(2)), start=r))
    out = {}
    for key, parts in wanted.items():
        values = found[key]  # a rank can be missing only if rows vanished between the two queries
        out[key] = [values[r] + (values.get(r + 1, values[r]) - values[r]) * w if r in values else None
                    for r, w in parts]
    return out


def _is(col: Any, value: Any) -> Any:
    return col.is_(None) if value is None else col == value
