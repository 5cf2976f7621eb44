"""Text search and storage as the log grows: the first page of a 2-character Japanese text search
matching ~0.1% of the logs, and the bytes each log takes with the text index, at 5k, 100k and 1M
typical pharmacy chat logs (bench/seed_million.py's `chat` corpus: a system prompt, the patient's
question, the suggested answer, 3 metadata keys, 2 scores), on SQLite and PostgreSQL.

    python bench/bench_text_search.py --db sqlite --rows 5000,100000,1000000 [--runs 30]
    python bench/bench_text_search.py --db postgresql --rows 5000,100000,1000000

In-process through services/request_reads.browse (what the API and UI lists call), first page of
50: planned (the text index drives) and with the time walk forced (`plan="walk"`, each row tested
against the index set). Bytes per log: SQLite's file after VACUUM / logs, per table and index from
the `dbstat` table; PostgreSQL's pg_total_relation_size of the request tables (their partitions) / logs, after VACUUM
ANALYZE (as autovacuum would leave them). Data sets are seeded on first use (kept in bench/out/ and,
for PostgreSQL, in databases <prefix>text_<rows>); each run appends its rows to
bench/out/text-search-<db>.json and rewrites the section."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sqlalchemy import create_engine, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import by_size, machine, pct, timed, write_section  # noqa: E402
from seed_million import OUT, RARE, RARE_EVERY, seed  # noqa: E402

from promptyard.domain import query
from promptyard.services import keys, request_reads
from promptyard.store.db import LOG_TABLES, Database
from promptyard.store.models import Workspace

FILTER = f'text ~ "{RARE}"'
PG = "postgresql+psycopg://postgres@127.0.0.1:5432"
TOP = 6  # tables and indexes named in the share of bytes


def url_for(db: str, rows: int, prefix: str) -> str:
    if db == "sqlite":
        return f"sqlite:///{OUT / f'text-search-{rows}.db'}"
    return f"{PG}/{prefix}text_{rows}"


def ensure(db: str, rows: int, prefix: str) -> str:
    """The data set's URL, seeded (and vacuumed) when it is not there yet."""
    url = url_for(db, rows, prefix)
    OUT.mkdir(exist_ok=True)
    if db == "sqlite":
        if not Path(url.split("///", 1)[1]).exists():
            seed(url, rows, corpus="chat")
            with create_engine(url).connect() as c:
                c.exec_driver_sql("INSERT INTO request_fts (request_fts) VALUES ('optimize')")
                c.commit()
                c.exec_driver_sql("VACUUM")
                c.exec_driver_sql("ANALYZE")
        return url
    name = url.rsplit("/", 1)[1]
    admin = create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        there = c.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if not there:
            c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    if not there:
        seed(url, rows, corpus="chat")
        vacuum = create_engine(url, isolation_level="AUTOCOMMIT")
        with vacuum.connect() as c:
            c.exec_driver_sql("VACUUM ANALYZE")
        vacuum.dispose()
    return url


def sizes(db: Database) -> tuple[int, int, list[tuple[str, int]]]:
    """(logs, bytes, [(table or index, bytes)] largest first) of the data set."""
    with db.engine.connect() as c:
        logs = c.exec_driver_sql("SELECT count(*) FROM requests").scalar()
        if db.kind == "sqlite":
            path = c.exec_driver_sql("PRAGMA database_list").fetchone()[2]
            parts = c.exec_driver_sql("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC").all()
            return logs, os.path.getsize(path), [(n, b) for n, b in parts]
        tables = list(LOG_TABLES) + ["request_keys"]  # request_fts among them
        # a partitioned table's rows are in its partitions (store/partitions.py): each counted as its table
        leaves = ("SELECT p.relid FROM unnest(%(t)s::text[]) AS t, pg_partition_tree(t::regclass) AS p "
                  "WHERE p.isleaf")
        total = c.exec_driver_sql(f"SELECT sum(pg_total_relation_size(relid)) FROM ({leaves}) AS l", {"t": tables}).scalar()
        parts = c.exec_driver_sql(
            "SELECT coalesce(pg_partition_root(c.oid), c.oid)::regclass::text AS name, sum(pg_relation_size(c.oid) "
            "+ coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0)) "
            f"FROM pg_class c WHERE c.oid IN ({leaves}) "
            f"OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid IN ({leaves})) GROUP BY 1 ORDER BY 2 DESC",
            {"t": tables}).all()
        return logs, int(total), [(n, int(b)) for n, b in parts]


def measure(url: str, runs: int) -> dict:
    db = Database(url)
    node = query.parse(FILTER)
    out: dict = {}
    with db.read() as s:
        ws = s.scalars(select(Workspace.id).order_by(Workspace.id.desc())).first()
        p = keys.system_principal(ws)
        for mode, plan in (("planned", None), ("walk", "walk")):
            times = timed(lambda: request_reads.browse(s, p, node=node, limit=50, plan=plan), runs)  # noqa: B023
            out[f"{mode}_p50"], out[f"{mode}_p95"] = pct(times, 50), pct(times, 95)
        out["matching"] = request_reads.browse(s, p, node=node, limit=1, count=True)["matching"]["count"]
    logs, total, parts = sizes(db)
    out.update(logs=logs, bytes=total, parts=[[n, b] for n, b in parts[:TOP]])
    db.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=["sqlite", "postgresql"], required=True)
    ap.add_argument("--rows", default="5000,100000")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--prefix", default="promptyard_", help="PostgreSQL: the data sets' database name prefix")
    args = ap.parse_args()
    results = by_size(OUT / f"text-search-{args.db}.json", args.rows,
                      lambda rows: measure(ensure(args.db, rows, args.prefix), args.runs))
    write(args.db, results)


def write(db: str, results: dict[str, dict]) -> None:
    label = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[db]
    rows = []
    for n in sorted(results, key=int):
        r = results[n]
        share = ", ".join(f"{name} {b / r['logs']:,.0f}" for name, b in r["parts"])
        rows.append(f"| {int(n):,} | {r['matching']:,} | {r['planned_p50']:.1f} / {r['planned_p95']:.1f} | "
                    f"{r['walk_p50']:.1f} / {r['walk_p95']:.1f} | {r['bytes'] / r['logs']:,.0f} | {share} | "
                    f"{r['load']:.1f} |")
    growth = ""
    if "5000" in results and "100000" in results:
        growth = (f" Growth of the planned p95 from 5,000 to 100,000 logs: "
                  f"x{results['100000']['planned_p95'] / results['5000']['planned_p95']:.1f}.")
    size = ("the file after VACUUM / logs; the largest tables and indexes from `dbstat`" if db == "sqlite" else
            "pg_total_relation_size of the request tables and `request_fts` / logs, after VACUUM ANALYZE; the "
            "largest relations (TOAST with its table)")
    write_section(f"text-search-{db}", "\n".join([
        f"## Text search and bytes per log, {label} (`bench/bench_text_search.py`)",
        f"Typical logs, seeded by `bench/seed_million.py --corpus chat`: a system prompt (one per prompt version, "
        f"~190 characters), the patient's question (~40-110 characters), the suggested answer (3-6 sentences, "
        f"~150 characters), mostly Japanese, every fifth in English; 3 metadata keys, 2 scores, a tag, a UUID client "
        f"id. `{FILTER}`: a 2-character word in one log of {RARE_EVERY}. In-process `request_reads.browse`, first "
        f"page of 50, p50 / p95 in milliseconds, planned (the text index drives) and with the time walk forced; "
        f"{machine()}; load average (1 min) at the start in the last column.{growth} Bytes per log: {size}. "
        "Targets: p95 < 50 ms at 1M; growth <= x3; SQLite <= 2,500 bytes per log with the index.", "",
        "| logs | matching | planned | walk | bytes / log | largest, bytes / log | load |",
        "|---|---|---|---|---|---|---|", *rows]))


if __name__ == "__main__":
    main()
