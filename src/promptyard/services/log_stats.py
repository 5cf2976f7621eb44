"""Aggregates per prompt version over any filter: count, error rate, latency p50/p95, tokens,
cost, and per score name count, mean and a 95% confidence interval."""

from __future__ import annotations

from collections import defaultdict
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
               func.sum(Request.total_tokens), func.avg(Request.total_tokens), func.sum(Request.cost))
        .where(*scope).group_by(*key).order_by(*key))
    out: dict[tuple, dict[str, Any]] = {}
    for name, number, n, errors, tok_sum, tok_avg, cost in totals:
        out[(name, number)] = {"prompt": name, "version": number, "count": n, "error_rate": (errors or 0) / n,
                               "tokens_total": tok_sum, "tokens_mean": float(tok_avg) if tok_avg is not None else None,
                               "cost_total": cost, "latency_p50": None, "latency_p95": None, "scores": {}}
    latencies: dict[tuple, list[float]] = defaultdict(list)
    for name, number, lat in session.execute(select(*key, Request.latency_ms).where(
            *scope, Request.latency_ms.is_not(None))):
        latencies[(name, number)].append(lat)
    for k, values in latencies.items():
        values.sort()
        out[k]["latency_p50"], out[k]["latency_p95"] = stats.percentile(values, 50), stats.percentile(values, 95)
    scores: dict[tuple, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for name, number, sname, value in session.execute(
            select(*key, Score.name, Score.value).join(Score, Score.request_id == Request.id).where(*scope)):
        scores[(name, number)][sname].append(value)
    for k, by_name in scores.items():
        for sname, values in sorted(by_name.items()):
            s = stats.summary(values)
            out[k]["scores"][sname] = {"n": s.n, "mean": s.mean, "ci_low": s.ci_low, "ci_high": s.ci_high}
    return list(out.values())
