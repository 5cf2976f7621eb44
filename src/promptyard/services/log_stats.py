"""Aggregates per prompt version: count, error rate, latency p50/p95, tokens, cost, and per score
name count, mean and a 95% confidence interval; a score with a config (services/score_configs.py)
adds what fits its type: a pass/fail score its pass rate with the Wilson interval, a categorical one
its median and the count of each value (domain/score_stats.py).

Over all of a workspace's logs (or one prompt's) they come from the running totals in
store/rollups.py, a few milliseconds whatever the number of logs, with latency percentiles
within 1% (a histogram). With a filter they are computed exactly from the matching logs, in one
statement, the percentiles in Python from each version's latencies (bench/bench_analytics.py;
docs/benchmarks.md has the figures). On PostgreSQL every statement here is planned for the filter's
values, never generically (as every statement is, store/db.py: a generic plan is serial and sorts on disk)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Float, Select, String, case, cast, func, literal, null, select, union_all
from sqlalchemy.orm import Session

from promptyard.domain import access, query, score_stats, stats
from promptyard.domain.records import Principal
from promptyard.services import score_configs
from promptyard.store import bulk, query_plan, rollups, value_lists
from promptyard.store.models import RedactionCount, Request, Score
from promptyard.store.query_sql import where
from promptyard.store.types import utcnow

QUANTILES = (50, 95)


def per_version(session: Session, p: Principal, *, prompt: str | None = None,
                node: query.Node | None = None) -> list[dict[str, Any]]:
    access.require(p, "read")
    items = _from_totals(session, p, prompt) if node is None else _from_logs(session, p, prompt, node)
    _typed(session, p, prompt, node, items)
    return sorted(items, key=lambda i: (i["prompt"] is None, i["prompt"] or "", i["version"] or 0))


def _typed(session: Session, p: Principal, prompt: str | None, node: query.Node | None,
           items: list[dict[str, Any]]) -> None:
    """A configured score's `type` and the figures of its type, added in place (a score without a
    config keeps n, mean and interval only):
    pass/fail -> pass_rate, pass_ci_low, pass_ci_high (0-1); categorical -> median and counts
    ({value: scores}, one more statement over the categorical scores of the same logs)."""
    configs = score_configs.for_scoring(session, p.workspace_id)
    ordinal = {n for n, c in configs.items() if c.type == "categorical"}
    present = {n for i in items for n in i["scores"]}
    counts = _value_counts(session, p, prompt, node, ordinal & present) if ordinal & present else {}
    for item in items:
        for name, s in item["scores"].items():
            if name not in configs:
                continue
            kind = s["type"] = configs[name].type
            if kind == "boolean" and s["n"]:
                rate = score_stats.wilson(score_stats.passes(s["n"], s["mean"] * s["n"]), s["n"])
                s |= {"pass_rate": rate.rate, "pass_ci_low": rate.ci_low, "pass_ci_high": rate.ci_high}
            elif kind == "categorical":
                summary = score_stats.ordinal(counts.get((item["prompt"], item["version"], name), {}))
                s |= {"median": summary.median, "counts": {stats_key(v): c for v, c in summary.counts.items()}}


def stats_key(value: float) -> str:
    """A value as a JSON key: 4.0 -> "4", 2.5 -> "2.5"."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _value_counts(session: Session, p: Principal, prompt: str | None, node: query.Node | None,
                  names: set[str]) -> dict[tuple, dict[float, int]]:
    """(prompt, version, score name) -> {value: scores} of the matching logs' scores of `names`."""
    cond = _matching(session, p, prompt, node) if node is not None else (
        [Request.workspace_id == p.workspace_id] + ([Request.prompt_name == prompt] if prompt else []))
    rows = session.execute(
        select(Request.prompt_name, Request.version_number, Score.name, Score.value, func.count())
        .join(Request, Request.id == Score.request_id)
        .where(Score.workspace_id == p.workspace_id, bulk.one_of(Score.name, names), *cond)
        .group_by(Request.prompt_name, Request.version_number, Score.name, Score.value)).all()
    out: dict[tuple, dict[float, int]] = {}
    for name, number, score, value, n in rows:
        out.setdefault((name or None, number or None, score), {})[float(value)] = int(n)
    return out


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
    materialised CTE: filter, index sets, row lookups); the totals and each version's latencies
    (store/value_lists.py: sorted here, for the percentiles) come from one GROUP BY over them, the
    score moments from their scores, all from one snapshot."""
    m = select(Request.id, Request.prompt_name.label("name"), Request.version_number.label("number"),
               Request.status, Request.total_tokens, Request.cost, Request.latency_ms
               ).where(*_matching(session, p, prompt, node)).cte("matches").prefix_with("MATERIALIZED")
    rows = session.execute(union_all(_totals(m), _score_moments(m))).all()
    out: dict[tuple, dict[str, Any]] = {}
    for r in rows:
        if r.kind == TOTALS:
            out[(r.name, r.number)] = _item(r.name, r.number, r.n, r.errors, r.tokens_sum,
                                            float(r.tokens_mean) if r.tokens_mean is not None else None, r.cost,
                                            _percentiles(sorted(value_lists.read(r.latencies))))
    for r in rows:
        if r.kind == SCORE and (r.name, r.number) in out:
            out[(r.name, r.number)]["scores"][r.score] = _score(r.n, r.value, r.value_sq)
    for item in out.values():
        item["scores"] = dict(sorted(item["scores"].items()))
    return list(out.values())


def redactions(session: Session, p: Principal, *, prompt: str | None = None,
               node: query.Node | None = None) -> dict[str, dict[str, int]]:
    """Per kind, the spans redacted before storage and the logs they were in (over the matching logs)."""
    access.require(p, "read")
    q = select(RedactionCount.kind, func.sum(RedactionCount.n), func.count()).where(
        RedactionCount.workspace_id == p.workspace_id)
    if node is not None or prompt:
        q = q.where(RedactionCount.request_id.in_(select(Request.id).where(*_matching(session, p, prompt, node))))
    rows = session.execute(q.group_by(RedactionCount.kind).order_by(RedactionCount.kind)).all()
    return {kind: {"spans": int(spans), "requests": n} for kind, spans, n in rows}


def _matching(session: Session, p: Principal, prompt: str | None, node: query.Node | None) -> list[Any]:
    """The conditions on `requests` of the workspace's logs that match. An aggregate visits every
    match: when an AND-ed condition offers an index set (store/query_plan.py), the smallest drives
    (its ids looked up, query_plan.Plan.workspace keeps the workspace's indexes from being walked in
    its place, the other conditions checked per row); else every log of the workspace is tested, with
    child conditions as index sets (`sets_of`). Walking cost all the logs, driving only the set:
    32,000 matches of 1,000,000 logs, SQLite, in-process CPU 436 -> 175 ms."""
    plan = query_plan.every_match(session, node, p.workspace_id)
    if plan.driver is not None:
        scope = [plan.workspace() == p.workspace_id, plan.where(utcnow())]
    else:
        scope = [Request.workspace_id == p.workspace_id, where(node, utcnow(), sets_of=p.workspace_id)]
    return scope + ([Request.prompt_name == prompt] if prompt else [])


# The two parts of the statement are rows of one shape: a kind, the version, and the columns of that kind
# (the others typed NULLs, so that PostgreSQL can unite them).
TOTALS, SCORE = 0, 1
COLUMNS = (("score", String), ("n", BigInteger), ("errors", BigInteger), ("tokens_sum", BigInteger),
           ("tokens_mean", Float), ("cost", Float), ("latencies", String), ("value", Float), ("value_sq", Float))


def _part(kind: int, name: Any, number: Any, **given: Any) -> Select:
    return select(literal(kind).label("kind"), name.label("name"), number.label("number"),
                  *((given[c] if c in given else cast(null(), t)).label(c) for c, t in COLUMNS))


def _totals(m: Any) -> Select:
    return _part(TOTALS, m.c.name, m.c.number, n=func.count(), errors=func.sum(case((m.c.status == "error", 1), else_=0)),
                 tokens_sum=func.sum(m.c.total_tokens), tokens_mean=func.avg(m.c.total_tokens),
                 cost=func.sum(m.c.cost), latencies=value_lists.numbers(m.c.latency_ms)).group_by(m.c.name, m.c.number)


def _score_moments(m: Any) -> Select:
    """n, mean and mean of squares per version and score name over the matches."""
    return _part(SCORE, m.c.name, m.c.number, score=Score.name, n=func.count(Score.value), value=func.avg(Score.value),
                 value_sq=func.avg(Score.value * Score.value)
                 ).join(Score, Score.request_id == m.c.id).group_by(m.c.name, m.c.number, Score.name)


def _percentiles(ordered: list[float]) -> list[float | None]:
    """QUANTILES of sorted values, linear between ranks (numpy's default); None for no values."""
    out: list[float | None] = []
    for q in QUANTILES:
        if not ordered:
            out.append(None)
            continue
        k = (len(ordered) - 1) * q / 100
        low = ordered[int(k)]
        out.append(low + (ordered[min(int(k) + 1, len(ordered) - 1)] - low) * (k - int(k)))
    return out
