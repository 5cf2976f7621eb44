"""The request list for reading (issue 17) at 100,000 chat logs: the list's first page now shows each
log's question and answer (one line each, a text search's match marked), so it reads and parses the
50 rows' texts; how much that costs, before (the tree named by --before, e.g. /work/main/src) and
after (this tree). Also the detail page, whose output is rendered as Markdown now.

    python bench/seed_million.py --url sqlite:///bench/out/reading-100k.db --rows 100000 --corpus chat
    python bench/bench_reading.py --url sqlite:///bench/out/reading-100k.db --before /work/main/src

Each tree is served by its own `promptyard serve` (PYTHONPATH), one keep-alive connection, a
logged-in viewer (bench_ui.ensure_user); milliseconds from request to the whole page. Only the 50
rows of the page are read: the question and answer come from the rows the list already loads.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ui import ensure_user, log_in, server, timed  # noqa: E402
from common import machine, pct, write_section  # noqa: E402

SRC = Path(__file__).resolve().parents[1] / "src"
PAGES = [("list, newest 50", "/ui/requests", None),
         ("list, text search (common word)", "/ui/requests", {"q": 'text ~ "副作用"'}),
         ("list, text search (rare word)", "/ui/requests", {"q": 'text ~ "麻疹"'}),
         ("list, answer search + metadata", "/ui/requests", {"q": 'output ~ "食後" AND metadata.env = "prod"'})]


@contextmanager
def tree(src: str) -> Iterator[None]:
    """The server of the block runs the code of `src` (bench_ui.server inherits the environment)."""
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = src
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH")
        else:
            os.environ["PYTHONPATH"] = old


def measure(url: str, src: str, runs: int) -> dict[str, list[float]]:
    with tree(src), server(url) as base, httpx.Client(base_url=base, timeout=120) as c:
        log_in(c)
        first = c.get("/ui/requests").text
        ref = re.search(r'href="/ui/requests/(\d+)"', first).group(1)
        out = {name: timed(c, path, params, runs) for name, path, params in PAGES}
        out["detail"] = timed(c, f"/ui/requests/{ref}", None, runs)
        return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--before", required=True, help="the src/ directory of the tree to compare with")
    ap.add_argument("--label", default="SQLite, 100,000 chat logs")
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    ensure_user(args.url)
    load = os.getloadavg()
    before = measure(args.url, args.before, args.runs)
    after = measure(args.url, str(SRC), args.runs)
    lines = [f"| {name} | {pct(before[name], 50):.1f} | {pct(before[name], 95):.1f} | "
             f"{pct(after[name], 50):.1f} | {pct(after[name], 95):.1f} |" for name in after]
    print("\n".join(lines), flush=True)
    write_section(f"reading-{args.label.split(',')[0].lower()}", "\n".join([
        f"## The request list for reading, {args.label} (`bench/bench_reading.py`)",
        f"Seeded by `bench/seed_million.py --corpus chat`. A logged-in viewer, one keep-alive connection to "
        f"a `promptyard serve` of each tree on the same machine ({machine()}; load average "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} when it started: a shared, busy machine, so read "
        f"the two columns against each other more than as absolute figures). Milliseconds from request to "
        f"the whole page, {args.runs} runs each. Before: main without the question, answer and column "
        f"chooser; after: with them (the list reads the same 50 rows, and parses their texts).",
        "",
        "| page | before p50 | before p95 | after p50 | after p95 |",
        "|---|---|---|---|---|",
        *lines,
    ]))


if __name__ == "__main__":
    main()
