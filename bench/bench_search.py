"""Search and statistics on a seeded data set (bench/seed_million.py): first page of a
3-condition filter (2 metadata + 1 score) and per-version aggregates, over HTTP.
Targets: first page p95 under 100 ms; per-version aggregates under 1 s.

    python bench/bench_search.py --url sqlite:///bench/out/million.db --label "SQLite, 1,000,000 logs"
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import key_file, machine, pct, server, timed, write_section  # noqa: E402

FILTER = 'metadata.env = "prod" AND metadata.store = "s3" AND score.medically_correct < 30'
STATS_FILTER = 'metadata.env = "prod" AND metadata.store = "s3"'
TIME_FILTER = 'time >= "2026-09-12"'  # the newest ~12% of the seeded logs
RUNS = 30


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--label", required=True)
    args = ap.parse_args()
    key = key_file(args.url).read_text().strip()
    with server(args.url) as (url, _):
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as c:
            def page() -> None:
                r = c.get("/api/v1/requests", params={"filter": FILTER, "limit": 50})
                r.raise_for_status()
                assert len(r.json()["items"]) == 50

            def stats_one() -> None:
                c.get("/api/v1/requests/stats", params={"prompt": "bench/prompt-0"}).raise_for_status()

            def stats_all() -> None:
                c.get("/api/v1/requests/stats").raise_for_status()

            def stats_filtered() -> None:
                c.get("/api/v1/requests/stats", params={"filter": STATS_FILTER}).raise_for_status()

            def stats_time() -> None:
                c.get("/api/v1/requests/stats", params={"filter": TIME_FILTER}).raise_for_status()

            first = timed(page, RUNS)
            one, every = timed(stats_one, 5), timed(stats_all, 5)
            filtered, recent = timed(stats_filtered, 5), timed(stats_time, 5)
    rows = [f"| {args.label} | {pct(first, 50):.1f} | {pct(first, 95):.1f} | {pct(one, 50):.0f} | "
            f"{pct(every, 50):.0f} | {pct(filtered, 50):.0f} | {pct(recent, 50):.0f} |"]
    print(rows[0], flush=True)
    section = f"search-{args.label.split(',')[0].lower()}"
    write_section(section, "\n".join([
        f"## Search and statistics, {args.label} (`bench/bench_search.py`)",
        f"Seeded by `bench/seed_million.py` (5 prompts x 3 versions, 3 metadata keys and 2 scores per log). "
        f"Over HTTP to one `promptyard serve`; {machine()}. First page (50 rows, newest first) of "
        f"`{FILTER}`; per-version statistics (count, error rate, latency p50/p95, tokens, cost, score means with "
        "95% CIs) for one prompt (~20% of the logs) and for all logs (both from the running totals), and "
        f"computed from the matching logs for `{STATS_FILTER}` (~2%) and `{TIME_FILTER}` (~12%). Medians, "
        "milliseconds. Targets: first page p95 < 100 ms, statistics < 1 s.", "",
        "| data | first page p50 | first page p95 | stats, one prompt | stats, all logs | stats, 2 metadata "
        "| stats, time range |", "|---|---|---|---|---|---|---|", *rows]))


if __name__ == "__main__":
    main()
