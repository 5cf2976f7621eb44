"""How search grows with the log: the first page of a selective 3-condition filter (and of a
broad one, and the match count) at 5k, 100k and 1M logs, with the query planner's plan
(store/query_plan.py) and with the time walk it replaced (main's plan before issue 15, forced),
in-process through services/request_reads.browse (the call behind the API list, the UI list
and search). Targets: selective first page p95 < 20 ms at 100k, < 50 ms at 1M; growth
5k -> 100k <= x3.

    python bench/bench_search_scale.py --db sqlite --rows 5000,100000 [--runs 30]
    python bench/bench_search_scale.py --db postgresql --rows 5000,100000,1000000

Data sets come from bench/seed_million.py (seeded on first use, kept in bench/out/ and, for
PostgreSQL, in databases planner_bench_<rows>; then VACUUM ANALYZE, as autovacuum would do).
Each run appends its rows to bench/out/search-scale-<db>.json and rewrites the section."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy import create_engine, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import by_size, machine, pct, timed, write_section  # noqa: E402
from seed_million import OUT, seed  # noqa: E402

from promptyard.domain import query
from promptyard.services import keys, request_reads
from promptyard.store import query_plan
from promptyard.store.db import Database
from promptyard.store.models import Workspace

SELECTIVE = 'metadata.env = "prod" AND metadata.user_id = "u7" AND score.medically_correct >= 80'
BROAD = 'metadata.env = "prod" AND metadata.store = "s3" AND score.medically_correct < 30'
PG = "postgresql+psycopg://postgres@127.0.0.1:5432"


def url_for(db: str, rows: int) -> str:
    if db == "sqlite":
        return f"sqlite:///{OUT / f'planner-{rows}.db'}"
    return f"{PG}/planner_bench_{rows}"


def ensure(db: str, rows: int) -> str:
    """The data set's URL, seeded when it is not there yet."""
    url = url_for(db, rows)
    OUT.mkdir(exist_ok=True)
    if db == "sqlite":
        if not Path(url.split("///", 1)[1]).exists():
            seed(url, rows)
        return url
    admin = create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        there = c.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": f"planner_bench_{rows}"})
        if not there:
            c.exec_driver_sql(f"CREATE DATABASE planner_bench_{rows}")
    admin.dispose()
    if not there:
        seed(url, rows)
        vacuum = create_engine(url, isolation_level="AUTOCOMMIT")
        with vacuum.connect() as c:
            c.exec_driver_sql("VACUUM ANALYZE")
        vacuum.dispose()
    return url


def measure(url: str, runs: int) -> dict[str, float | str]:
    db = Database(url)
    out: dict[str, float | str] = {}
    with db.read() as s:
        ws = s.scalars(select(Workspace.id).order_by(Workspace.id.desc())).first()
        p = keys.system_principal(ws)
        for name, f in (("selective", SELECTIVE), ("broad", BROAD)):
            node = query.parse(f)
            chosen = query_plan.choose(s, node, ws, limit=50)
            out[f"{name}_plan"] = chosen.driver.cond.key if chosen.driver else "walk"
            for mode, plan in (("walk", "walk"), ("planned", None)):
                times = timed(lambda: request_reads.browse(s, p, node=node, limit=50, plan=plan), runs)  # noqa: B023
                out[f"{name}_{mode}_p50"], out[f"{name}_{mode}_p95"] = pct(times, 50), pct(times, 95)
            counted = timed(lambda: request_reads.browse(s, p, node=node, limit=50, count=True), max(5, runs // 3))  # noqa: B023
            out[f"{name}_count_p95"] = pct(counted, 95)
            out[f"{name}_matching"] = str(request_reads.browse(s, p, node=node, limit=1, count=True)["matching"])
    db.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=["sqlite", "postgresql"], required=True)
    ap.add_argument("--rows", default="5000,100000")
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    results = by_size(OUT / f"search-scale-{args.db}.json", args.rows,
                      lambda rows: measure(ensure(args.db, rows), args.runs))
    write(args.db, results)


def write(db: str, results: dict[str, dict]) -> None:
    label = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[db]
    rows = []
    for n in sorted(results, key=int):
        r = results[n]
        rows.append(f"| {int(n):,} | {r['selective_walk_p95']:.1f} | {r['selective_planned_p95']:.1f} "
                    f"({r['selective_plan']}) | {r['selective_count_p95']:.1f} | {r['broad_walk_p95']:.1f} | "
                    f"{r['broad_planned_p95']:.1f} ({r['broad_plan']}) | {r['broad_count_p95']:.1f} | {r['load']:.1f} |")
    growth = ""
    if "5000" in results and "100000" in results:
        before = results["100000"]["selective_walk_p95"] / results["5000"]["selective_walk_p95"]
        after = results["100000"]["selective_planned_p95"] / results["5000"]["selective_planned_p95"]
        growth = f" Growth of the selective first page p95 from 5,000 to 100,000 logs: x{before:.1f} walking, x{after:.1f} planned."
    write_section(f"search-scale-{db}", "\n".join([
        f"## Search as the log grows, {label} (`bench/bench_search_scale.py`)",
        f"Seeded by `bench/seed_million.py` (3 metadata keys, 2 scores per log; `user_id` one of 50,000). In-process "
        f"`request_reads.browse` (what the API and UI lists call), first page of 50, {machine()}; the load average "
        "(1 min) at the start of each run is in the last column: other work shared the 2 cores, so these are upper "
        f"bounds. Selective: `{SELECTIVE}` (a handful of matches); broad: `{BROAD}` (~0.6%). `walk` forces the time "
        "walk with one EXISTS per condition (the plan before the planner), `planned` is the planner's choice (the "
        "driving condition's key in brackets), `+count` the planned page with the match count (exact to 10,000). "
        f"p95, milliseconds.{growth} Targets: selective < 20 ms at 100k, < 50 ms at 1M, growth <= x3.", "",
        "| logs | selective, walk | selective, planned | selective +count | broad, walk | broad, planned | "
        "broad +count | load |", "|---|---|---|---|---|---|---|---|", *rows]))


if __name__ == "__main__":
    main()
