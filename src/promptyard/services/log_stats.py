"""Aggregates per prompt version: count, error rate, latency p50/p95, tokens, cost, and per score
name count, mean and a 95% confidence interval.

Over all of a workspace's logs (or one prompt's) they come from the running totals in
store/rollups.py, a few milliseconds whatever the number of logs, with latency percentiles
within 1% (a histogram). With a filter they are computed exactly from the matching logs, by
the database in one statement (bench/bench_analytics.py; docs/benchmarks.md has the figures)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Float, Select, String, case, cast, func, literal, null, select, union_all
from sqlalchemy.orm import Session

from promptyard.domain import access, query, stats
from promptyard.domain.records import Principal
from promptyard.store import rollups
from promptyard.store.models import RedactionCount, Request, Score
from promptyard.store.query_sql import where
from promptyard.store.types import utcnow

QUANTILES = (50, 95)


def per_version(session: Session, p: Principal, *, prompt: str | None = None,
                node: query.Node | None = None) -> list[dict[str, Any]]:
    access.require(p, "read")
    items = _from_totals(session, p, prompt) if node is None else _from_logs(session, p, prompt, node)
    return sorted(items, key=lambda i: (i["prompt"] is None, i["prompt"] or "", i["version"] or 0))


def _item(name: str | None, number: int | None, n: int, errors: int, tokens_total: float | None,
          tokens_mean: float | None, cost: float | None, latency: list[float | None]) -> dict[str, Any]:
    return {"prompt": name, "version": number, "count": n, "error_rate": (errors or 0) / n,
            "tokens_total": tokens_total, "tokens_mean": tokens_mean, "cost_total": cost,
            "latency_p50": latency[0], "latency_p95": latency[1], "scores": {}}


def _score(n: int, mean: float, mean_sq: float) -> dict[str, Any]:
    s = stats.summary_from_moments(n, float(mean), float(mean_sq))
    return {"n": s.n, "mean": s.mean, "ci_low": s.ci_low, "ci_high": s.ci_high}


def _from_totals(session: Session, p: Principal, prompt: str | None) -> list[dict[str, Any]]:
    data = rollups.read(session, p.workspace_id, prompt or None)
    out = []
    for k, t in data["totals"].items():
        item = _item(k[0] or None, k[1] or None, t.requests, t.errors, t.tokens_sum if t.tokens_n else None,
                     t.tokens_sum / t.tokens_n if t.tokens_n else None, t.cost_sum if t.cost_n else None,
                     [rollups.percentile(data["latency"].get(k, ()), q) for q in QUANTILES])
        for name, s in sorted(data["scores"].get(k, {}).items()):
            item["scores"][name] = _score(s.n, s.sum / s.n, s.sum_sq / s.n)
        out.append(item)
    return out


def _from_logs(session: Session, p: Principal, prompt: str | None, node: query.Node) -> list[dict[str, Any]]:
    """Exactly, from the matching logs, in one statement: the matches are found once (a
    materialised CTE: filter, index sets, row lookups) and the totals, the latencies at the
    percentile ranks and the score moments are all read from it, from one snapshot. (Three
    statements found the matches three times.)"""
    scope = [Request.workspace_id == p.workspace_id, where(node, utcnow(), sets_of=p.workspace_id)]
    if prompt:
        scope.append(Request.prompt_name == prompt)
    m = select(Request.id, Request.prompt_name.label("name"), Request.version_number.label("number"),
               Request.status, Request.total_tokens, Request.cost, Request.latency_ms
               ).where(*scope).cte("matches").prefix_with("MATERIALIZED")
    rows = session.execute(union_all(_totals(m), _latency_ranks(m), _score_moments(m))).all()
    out: dict[tuple, dict[str, Any]] = {}
    latency_n: dict[tuple, int] = {}
    for r in rows:
        if r.kind == TOTALS:
            out[(r.name, r.number)] = _item(r.name, r.number, r.n, r.errors, r.tokens_sum,
                                            float(r.tokens_mean) if r.tokens_mean is not None else None, r.cost,
                                            [None, None])
            latency_n[(r.name, r.number)] = r.latency_n
    at_rank: dict[tuple, dict[int, float]] = {key: {} for key in out}
    for r in rows:
        if r.kind == LATENCY and (r.name, r.number) in out:
            at_rank[(r.name, r.number)][r.n] = r.value
        elif r.kind == SCORE and (r.name, r.number) in out:
            out[(r.name, r.number)]["scores"][r.score] = _score(r.n, r.value, r.value_sq)
    for key, item in out.items():
        item["latency_p50"], item["latency_p95"] = _percentiles(at_rank[key], latency_n[key])
        item["scores"] = dict(sorted(item["scores"].items()))
    return list(out.values())


def redactions(session: Session, p: Principal, *, prompt: str | None = None,
               node: query.Node | None = None) -> dict[str, dict[str, int]]:
    """Per kind, the spans redacted before storage and the logs they were in (over the matching logs)."""
    access.require(p, "read")
    q = select(RedactionCount.kind, func.sum(RedactionCount.n), func.count()).where(
        RedactionCount.workspace_id == p.workspace_id)
    if node is not None or prompt:
        scope = [Request.workspace_id == p.workspace_id, where(node, utcnow(), sets_of=p.workspace_id)]
        if prompt:
            scope.append(Request.prompt_name == prompt)
        q = q.where(RedactionCount.request_id.in_(select(Request.id).where(*scope)))
    rows = session.execute(q.group_by(RedactionCount.kind).order_by(RedactionCount.kind)).all()
    return {kind: {"spans": int(spans), "requests": n} for kind, spans, n in rows}


# The three parts of the statement are rows of one shape: a kind, the version, and the columns of that kind
# (the others typed NULLs, so that PostgreSQL can unite them).
TOTALS, LATENCY, SCORE = 0, 1, 2
COLUMNS = (("score", String), ("n", BigInteger), ("errors", BigInteger), ("tokens_sum", BigInteger),
           ("tokens_mean", Float), ("cost", Float), ("latency_n", BigInteger), ("value", Float), ("value_sq", Float))


def _part(kind: int, name: Any, number: Any, **given: Any) -> Select:
    return select(literal(kind).label("kind"), name.label("name"), number.label("number"),
                  *((given[c] if c in given else cast(null(), t)).label(c) for c, t in COLUMNS))


def _totals(m: Any) -> Select:
    return _part(TOTALS, m.c.name, m.c.number, n=func.count(), errors=func.sum(case((m.c.status == "error", 1), else_=0)),
                 tokens_sum=func.sum(m.c.total_tokens), tokens_mean=func.avg(m.c.total_tokens),
                 cost=func.sum(m.c.cost), latency_n=func.count(m.c.latency_ms)).group_by(m.c.name, m.c.number)


def _latency_ranks(m: Any) -> Select:
    """Per version, the latencies at the ranks that the percentiles interpolate between
    (_ranks: r and r + 1 for each of QUANTILES), ranked by one window over the matches."""
    version, by_latency = (m.c.name, m.c.number), m.c.latency_ms
    ranked = select(m.c.name, m.c.number, by_latency,
                    (func.row_number().over(partition_by=version, order_by=by_latency) - 1).label("rank"),
                    func.count().over(partition_by=version, order_by=by_latency, rows=(None, None)).label("n")
                    ).where(by_latency.is_not(None)).subquery()
    wanted = [(ranked.c.n - 1) * q // 100 + d for q in QUANTILES for d in (0, 1)]  # int((n - 1) * q / 100), _ranks
    return _part(LATENCY, ranked.c.name, ranked.c.number, n=ranked.c.rank, value=ranked.c.latency_ms
                 ).where(ranked.c.rank.in_(wanted))


def _score_moments(m: Any) -> Select:
    """n, mean and mean of squares per version and score name over the matches."""
    return _part(SCORE, m.c.name, m.c.number, score=Score.name, n=func.count(Score.value), value=func.avg(Score.value),
                 value_sq=func.avg(Score.value * Score.value)
                 ).join(Score, Score.request_id == m.c.id).group_by(m.c.name, m.c.number, Score.name)


def _ranks(n: int, q: float) -> tuple[int, float]:
    """0-based rank below the q-th percentile of n sorted values, and the interpolation weight
    (linear, numpy's default)."""
    k = (n - 1) * q / 100
    return int(k), k - int(k)


def _percentiles(at_rank: dict[int, float], n: int) -> list[float | None]:
    """QUANTILES of n latencies from the values at their ranks (a rank is missing only if none has a latency)."""
    out: list[float | None] = []
    for r, w in (_ranks(n, q) for q in QUANTILES):
        out.append(at_rank[r] + (at_rank.get(r + 1, at_rank[r]) - at_rank[r]) * w if r in at_rank else None)
    return out
