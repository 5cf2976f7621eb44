"""Analytics over a broad filter: per-version statistics (`GET /api/v1/requests/stats`, the numbers
behind the analytics page) computed from ~32,000 matching logs of a 100,000-log data set seeded by
bench/seed_million.py, over HTTP to one `promptyard serve`. Target: p95 under 200 ms.

    python bench/seed_million.py --url sqlite:///bench/out/analytics.db --rows 100000
    python bench/bench_analytics.py --url sqlite:///bench/out/analytics.db --label "SQLite, 100,000 logs" --run after

Each run is kept in bench/out/ (per database and --run name), and the section lists every run kept
for that database, so a run on the code before a change and one after it stand side by side."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import key_file, machine, pct, server, timed, write_section  # noqa: E402

FILTER = 'metadata.env = "dev"'  # a third of the seeded logs; at a million, metadata.store = "s3" matches ~32,000
OUT = Path(__file__).resolve().parent / "out"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--label", required=True, help='database and size, e.g. "SQLite, 100,000 logs"')
    ap.add_argument("--run", default="after", help="name of this run (e.g. before / after)")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--filter", default=FILTER)
    args = ap.parse_args()
    key = key_file(args.url).read_text().strip()
    with server(args.url) as (url, _):
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as c:
            def stats() -> dict:
                r = c.get("/api/v1/requests/stats", params={"filter": args.filter})
                r.raise_for_status()
                return r.json()

            matches = sum(i["count"] for i in stats()["items"])
            pids = _processes(args.url)
            cpu = _cpu_ms(pids)
            ms = timed(stats, args.runs)
            cpu = (_cpu_ms(pids) - cpu) / (args.runs + 1)
    name = args.label.split(",")[0]
    db = name.lower()
    kept = OUT / f"analytics-{db}.json"
    runs = json.loads(kept.read_text()) if kept.exists() else {}
    runs[f"{args.label}, {args.filter}, {args.run}"] = {
        "label": args.label, "filter": args.filter, "run": args.run, "matches": matches, "p50": pct(ms, 50),
        "p95": pct(ms, 95), "cpu": cpu, "runs": args.runs, "load": os.getloadavg()[0]}
    kept.write_text(json.dumps(runs, indent=1))
    rows = [f"| {r['label']} | `{r['filter']}` | {r['matches']:,} | {r['run']} | {r['p50']:.0f} | {r['p95']:.0f} | "
            f"{r['cpu']:.0f} | {r['load']:.1f} |" for r in runs.values()]
    print("\n".join(rows), flush=True)
    write_section(f"analytics-{db}", "\n".join([
        f"## Analytics over a broad filter, {name} (`bench/bench_analytics.py`)",
        f"Per-version statistics (count, error rate, latency p50/p95, tokens, cost, score means with 95% CIs) "
        f"computed from the logs matching a filter, over HTTP "
        f"(`GET /api/v1/requests/stats`) to one `promptyard serve`; data seeded by `bench/seed_million.py` "
        f"(5 prompts x 3 versions, 3 metadata keys and 2 scores per log); {machine()}. "
        f"{args.runs} calls after one warm-up, milliseconds. Other work shared the 2 cores: beside the wall-clock "
        "p50/p95 are the CPU milliseconds per call of the server process and (PostgreSQL) its database backends, "
        "which the load does not inflate, and the 1-minute load average when the run ended. "
        "Target: p95 < 200 ms at ~32,000 matches.", "",
        "| data | filter | matching logs | code | p50 | p95 | CPU per call | load |",
        "|---|---|---|---|---|---|---|---|", *rows]))


def _processes(url: str) -> list[int]:
    """The server (this script's child) and, on PostgreSQL, the backends connected to its database."""
    me = os.getpid()
    pids = [int(p) for p in Path(f"/proc/{me}/task/{me}/children").read_text().split()]
    if url.startswith("postgresql"):
        from sqlalchemy import create_engine, text

        engine = create_engine(url)
        with engine.connect() as c:
            pids += c.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                   "AND pid <> pg_backend_pid()")).scalars().all()
        engine.dispose()
    return pids


def _cpu_ms(pids: list[int]) -> float:
    """User + system CPU milliseconds used so far by these processes (those still running)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total * 1000 / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
