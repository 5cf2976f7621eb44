"""Batch ingest over HTTP: logs with 3 metadata keys and 2 scores, in batches of 500, into a real
`promptyard serve`, on SQLite and PostgreSQL. Target: at least 5,000 logs/s."""

from __future__ import annotations

import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, server, write_section  # noqa: E402
from bench_fetch import PG, pg_ready  # noqa: E402

BATCH, BATCHES, CLIENTS = 500, 40, 2


def make_log(i: int) -> dict:
    return {"id": str(uuid.uuid4()), "provider": "openai", "model": "gpt-4o",
            "input": {"messages": [{"role": "user", "content": f"質問 {i}: この薬の用量は?"}]},
            "output": {"text": f"回答 {i}: 1日2回、食後に服用してください。"},
            "start_time": 1764000000 + i, "end_time": 1764000000.8 + i,
            "usage": {"input_tokens": 120, "output_tokens": 40}, "tags": ["bench"],
            "metadata": {"env": "prod", "user_id": f"u{i % 997}", "store": f"s{i % 31}"},
            "scores": [{"name": "follows_manual", "value": i % 101}, {"name": "medically_correct", "value": (i * 7) % 101}]}


def run(url: str, key: str) -> float:
    batches = [[make_log(b * BATCH + i) for i in range(BATCH)] for b in range(BATCHES)]

    def send(batch: list[dict]) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
            r = c.post("/api/v1/requests", json={"requests": batch})
            r.raise_for_status()
            assert r.json()["accepted"] == len(batch), r.text[:300]

    send(batches[0])  # warm up
    start = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(send, batches[1:]))
    return (BATCHES - 1) * BATCH / (time.perf_counter() - start)


def main() -> None:
    rows = []
    for label, db_url in [("SQLite", None)] + ([("PostgreSQL", PG)] if pg_ready() else []):
        with server(db_url) as (url, key):
            rate = run(url, key)
        rows.append(f"| {label} | {rate:,.0f} |")
        print(rows[-1], flush=True)
    write_section("ingest", "\n".join([
        "## Batch ingest (`bench/bench_ingest.py`)",
        f"{(BATCHES - 1) * BATCH:,} logs (3 metadata keys, 2 scores, tags, token usage each) posted in batches of "
        f"{BATCH} by {CLIENTS} concurrent clients to one `promptyard serve` process; {machine()}. "
        "Target: at least 5,000 logs/s.", "",
        "| database | logs/s |", "|---|---|", *rows]))


if __name__ == "__main__":
    main()
