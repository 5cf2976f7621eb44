"""Server time of the request-log pages of the browser UI on a seeded data set
(bench/seed_million.py): the requests list, a filtered list, one version's list, an older page,
a request detail, and per-version analytics for one prompt and for all logs. Target: < 200 ms.

    python bench/bench_ui.py --url sqlite:///bench/out/million.db --label "SQLite, 1,000,000 logs"

Times are measured by the client over one keep-alive connection to a real `promptyard serve`
on the same machine, so they include the loopback HTTP round trip (about 1-2 ms here). A UI user
(bench-ui@example.com) and a prompt without logs are added to the seeded workspace once, so the
pages can be logged into and a rare prompt's list is measured too.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import free_port, key_file, machine, pct, write_section  # noqa: E402

from promptyard.domain import query  # noqa: E402
from promptyard.services import keys, users, versions  # noqa: E402
from promptyard.store.db import Database  # noqa: E402
from promptyard.store.models import Prompt, User  # noqa: E402

EMAIL, PASSWORD = "bench-ui@example.com", "bench-ui-password"
RARE = "bench-ui/no-logs-yet"
RECENT = '"2026-10-10T00:00:00Z"'  # the seed's last ~25,000 logs (one every 25 s from 2026-01-01)
FILTER = 'metadata.env = "prod" AND metadata.store = "s3" AND score.medically_correct < 30'


def ensure_user(url: str) -> None:
    db = Database(url)
    with db.write() as s:
        principal, _ = keys.authenticate(s, key_file(url).read_text().strip())
        if s.query(User.id).filter(User.email == EMAIL).scalar() is None:
            users.create_user(s, principal.workspace_id, email=EMAIL, password=PASSWORD, role="viewer")
        if s.query(Prompt.id).filter(Prompt.name == RARE, Prompt.workspace_id == principal.workspace_id).scalar() is None:
            versions.publish_by_name(s, principal, name=RARE, spec={  # a prompt with no logs yet
                "messages": [{"role": "user", "content": "{question}"}], "commit_message": "bench"})
    db.dispose()


@contextmanager
def server(url: str) -> Iterator[str]:
    """A `promptyard serve` on the data set, ready when its port answers. (common.server waits for
    the first-run key line, which a server prints only on the first start on a database.)"""
    port = free_port()
    env = dict(os.environ, PROMPTYARD_DATA_DIR=tempfile.mkdtemp(prefix="py-bench-ui-"), PROMPTYARD_PORT=str(port),
               PROMPTYARD_LOG_LEVEL="warning", PROMPTYARD_DATABASE_URL=url)
    proc = subprocess.Popen([sys.executable, "-m", "promptyard.cli", "serve"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"promptyard serve exited with {proc.returncode}")
            try:
                if httpx.get(base + "/ui/login", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


def stats_breakdown(url: str, **scope) -> dict[str, float]:  # noqa: ANN003
    """Where the analytics page's time goes: each statement of log_stats.per_version run again
    on its own to its last row, summed by kind (milliseconds, in-process, best of two)."""
    from sqlalchemy import event

    from promptyard.services import log_stats

    db = Database(url)
    with db.read() as s:
        principal, _ = keys.authenticate(s, key_file(url).read_text().strip())
    seen: list[tuple[str, object]] = []

    @event.listens_for(db.engine, "before_cursor_execute")
    def _record(conn, cursor, statement, params, context, many):  # noqa: ANN001, ANN202
        seen.append((statement, params))

    t = time.perf_counter()
    with db.read() as s:
        log_stats.per_version(s, principal, **scope)
    out = {"total": (time.perf_counter() - t) * 1000}
    event.remove(db.engine, "before_cursor_execute", _record)
    with db.engine.connect() as conn:
        for statement, params in seen:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            best = min(_run(conn, statement, params) for _ in range(2))
            kind = ("running totals" if "_totals" in statement or "latency_buckets" in statement else
                    "score means and CIs" if "FROM scores" in statement and "GROUP BY" in statement else
                    "latency percentiles" if "OFFSET" in statement or "row_number" in statement else
                    "counts, errors, cost" if "GROUP BY" in statement else "other")
            out[kind] = out.get(kind, 0.0) + best
    db.dispose()
    return out


def _run(conn, statement: str, params: object) -> float:  # noqa: ANN001
    t = time.perf_counter()
    conn.exec_driver_sql(statement, params).fetchall()
    return (time.perf_counter() - t) * 1000


def log_in(c: httpx.Client) -> None:
    page = c.get("/ui/login")
    token = re.search(r'name="login_token" value="([^"]+)"', page.text).group(1)
    r = c.post("/ui/login", data={"email": EMAIL, "password": PASSWORD, "login_token": token, "next": "/ui/"})
    assert r.status_code == 303, r.text


def timed(c: httpx.Client, path: str, params: dict | None, runs: int) -> list[float]:
    r = c.get(path, params=params)  # warm-up, and the page must be right
    assert r.status_code == 200, (path, r.status_code, r.text[:500])
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        r = c.get(path, params=params)
        out.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--label", required=True)
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    ensure_user(args.url)
    with server(args.url) as url:
        with httpx.Client(base_url=url, timeout=120) as c:
            log_in(c)
            first = c.get("/ui/requests").text
            older = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
            ref = re.search(r'href="/ui/requests/(\d+)"', first).group(1)
            pages = [
                ("requests list, newest 50", "/ui/requests", None, args.runs),
                ("requests list, 3-condition filter", "/ui/requests", {"q": FILTER}, args.runs),
                ("requests list, one version", "/ui/requests", {"prompt": "bench/prompt-0", "version": 2}, args.runs),
                ("requests list, a prompt without logs", "/ui/requests", {"prompt": RARE}, args.runs),
                ("requests list, older page (cursor)", older, None, args.runs),
                ("request detail", f"/ui/requests/{ref}", None, args.runs),
                ("analytics, one prompt (~20% of logs)", "/ui/analytics", {"prompt": "bench/prompt-0"}, 5),
                ("analytics, all logs", "/ui/analytics", None, 5),
                ("analytics, all logs, filter metadata.store", "/ui/analytics", {"q": 'metadata.store = "s3"'}, 3),
                ("analytics, last 25,000 logs (time filter)", "/ui/analytics", {"q": f"time >= {RECENT}"}, 2),
            ]
            results = [(name, timed(c, path, params, runs)) for name, path, params, runs in pages]
    lines = [f"| {name} | {pct(ts, 50):.1f} | {pct(ts, 95):.1f} | {'yes' if pct(ts, 95) < 200 else 'no'} |"
             for name, ts in results]
    print("\n".join(lines), flush=True)
    parts = {label: stats_breakdown(args.url, **scope) for label, scope in (
        ("all logs", {}), ('filter metadata.store = "s3"', {"node": query.parse('metadata.store = "s3"')}),
        (f"filter time >= {RECENT}", {"node": query.parse(f"time >= {RECENT}")}))}
    kinds = ["running totals", "counts, errors, cost", "latency percentiles", "score means and CIs"]
    breakdown = [f"| {label} | {b['total']:.0f} | " + " | ".join(f"{b.get(k, 0):.0f}" for k in kinds) + " |"
                 for label, b in parts.items()]
    print("\n".join(breakdown), flush=True)
    section = f"ui-requests-{args.label.split(',')[0].lower()}"
    write_section(section, "\n".join([
        f"## Request log pages of the UI, {args.label} (`bench/bench_ui.py`)",
        f"Seeded by `bench/seed_million.py`. A logged-in viewer, one keep-alive connection to one "
        f"`promptyard serve` on the same machine ({machine()}); milliseconds from request to the whole "
        f"page, HTML rendered on the server. The 3-condition filter is `{FILTER}`. Target: < 200 ms.",
        "",
        "| page | p50 | p95 | < 200 ms |",
        "|---|---|---|---|",
        *lines,
        "",
        "The analytics pages spend their time in `log_stats.per_version` (rendering the table and SVG "
        "charts takes about 5 ms). Its statements, in-process, milliseconds:",
        "",
        "| scope | per_version total | " + " | ".join(kinds) + " |",
        "|---|---|---|---|---|---|",
        *breakdown,
        "",
        "Over all logs or one prompt the page reads the running totals (store/rollups.py). With a "
        "filter the aggregates are computed from the matching logs in one statement, the matches read from "
        "the filter's smallest index set (services/log_stats.py; its own figures: bench/bench_analytics.py). "
        "These rows were measured before that change.",
    ]))


if __name__ == "__main__":
    sys.exit(main())
