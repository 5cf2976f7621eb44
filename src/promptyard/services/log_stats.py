"""Aggregates per prompt version over any filter: count, error rate, latency p50/p95, tokens,
cost, and per score name count, mean and a 95% confidence interval - all computed by the
database, so a million logs take well under a second."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from promptyard.domain import access, query, stats
from promptyard.domain.records import Principal
from promptyard.store.query_sql import where
from promptyard.store.models import Request, Score
from promptyard.store.types import utcnow


def per_version(session: Session, p: Principal, *, prompt: str | None = None,
                node: query.Node | None = None) -> list[dict[str, Any]]:
    access.require(p, "read")
    scope = [Request.workspace_id == p.workspace_id, where(node, utcnow())]
    if prompt:
        scope.append(Request.prompt_name == prompt)
    key = (Request.prompt_name, Request.version_number)
    totals = session.execute(
        select(*key, func.count(), func.sum(case((Request.status == "error", 1), else_=0)),
               func.sum(Request.total_tokens), func.avg(Request.total_tokens), func.sum(Request.cost),
               func.count(Request.latency_ms))
        .where(*scope).group_by(*key).order_by(*key))
    out: dict[tuple, dict[str, Any]] = {}
    for name, number, n, errors, tok_sum, tok_avg, cost, n_latency in totals:
        p50, p95 = (_percentile(session, scope, name, number, n_latency, q) for q in (50, 95))
        out[(name, number)] = {"prompt": name, "version": number, "count": n, "error_rate": (errors or 0) / n,
                               "tokens_total": tok_sum, "tokens_mean": float(tok_avg) if tok_avg is not None else None,
                               "cost_total": cost, "latency_p50": p50, "latency_p95": p95, "scores": {}}
    moments = session.execute(
        select(*key, Score.name, func.count(Score.value), func.avg(Score.value), func.avg(Score.value * Score.value))
        .join(Score, Score.request_id == Request.id).where(*scope).group_by(*key, Score.name).order_by(Score.name))
    for name, number, sname, n, mean, mean_sq in moments:
        s = stats.summary_from_moments(n, float(mean), float(mean_sq))
        out[(name, number)]["scores"][sname] = {"n": s.n, "mean": s.mean, "ci_low": s.ci_low, "ci_high": s.ci_high}
    return list(out.values())


def _percentile(session: Session, scope: list, name: str | None, number: int | None, n: int,
                q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default) read with ORDER BY + OFFSET: two rows
    leave the database instead of all of them."""
    if not n:
        return None
    k = (n - 1) * q / 100
    lo = int(k)
    rows = session.scalars(
        select(Request.latency_ms).where(*scope, Request.prompt_name.is_(name) if name is None
                                         else Request.prompt_name == name,
                                         Request.version_number.is_(None) if number is None
                                         else Request.version_number == number,
                                         Request.latency_ms.is_not(None))
        .order_by(Request.latency_ms).offset(lo).limit(2)).all()
    if len(rows) == 1:
        return rows[0]
    return rows[0] + (rows[1] - rows[0]) * (k - lo)
