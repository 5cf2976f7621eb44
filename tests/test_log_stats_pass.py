"""Per-version statistics over a filter (services/log_stats.py, computed from the matching logs in one
statement) against a plain recomputation in Python over random logs, on SQLite and PostgreSQL:
counts, error rates, tokens, cost, numpy's latency percentiles and score means with t-intervals;
and the exact round trip of the latencies through store/value_lists.py."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from sqlalchemy import Float, Integer, column, select
from sqlalchemy import values as values_table

from promptyard.domain import stats
from promptyard.store import value_lists
from tests.support import CHAT, ingest, log

PROMPTS = {"ana/一": 2, "ana/two": 1}
SCORES = ("q", "正確さ", "r")
START = datetime(2026, 11, 20, 10, tzinfo=timezone.utc)


def timed_log(ms: float | None, minute: float = 0.0, **kw) -> dict:  # noqa: ANN003
    """A log of `ms` milliseconds (None: no end time, so no latency)."""
    start = START + timedelta(minutes=minute)
    one = log(start_time=start.isoformat(), **kw)
    if ms is None:
        del one["end_time"]
    else:
        one["end_time"] = (start + timedelta(milliseconds=ms)).isoformat()
    return one


def _random_logs(rng: random.Random, n: int) -> list[dict]:
    logs = []
    for _ in range(n):
        name = rng.choice([*PROMPTS, None])
        one = timed_log(rng.choice((rng.lognormvariate(6, 0.8), rng.randint(1, 5) * 100.0, None)), rng.random(),
                        model="no-such-model",
                  prompt={"name": name, "version": rng.randint(1, PROMPTS[name])} if name else None,
                  status="error" if rng.random() < 0.2 else "ok",
                  usage={"input_tokens": rng.randint(0, 900), "output_tokens": rng.randint(0, 300)}
                  if rng.random() < 0.8 else None,
                  metadata={"env": rng.choice(("a", "a", "b"))},
                  scores=[{"name": s, "value": rng.choice((rng.randint(0, 100), rng.random() * 100))}
                          for s in SCORES if rng.random() < 0.7])
        if rng.random() < 0.7:
            one["cost"] = round(rng.random() / 100, 6)
        if one["prompt"] is None:
            del one["prompt"]
        logs.append(one)
    return logs


def _expected(logs: list[dict], scores: dict[tuple[str, str], float], keep) -> dict:  # noqa: ANN001
    """The statistics of the logs `keep` selects, recomputed plainly (numpy percentiles)."""
    groups: dict[tuple, list[dict]] = {}
    for one in filter(keep, logs):
        p = one.get("prompt") or {}
        groups.setdefault((p.get("name"), p.get("version")), []).append(one)
    out = {}
    for key, members in groups.items():
        latency = [(datetime.fromisoformat(m["end_time"]) - datetime.fromisoformat(m["start_time"])).total_seconds()
                   * 1000 for m in members if "end_time" in m]
        tokens = [m["usage"]["input_tokens"] + m["usage"]["output_tokens"] for m in members if m["usage"]]
        costs = [m["cost"] for m in members if "cost" in m]
        item = {"count": len(members), "error_rate": sum(m["status"] == "error" for m in members) / len(members),
                "tokens_total": sum(tokens) if tokens else None, "tokens_mean": np.mean(tokens) if tokens else None,
                "cost_total": sum(costs) if costs else None,
                "latency_p50": np.percentile(latency, 50) if latency else None,
                "latency_p95": np.percentile(latency, 95) if latency else None, "scores": {}}
        for name in SCORES:
            values = [scores[(m["id"], name)] for m in members if (m["id"], name) in scores]
            if values:
                sd = np.std(values, ddof=1) if len(values) > 1 else None
                half = stats.t_ppf(0.975, len(values) - 1) * sd / np.sqrt(len(values)) if sd is not None else None
                mean = np.mean(values)
                item["scores"][name] = {"n": len(values), "mean": mean,
                                        "ci_low": mean - half if half is not None else None,
                                        "ci_high": mean + half if half is not None else None}
        out[key] = item
    return out


def _same(got: list[dict], want: dict) -> None:
    assert [(i["prompt"], i["version"]) for i in got] == sorted(
        want, key=lambda k: (k[0] is None, k[0] or "", k[1] or 0))
    for item in got:
        w = want[(item["prompt"], item["version"])]
        key = (item["prompt"], item["version"])
        for field in ("count", "error_rate", "tokens_total"):
            assert item[field] == w[field], (key, field)
        for field in ("tokens_mean", "cost_total", "latency_p50", "latency_p95"):
            assert item[field] == (None if w[field] is None else pytest.approx(w[field], rel=1e-9)), (key, field)
        assert list(item["scores"]) == sorted(w["scores"]), key
        for name, s in item["scores"].items():
            assert s == pytest.approx(w["scores"][name], rel=1e-9), (key, name)


def test_filtered_statistics_equal_a_plain_recomputation(api):
    rng = random.Random(15)
    for name, n in PROMPTS.items():
        for v in range(n):
            api.post("/api/v1/publish", json={**CHAT, "name": name, "messages": [{"role": "user", "content": f"v{v}"}]})
    logs = _random_logs(rng, 300)
    assert ingest(api, *logs)["accepted"] == len(logs)
    scores = {(one["id"], s["name"]): float(s["value"]) for one in logs for s in one["scores"]}
    for one in rng.sample(logs, 40):  # re-scored and newly scored after the logs arrived
        name, value = rng.choice(SCORES), rng.randint(0, 100)
        assert api.post(f"/api/v1/requests/{one['id']}/scores", json={"name": name, "value": value}).status_code < 300
        scores[(one["id"], name)] = float(value)
    cases = [
        ('metadata.env = "a"', None, lambda m: m["metadata"]["env"] == "a"),
        ('status = "error" OR metadata.env = "b"', None, lambda m: m["status"] == "error" or m["metadata"]["env"] == "b"),
        ('score.q >= 50', "ana/一", lambda m: (m.get("prompt") or {}).get("name") == "ana/一"
         and scores.get((m["id"], "q"), -1) >= 50),
        ('latency > 300', None, lambda m: "end_time" in m and (datetime.fromisoformat(m["end_time"])
                                                               - datetime.fromisoformat(m["start_time"])).total_seconds() * 1000 > 300),
    ]
    for text, prompt, keep in cases:
        params = {"filter": text, **({"prompt": prompt} if prompt else {})}
        got = api.get("/api/v1/requests/stats", params=params)
        assert got.status_code == 200, got.text
        _same(got.json()["items"], _expected(logs, scores, keep)), text


def test_versions_without_latency_or_with_one_value(api):
    """Percentiles of no latency are None; of one latency, that latency; an empty match is no item."""
    api.post("/api/v1/publish", json={**CHAT, "name": "ana/edge"})
    ingest(api, timed_log(None, prompt={"name": "ana/edge", "version": 1}, metadata={"env": "one"}),
           timed_log(None, prompt={"name": "ana/edge", "version": 1}, metadata={"env": "one"}),
           timed_log(250.0, metadata={"env": "one"}))
    items = api.get("/api/v1/requests/stats", params={"filter": 'metadata.env = "one"'}).json()["items"]
    assert [(i["prompt"], i["count"], i["latency_p50"], i["latency_p95"]) for i in items] == [
        ("ana/edge", 2, None, None), (None, 1, 250.0, 250.0)]
    assert api.get("/api/v1/requests/stats", params={"filter": 'metadata.env = "none"'}).json()["items"] == []


def test_index_sets_drive_and_the_rest_is_checked_per_log(api):
    """Filters with one or two AND-ed index sets (the smallest drives the matches) beside conditions
    checked per log (a column, an OR, a NOT) give the plain recomputation's statistics."""
    rng = random.Random(16)
    for name, n in PROMPTS.items():
        for v in range(n):
            api.post("/api/v1/publish", json={**CHAT, "name": name, "messages": [{"role": "user", "content": f"w{v}"}]})
    batch = f"b{rng.randrange(10**9)}"  # these logs only: the workspace holds the other tests' logs too
    logs = _random_logs(rng, 300)
    for one in logs:
        one["metadata"]["batch"] = batch
    assert ingest(api, *logs)["accepted"] == len(logs)
    scores = {(one["id"], s["name"]): float(s["value"]) for one in logs for s in one["scores"]}
    mine = f'metadata.batch = "{batch}"'
    cases = [
        (f'{mine} AND metadata.env = "b"', lambda m: m["metadata"]["env"] == "b"),
        (f'metadata.env = "a" AND {mine} AND score.q < 40', lambda m: m["metadata"]["env"] == "a"
         and scores.get((m["id"], "q"), 101) < 40),
        (f'{mine} AND (status = "error" OR score.r >= 70)', lambda m: m["status"] == "error"
         or scores.get((m["id"], "r"), -1) >= 70),
        (f'{mine} AND NOT metadata.env = "a"', lambda m: m["metadata"]["env"] != "a"),
    ]
    for text, keep in cases:
        got = api.get("/api/v1/requests/stats", params={"filter": text})
        assert got.status_code == 200, got.text
        _same(got.json()["items"], _expected(logs, scores, keep)), text


def test_numbers_travel_exactly(database):
    """store/value_lists: a group's floats come back bit for bit (latency magnitudes and more), NULLs left out."""
    rng = random.Random(17)
    values = [0.1 + 0.2, 1 / 3, 5e-324, 2.2250738585072014e-308, 123456789.12345679, 0.0, 250.0, -17.5,
              *(10 ** rng.uniform(-6, 12) for _ in range(300)), *(rng.lognormvariate(6.5, 0.4) for _ in range(300))]
    rows = values_table(column("g", Integer), column("x", Float), name="v").data(
        [(i % 3, x) for i, x in enumerate(values)] + [(0, None), (3, None)]).cte("v")
    with database.read() as s:
        got = dict(s.execute(select(rows.c.g, value_lists.numbers(rows.c.x)).group_by(rows.c.g)).all())
    for g in range(3):
        assert sorted(value_lists.read(got[g])) == sorted(values[g::3])
    assert value_lists.read(got[3]) == []


def test_the_statement_is_planned_for_its_values_however_often_it_runs(api, database):
    """PostgreSQL: psycopg prepares a statement run five times on a connection, and PostgreSQL may then
    plan it once for unknown values (a generic plan: serial, score rows sorted on disk at 32,000
    matches). Run past both thresholds on one connection, the analytics statement is still planned
    for its values every time (store/db.py sets it for every connection), and the statistics stay the same."""
    if database.engine.dialect.name != "postgresql":
        pytest.skip("SQLite plans every statement anew")
    from sqlalchemy import text

    from promptyard.domain import query
    from promptyard.services import log_stats

    api.post("/api/v1/publish", json={**CHAT, "name": "ana/plans"})
    rng = random.Random(18)
    ingest(api, *(timed_log(rng.lognormvariate(6, 0.5), prompt={"name": "ana/plans", "version": 1},
                            metadata={"env": "plans"}, scores=[{"name": "q", "value": rng.randint(0, 100)}])
                  for _ in range(40)))
    node = query.parse('metadata.env = "plans"')
    with database.read() as s:
        first = log_stats.per_version(s, api.principal, node=node)
        for _ in range(14):
            assert log_stats.per_version(s, api.principal, node=node) == first
        plans = s.execute(text("SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                               "WHERE statement LIKE 'WITH matches AS MATERIALIZED%'")).all()
    assert plans and all(generic == 0 and custom > 0 for generic, custom in plans), plans
    assert first[0]["count"] == 40
