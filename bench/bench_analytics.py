"""Analytics over a broad filter: per-version statistics (`GET /api/v1/requests/stats`, the numbers
behind the analytics page) computed from ~32,000 matching logs, over HTTP to one `promptyard serve`,
on the code before a change and after it, in one run. Target: p95 under 200 ms.

    python bench/seed_million.py --url sqlite:///bench/out/analytics.db --rows 100000
    python bench/bench_analytics.py --url sqlite:///bench/out/analytics.db --label "SQLite, 100,000 logs"
    python bench/seed_million.py --url sqlite:///bench/out/analytics1m.db
    python bench/bench_analytics.py --url sqlite:///bench/out/analytics1m.db --label "SQLite, 1,000,000 logs" \\
        --filter 'metadata.store = "s3"'

"before" is the server of an earlier commit (`--before`, its src/ exported by git into a temporary
directory), "after" this tree's. Each run is kept in bench/out/ (per database, label and filter),
and the section lists every run kept for that database, so both sizes stand side by side."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, key_file, machine, pct, server, timed, write_section  # noqa: E402

FILTER = 'metadata.env = "dev"'  # a third of the seeded logs; at a million, metadata.store = "s3" matches ~32,000
BEFORE = "85646c9"  # main before issue 15's second pass (one statement: a window ranking every match)
OUT = Path(__file__).resolve().parent / "out"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--label", required=True, help='database and size, e.g. "SQLite, 100,000 logs"')
    ap.add_argument("--before", default=BEFORE, help="commit whose server is measured as 'before'")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--filter", default=FILTER)
    args = ap.parse_args()
    if args.url.startswith("postgresql"):
        _vacuum(args.url)
    key = key_file(args.url).read_text().strip()
    name = args.label.split(",")[0]
    kept = OUT / f"analytics-{name.lower()}.json"
    runs = json.loads(kept.read_text()) if kept.exists() else {}
    with tempfile.TemporaryDirectory(prefix="analytics-before-") as old:
        with tarfile.open(fileobj=_archive(args.before)) as tar:
            tar.extractall(old, filter="data")
        for code, src in ((f"before ({args.before})", Path(old) / "src"), ("after", ROOT / "src")):
            result = _measure(args, key, src)
            runs[f"{args.label}, {args.filter}, {code}"] = {"label": args.label, "filter": args.filter, "run": code,
                                                            **result}
            print(code, result, flush=True)
    kept.write_text(json.dumps(runs, indent=1))
    rows = [f"| {r['label']} | `{r['filter']}` | {r['matches']:,} | {r['run']} | {r['p50']:.0f} | {r['p95']:.0f} | "
            f"{r['cpu']:.0f} | {r['load']:.1f} |" for r in runs.values()]
    write_section(f"analytics-{name.lower()}", "\n".join([
        f"## Analytics over a broad filter, {name} (`bench/bench_analytics.py`)",
        f"Per-version statistics (count, error rate, latency p50/p95, tokens, cost, score means with 95% CIs) "
        f"computed from the logs matching a filter, over HTTP "
        f"(`GET /api/v1/requests/stats`) to one `promptyard serve`; data seeded by `bench/seed_million.py` "
        f"(5 prompts x 3 versions, 3 metadata keys and 2 scores per log); {machine()}. "
        f"{args.runs} calls after one warm-up, milliseconds, on the code before (commit named) and after "
        "services/log_stats.py's second pass (latencies carried out of the totals' GROUP BY and sorted in "
        "Python instead of a window over every match; matches driven from the filter's index set). Other work "
        "shared the 2 cores: beside the wall-clock p50/p95 are the CPU milliseconds per call of the server "
        "process and (PostgreSQL) its database backends, which the load does not inflate, and the 1-minute "
        "load average when the run ended. PostgreSQL was vacuumed and analysed first (as autovacuum leaves it). "
        "Target: p95 < 200 ms at ~32,000 matches.", "",
        "| data | filter | matching logs | code | p50 | p95 | CPU per call | load |",
        "|---|---|---|---|---|---|---|---|", *rows]))


def _measure(args: argparse.Namespace, key: str, src: Path) -> dict:
    env = {"PYTHONPATH": os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")])}
    with server(args.url, env) as (url, _):
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
    return {"matches": matches, "p50": pct(ms, 50), "p95": pct(ms, 95), "cpu": cpu, "runs": args.runs,
            "load": os.getloadavg()[0]}


def _archive(commit: str):  # noqa: ANN202
    """src/ of `commit` as a tar file object."""
    out = tempfile.TemporaryFile()
    subprocess.run(["git", "archive", "--format=tar", commit, "src"], cwd=ROOT, stdout=out, check=True)
    out.seek(0)
    return out


def _vacuum(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.execute(text("VACUUM ANALYZE"))
    engine.dispose()


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
