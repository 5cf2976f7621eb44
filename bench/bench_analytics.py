"""Analytics over a broad filter: per-version statistics (`GET /api/v1/requests/stats`, the numbers
behind the analytics page) computed from ~32,000 matching logs, over HTTP to a `promptyard serve` of
the code before a change and one of the code after it, in one run, called in turn. Target: p95 under 200 ms.

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
from contextlib import ExitStack
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, key_file, machine, pct, server, timed, write_section  # noqa: E402

FILTER = 'metadata.env = "dev"'  # a third of the seeded logs; at a million, metadata.store = "s3" matches ~32,000
BEFORE = "8607fe3"  # main before analytics were planned for the filter's values (now every PostgreSQL statement is, store/db.py);
# 85646c9: before issue 15's second pass (one statement: a window ranking every match)
OUT = Path(__file__).resolve().parent / "out"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--label", required=True, help='database and size, e.g. "SQLite, 100,000 logs"')
    ap.add_argument("--before", default=BEFORE, help="commit whose server is measured as 'before' ('': none)")
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
        codes = {"after": ROOT / "src"}
        if args.before:  # a data set upgraded past the earlier commit's schema: --before '' (this tree only)
            with tarfile.open(fileobj=_archive(args.before)) as tar:
                tar.extractall(old, filter="data")
            codes = {f"before ({args.before})": Path(old) / "src", **codes}
        for code, result in _measure(args, key, codes).items():
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
        f"(`GET /api/v1/requests/stats`) to a `promptyard serve` per code; data seeded by `bench/seed_million.py` "
        f"(5 prompts x 3 versions, 3 metadata keys and 2 scores per log); {machine()}. "
        f"{args.runs} calls of each after one warm-up, milliseconds, on the code of an earlier commit (named: "
        "85646c9 is before services/log_stats.py's second pass, 8607fe3 before the statement was planned for the "
        "filter's values) and this tree's (after); both servers "
        "run at once and are called in turn, so both see the same load. Other work shared the 2 cores: beside the "
        "wall-clock p50/p95 are the CPU milliseconds per call of each server process and (PostgreSQL) its "
        "database backends (parallel workers not counted), which the load inflates less, and the 1-minute "
        "load average when the run ended. PostgreSQL was vacuumed and analysed first (as autovacuum leaves it). "
        "Target: p95 < 200 ms at ~32,000 matches. Where the time goes after the change (SQLite, 100,000 logs, "
        "in-process CPU at load ~7): finding and materialising the matches ~30 ms, the totals with the latencies "
        "~30, the score moments ~60 (64,000 score rows looked up and sorted for their GROUP BY), Python ~15; on "
        "PostgreSQL at a million logs the statement (~125 ms on a quiet machine) is 32,000 lookups in the covering "
        "index and 64,000 score rows from the scores' index, about a third of their pages read from the OS cache "
        "each time: the two indexes (73 + 103 MB) do not fit the default 128 MB of shared buffers together.", "",
        "| data | filter | matching logs | code | p50 | p95 | CPU per call | load |",
        "|---|---|---|---|---|---|---|---|", *rows]))


def _measure(args: argparse.Namespace, key: str, codes: dict[str, Path]) -> dict[str, dict]:
    """Both servers run at once and are called in turn, so that both see the same load from the
    rest of the machine. Each one's CPU: its process and the database backends it connected."""
    with ExitStack() as stack:
        clients, servers, matches = {}, {}, {}
        for code, src in codes.items():
            env = {"PYTHONPATH": os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")])}
            known = _children()
            url, _ = stack.enter_context(server(args.url, env))
            (servers[code],) = _children() - known
            clients[code] = c = stack.enter_context(
                httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120))
            matches[code] = sum(i["count"] for i in _stats(c, args.filter)["items"])
        pids = {code: _processes(args.url, pid) for code, pid in servers.items()}
        cpu = {code: _cpu_ms(pids[code]) for code in codes}
        ms: dict[str, list[float]] = {code: [] for code in codes}
        for _ in range(args.runs):
            for code, c in clients.items():
                ms[code] += timed(lambda c=c: _stats(c, args.filter), 1, warm=0)
        cpu = {code: (_cpu_ms(pids[code]) - cpu[code]) / args.runs for code in codes}
    return {code: {"matches": matches[code], "p50": pct(ms[code], 50), "p95": pct(ms[code], 95), "cpu": cpu[code],
                   "runs": args.runs, "load": os.getloadavg()[0]} for code in codes}


def _stats(c: httpx.Client, text: str) -> dict:
    r = c.get("/api/v1/requests/stats", params={"filter": text})
    r.raise_for_status()
    return r.json()


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


def _processes(url: str, server_pid: int) -> list[int]:
    """The server and, on PostgreSQL, the backends serving its connections (matched by the
    server's local TCP ports: pg_stat_activity.client_port)."""
    if not url.startswith("postgresql"):
        return [server_pid]
    inodes = {os.readlink(f"/proc/{server_pid}/fd/{fd}")[8:-1] for fd in os.listdir(f"/proc/{server_pid}/fd")
              if os.readlink(f"/proc/{server_pid}/fd/{fd}").startswith("socket:")}
    ports = {int(line.split()[1].rsplit(":", 1)[1], 16) for name in ("tcp", "tcp6")
             for line in Path(f"/proc/net/{name}").read_text().splitlines()[1:] if line.split()[9] in inodes}
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as c:
        backends = c.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                  "AND client_port = ANY(:ports)"), {"ports": sorted(ports)}).scalars().all()
    engine.dispose()
    return [server_pid, *backends]


def _children() -> set[int]:
    me = os.getpid()
    return {int(p) for p in Path(f"/proc/{me}/task/{me}/children").read_text().split()}


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
