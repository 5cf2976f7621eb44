"""The request list for reading (issue 17) at 100,000 chat logs: the list's first page now shows each
log's question and answer (one line each, a text search's match marked), so it reads and parses the
50 rows' texts; how much that costs, before (the tree named by --before, e.g. /work/main/src) and
after (this tree). Also the detail page, whose output is rendered as Markdown now.

    python bench/seed_million.py --url sqlite:///bench/out/reading-100k.db --rows 100000 --corpus chat
    git archive c2281b0 src | tar -x -C /tmp/before       # the tree before the reading columns
    python bench/bench_reading.py --url sqlite:///bench/out/reading-100k.db --before /tmp/before/src

Both trees must know the database's schema revision (a server refuses a database migrated past
its own migrations): compare trees with the same migrations.

Each tree is served by its own `promptyard serve` (PYTHONPATH), both at once, their requests
alternated; one keep-alive connection each, a logged-in viewer (bench_ui.ensure_user);
milliseconds from request to the whole page. Only the 50
rows of the page are read: the question and answer come from the rows the list already loads.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ui import ensure_user, log_in, server  # noqa: E402
from common import machine, pct, write_section  # noqa: E402

SRC = Path(__file__).resolve().parents[1] / "src"
PAGES = [("list, newest 50", "/ui/requests", None),
         ("list, text search (common word)", "/ui/requests", {"q": 'text ~ "お薬手帳"'}),
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


def once(c: httpx.Client, path: str, params: dict | None) -> float:
    t = time.perf_counter()
    r = c.get(path, params=params)
    took = (time.perf_counter() - t) * 1000
    assert r.status_code == 200, (path, r.status_code, r.text[:300])
    return took


def measure(url: str, before_src: str, runs: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Both trees served at once, their requests alternated (before, after, before, ...), so the
    machine's load of the moment weighs on both alike."""
    with tree(before_src), server(url) as old, tree(str(SRC)), server(url) as new, \
            httpx.Client(base_url=old, timeout=120) as a, httpx.Client(base_url=new, timeout=120) as b:
        log_in(a)
        log_in(b)
        ref = re.search(r'href="/ui/requests/(\d+)"', b.get("/ui/requests").text).group(1)
        pages = [*PAGES, ("detail", f"/ui/requests/{ref}", None)]
        for c in (a, b):  # warm up, and every page must be there
            for _, path, params in pages:
                once(c, path, params)
        before: dict[str, list[float]] = {}
        after: dict[str, list[float]] = {}
        for name, path, params in pages:
            for _ in range(runs):
                before.setdefault(name, []).append(once(a, path, params))
                after.setdefault(name, []).append(once(b, path, params))
        return before, after


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--before", required=True, help="the src/ directory of the tree to compare with")
    ap.add_argument("--label", default="SQLite, 100,000 chat logs")
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    ensure_user(args.url)
    load = os.getloadavg()
    before, after = measure(args.url, args.before, args.runs)
    lines = [f"| {name} | {pct(before[name], 50):.1f} | {pct(before[name], 95):.1f} | "
             f"{pct(after[name], 50):.1f} | {pct(after[name], 95):.1f} |" for name in after]
    print("\n".join(lines), flush=True)
    write_section(f"reading-{args.label.split(',')[0].lower()}", "\n".join([
        f"## The request list for reading, {args.label} (`bench/bench_reading.py`)",
        f"Seeded by `bench/seed_million.py --corpus chat`. A logged-in viewer, one keep-alive connection to "
        f"a `promptyard serve` of each tree, both at once, requests alternated between them, on the same machine ({machine()}; load average "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} when it started: a shared, busy machine, so read "
        f"the two columns against each other more than as absolute figures). Milliseconds from request to "
        f"the whole page, {args.runs} runs each. Before: the tree without the question, answer and column "
        f"chooser ({args.before}); after: with them (the list reads the same 50 rows, and parses their texts).",
        "",
        "| page | before p50 | before p95 | after p50 | after p95 |",
        "|---|---|---|---|---|",
        *lines,
    ]))


if __name__ == "__main__":
    main()
