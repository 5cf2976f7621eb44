"""Scores stored per second through the Python SDK (issue 15), against a real `promptyard serve` on
SQLite and PostgreSQL: one request per score (the SDK before the bulk routes, forced here with its
fallback for old servers) and in bulk (POST /api/v1/scores, a batch's scores in one request). The
clock runs from the first `score()` call to the end of `flush()`, and the stored count is checked on
the server (statistics recounted from the logs) before a figure is kept. Target: >= 5,000 scores/s.

    python bench/bench_scores.py [--scores 20000] [--before 2000] [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import create_engine

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from common import fresh_pg, machine, server, write_section  # noqa: E402

from promptyard import Promptyard  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/promptyard_bench_scores"


def client(url: str, key: str, n: int) -> Promptyard:
    return Promptyard(url, key, watch_changes=False, handle_signals=False, max_queue=n + 1000, timeout=60)


def seed(url: str, key: str, n: int, run: str) -> list[str]:
    py = client(url, key, n)
    ids = [py.log(provider="openai", model="gpt-4o", input={"messages": [{"role": "user", "content": f"用量 {i}"}]},
                  output="1日2回", metadata={"run": run}) for i in range(n)]
    assert py.flush(600), py.stats()
    py.shutdown(5)
    return ids


def analyze(database_url: str) -> None:
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.exec_driver_sql("ANALYZE")
    engine.dispose()


def stored(url: str, key: str, run: str, name: str) -> int:
    r = httpx.get(url + "/api/v1/requests/stats", params={"filter": f'metadata.run = "{run}"'},
                  headers={"Authorization": f"Bearer {key}"}, timeout=120)
    r.raise_for_status()
    return sum(item["scores"].get(name, {}).get("n", 0) for item in r.json()["items"])


def score_rate(url: str, key: str, ids: list[str], run: str, *, per_call: bool, log_too: bool = False,
               name: str | None = None) -> tuple[float, str]:
    """(scores stored per second, the score's name); with `log_too` each score follows its own log in
    the same run (the logs are counted in the time, not in the rate); `name` given: re-scores."""
    name = name or f"s_{uuid.uuid4().hex[:8]}"
    py = client(url, key, 2 * len(ids))
    py.batcher._per_call = per_call  # the fallback for servers without the bulk routes: one POST per score
    start = time.perf_counter()
    for i, rid in enumerate(ids):
        if log_too:
            py.log(provider="openai", model="gpt-4o", output="1日2回", metadata={"run": run}, request_id=rid)
        py.score(rid, name, (i * 7) % 101, comment="確認済み" if i % 10 == 0 else None)
    assert py.flush(1800), py.stats()
    elapsed = time.perf_counter() - start
    py.shutdown(5)
    got = stored(url, key, run, name)
    assert got == len(ids), f"{got} of {len(ids)} scores stored"
    return len(ids) / elapsed, name


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scores", type=int, default=20_000, help="scores in bulk (and logs scored)")
    ap.add_argument("--before", type=int, default=2_000, help="scores one request each (slow)")
    ap.add_argument("--only", choices=["sqlite", "postgresql"])
    args = ap.parse_args()
    targets = [("SQLite", None)] if args.only != "postgresql" else []
    if args.only != "sqlite" and fresh_pg(PG):
        targets.append(("PostgreSQL", PG))
    rows = []
    for label, database_url in targets:
        with server(database_url) as (url, key):
            run = uuid.uuid4().hex
            ids = seed(url, key, args.scores, run)
            if database_url:  # the statistics autovacuum gathers within a minute of a load
                analyze(database_url)
            before, _ = score_rate(url, key, ids[:args.before], run, per_call=True)
            after, name = score_rate(url, key, ids, run, per_call=False)
            rescored, _ = score_rate(url, key, ids, run, per_call=False, name=name)  # every score replaced
            fresh = [str(uuid.uuid4()) for _ in range(args.scores)]
            with_logs, _ = score_rate(url, key, fresh, run, per_call=False, log_too=True)
        rows.append(f"| {label} | {before:,.0f} | {after:,.0f} | {rescored:,.0f} | {with_logs:,.0f} |")
        print(rows[-1], flush=True)
    load = os.getloadavg()[0]
    text = "\n".join([
        "## Scores through the SDK (bench/bench_scores.py)", "",
        f"{machine()}, load average {load:.1f} at the end of the run (the machine was shared). One "
        "`promptyard serve` process; the Python SDK with its defaults (batches of 500, one sender thread). "
        "Scores stored per second, from the first `score()` call to the end of `flush()`; each run's count "
        f"is checked on the server. {args.scores:,} scores of stored logs in bulk (a second run scores them "
        f"again, replacing each); {args.before:,} one request each, as the SDK sent them before "
        "POST /api/v1/scores; and logging + scoring each of "
        f"{args.scores:,} new requests in the same run (their scores usually in the same batch as the logs).",
        "", "| database | one request per score | bulk, new scores | bulk, replacing scores | bulk, log + score each |",
        "|---|---|---|---|---|", *rows, "",
        "Target: >= 5,000 scores/s (issue 15: 265 scores/s before).",
    ])
    write_section("bench-scores", text)
    print(text)


if __name__ == "__main__":
    main()
