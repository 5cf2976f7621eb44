"""Prompt fetch by name + label: p50/p99 in-process (service call) and over HTTP (keep-alive),
on SQLite and PostgreSQL. Target: p50 under 2 ms over HTTP."""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import fresh_pg, machine, pct, server, write_section  # noqa: E402

N = 2000
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/promptyard_bench_fetch"
NAME = "服薬指導/返信案"


def seed(client: httpx.Client) -> None:
    body = {"name": NAME, "messages": [{"role": "system", "content": "You help pharmacists."},
                                       {"role": "user", "content": "{question}"}],
            "model": {"provider": "openai", "name": "gpt-4o", "parameters": {"temperature": 0.2}},
            "commit_message": "bench", "labels": ["staging"]}
    for i in range(20):  # a few other prompts and versions around it
        client.post("/api/v1/publish", json={**body, "name": f"other/{i}", "labels": []}).raise_for_status()
    client.post("/api/v1/publish", json=body).raise_for_status()


def http_timings(url: str, key: str) -> list[float]:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client:
        seed(client)
        path = f"/api/v1/fetch/{quote(NAME, safe='')}"
        for _ in range(200):
            client.get(path, params={"label": "staging"}).raise_for_status()
        out = []
        for _ in range(N):
            t = time.perf_counter()
            client.get(path, params={"label": "staging"}).raise_for_status()
            out.append((time.perf_counter() - t) * 1000)
    return out


def inprocess_timings(db_url: str) -> list[float]:
    from promptyard.services import keys, labels, versions
    from promptyard.store.db import Database
    from promptyard.store.migrate import upgrade

    db = Database(db_url)
    upgrade(db.engine)
    with db.write() as s:
        ws, _ = keys.ensure_workspace(s, f"bench-{time.time()}")
        p = keys.system_principal(ws)
        versions.publish_by_name(s, p, name=NAME, spec={"messages": [{"role": "user", "content": "{q}"}],
                                                        "commit_message": "b"}, labels=["staging"])
    out = []
    for _ in range(N):
        t = time.perf_counter()
        with db.read() as s:
            labels.resolve(s, p, NAME, label="staging")
        out.append((time.perf_counter() - t) * 1000)
    db.dispose()
    return out


def main() -> None:
    import tempfile

    rows = []
    sqlite_url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    targets = [("SQLite", None, sqlite_url)] + ([("PostgreSQL", PG, PG)] if fresh_pg(PG) else [])
    for label, server_url, db_url in targets:
        inproc = inprocess_timings(db_url)
        with server(server_url) as (url, key):
            http = http_timings(url, key)
        rows.append(f"| {label} | {pct(inproc, 50):.3f} | {pct(inproc, 99):.3f} | {pct(http, 50):.3f} | "
                    f"{pct(http, 99):.3f} | {statistics.mean(http):.3f} |")
        print(rows[-1], flush=True)
    write_section("fetch", "\n".join([
        "## Prompt fetch by name + label (`bench/bench_fetch.py`)",
        f"{N} sequential fetches of `GET /api/v1/fetch/{{name}}?label=staging` over one keep-alive connection "
        f"to a real `promptyard serve` (one process), and the same resolution as an in-process service call. "
        f"Milliseconds, {machine()}. Target: p50 under 2 ms over HTTP.",
        "",
        "| database | in-process p50 | in-process p99 | HTTP p50 | HTTP p99 | HTTP mean |",
        "|---|---|---|---|---|---|",
        *rows,
    ]))


if __name__ == "__main__":
    main()
