"""The analytics page's trends (services/log_trends.per_day: requests, errors and score means per
day and version) in-process on a data set seeded by bench/seed_million.py (one log every 25 s from
2026-01-01, 5 prompts x 3 versions, scores on most logs), for periods ending at the seed's last log:
read from the running totals per hour (no filter), and counted from the logs (a filter that matches
every log, the path any filter takes).

    python bench/seed_million.py --url sqlite:///bench/out/trends.db --rows 200000
    python bench/bench_trends.py --url sqlite:///bench/out/trends.db --label "SQLite, 200,000 logs"

The section lists every database measured (kept in bench/out/trends.json)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import key_file, machine, pct, timed, write_section  # noqa: E402

from promptyard.domain import query  # noqa: E402
from promptyard.services import keys, log_trends  # noqa: E402
from promptyard.store.db import Database  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
CASES = [("all prompts", None, 7), ("all prompts", None, 14), ("all prompts", None, 30), ("all prompts", None, 90),
         ("one prompt", "bench/prompt-0", 30)]
EVERY = query.parse('status = "ok" OR status = "error"')  # a filter: the logs are read


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--label", required=True, help='database and size, e.g. "SQLite, 200,000 logs"')
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--rows", type=int, default=200_000, help="how many logs the seed wrote (to find its end)")
    args = ap.parse_args()
    db = Database(args.url)
    with db.read() as s:
        principal, _ = keys.authenticate(s, key_file(args.url).read_text().strip())
    end = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=25 * args.rows)
    rows = []
    for (what, prompt, days), (source, node) in [(c, n) for c in CASES for n in (("totals", None), ("logs", EVERY))]:
        def run() -> dict:
            with db.read() as s:
                return log_trends.per_day(s, principal, days=days, tz="Asia/Tokyo", prompt=prompt, now=end, node=node)

        logs = sum(sum(x["count"]) for x in run()["series"])
        ms = timed(run, args.runs)
        rows.append({"label": args.label, "case": f"{what}, {days} days", "source": source, "logs": logs,
                     "p50": pct(ms, 50), "p95": pct(ms, 95), "load": os.getloadavg()[0]})
        print(rows[-1], flush=True)
    db.dispose()
    kept = OUT / "trends.json"
    runs = json.loads(kept.read_text()) if kept.exists() else {}
    runs = {k: r for k, r in runs.items() if "source" in r}  # (runs before the totals per hour)
    runs |= {f"{r['label']}, {r['case']}, {r['source']}": r for r in rows}
    kept.write_text(json.dumps(runs, indent=1))
    table = [f"| {r['label']} | {r['case']} | {r['source']} | {r['logs']:,} | {r['p50']:.1f} | {r['p95']:.1f} | "
             f"{r['load']:.1f} |" for r in runs.values()]
    write_section("trends", "\n".join([
        "## Analytics trends by day (`bench/bench_trends.py`)",
        "",
        f"`services/log_trends.per_day` in-process, {machine()}, {args.runs} runs each, days in Asia/Tokyo, the "
        "period ending at the seed's last log (one every 25 s). Milliseconds; the load average is the "
        "machine's at the time (it is shared).",
        "",
        "| data set | period | read from | logs in it | p50 ms | p95 ms | load |",
        "|---|---|---|---|---|---|---|",
        *table,
        "",
        "`totals`: the running totals per version and UTC hour (store/rollups.py, kept by every write), which "
        "the page reads without a filter in any zone a whole number of hours off UTC: at most 24 rows per day, "
        "version and score name, whatever the traffic (this seed: 15 versions and 2 scores, about 1,100 rows a day; "
        "about 10 µs a row on SQLite and 2 µs on PostgreSQL under this load, so 90 days take 0.6 s and 0.11 s "
        "however many logs they hold). `logs`: the same trends counted from the period's logs "
        "(a filter, or a zone such as +05:30), about 10 µs per log: each log is visited in its table row and "
        "its scores are joined. Before the totals per hour every trend took the `logs` path (SQLite, 200,000 "
        "logs, load 11.7-12.6: 7 days 295 ms, 30 days 983 ms, 90 days 2,092 ms; PostgreSQL at load 13.8-14.5: "
        "238, 1,078 and 2,254 ms)."]))


if __name__ == "__main__":
    sys.exit(main())
