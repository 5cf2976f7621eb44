"""The filtered analytics statement (services/log_stats.py) on PostgreSQL, prepared, planned for its
values and generically, on two connections run in turn (docs/benchmarks.md, "Generic plans"):

    python bench/analytics_plans.py --url postgresql+psycopg://postgres@127.0.0.1:5432/promptyard_bench_pg \\
        --filter 'metadata.store = "s3"'

Prints each mode's min, median and max milliseconds and the load average."""

from __future__ import annotations

import argparse
import os
import statistics
import time

import psycopg
from sqlalchemy import select, union_all
from sqlalchemy.engine import make_url

from promptyard.domain import query
from promptyard.services import keys, log_stats
from promptyard.store.db import Database
from promptyard.store.models import Request, Workspace

MODES = ("force_custom_plan", "force_generic_plan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--filter", default='metadata.store = "s3"')
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    db = Database(args.url)
    with db.read() as s:
        ws = s.scalar(select(Workspace.id).join(Request, Request.workspace_id == Workspace.id).limit(1))
        p, node = keys.system_principal(ws), query.parse(args.filter)
        m = select(Request.id, Request.prompt_name.label("name"), Request.version_number.label("number"),
                   Request.status, Request.total_tokens, Request.cost, Request.latency_ms
                   ).where(*log_stats._matching(s, p, None, node)).cte("matches").prefix_with("MATERIALIZED")
        compiled = union_all(log_stats._totals(m), log_stats._score_moments(m)).compile(db.engine)
    db.dispose()
    url = make_url(args.url)
    conns = {}
    for mode in MODES:
        c = psycopg.connect(host=url.host, port=url.port or 5432, user=url.username, dbname=url.database,
                            autocommit=True)
        c.execute(f"SET plan_cache_mode = {mode}")
        c.execute(str(compiled), compiled.params, prepare=True).fetchall()
        conns[mode] = c
    ms: dict[str, list[float]] = {mode: [] for mode in MODES}
    for _ in range(args.runs):
        for mode, c in conns.items():
            t = time.perf_counter()
            c.execute(str(compiled), compiled.params, prepare=True).fetchall()
            ms[mode].append((time.perf_counter() - t) * 1000)
    for mode, v in ms.items():
        print(f"{mode:20s} min {min(v):6.1f}  median {statistics.median(v):6.1f}  max {max(v):6.1f}")
    print("load", os.getloadavg())


if __name__ == "__main__":
    main()
