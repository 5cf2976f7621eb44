"""Seed a repeatable request-log data set (default 1,000,000 logs, each with 3 metadata keys and
2 scores) straight into a database with core bulk inserts, for bench_search.py.

    python bench/seed_million.py --url sqlite:///bench/out/million.db [--rows 1000000]

Prints the workspace's admin API key and keeps it in bench/out/ (common.key_file) for the benchmarks."""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import key_file  # noqa: E402

from promptyard.services import keys, versions
from promptyard.store import rollups
from promptyard.store.db import Database
from promptyard.store.migrate import upgrade
from promptyard.store.models import Request, RequestMetadata, RequestTag, Score

PROMPTS, VERSIONS, CHUNK = 5, 3, 20_000
OUT = Path(__file__).resolve().parent / "out"


def seed(url: str, rows: int, seed_value: int = 42) -> str:
    db = Database(url)
    upgrade(db.engine)
    with db.write() as s:
        ws, _ = keys.ensure_workspace(s, f"bench-{uuid.uuid4().hex[:6]}")
        p = keys.system_principal(ws)
        ids = {}
        for i in range(PROMPTS):
            for v in range(VERSIONS):
                rec, _ = versions.publish_by_name(s, p, name=f"bench/prompt-{i}", spec={
                    "messages": [{"role": "user", "content": f"v{v} {{question}}"}], "commit_message": f"v{v}"})
                ids[(i, v + 1)] = (rec.prompt_id, rec.id)
        _, raw = keys.create_key(s, p, name="bench", scopes=["read", "write", "ingest", "admin"])
    rng = random.Random(seed_value)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    t0 = time.time()
    for base in range(0, rows, CHUNK):
        n = min(CHUNK, rows - base)
        with db.write() as s:
            first, batch = _requests(s, ws, ids, rng, start, base, n)
            _children(s, ws, rng, first, batch)
        done = base + n
        if done % 100_000 == 0 or done == rows:
            print(f"{done:,} rows, {done / (time.time() - t0):,.0f} rows/s", flush=True)
    db.dispose()
    return raw


def _requests(s, ws, ids, rng, start, base, n) -> tuple[int, list[dict]]:  # noqa: ANN001
    batch = []
    for i in range(base, base + n):
        prompt, version = rng.randrange(PROMPTS), rng.randrange(VERSIONS) + 1
        pid, vid = ids[(prompt, version)]
        t = start + timedelta(seconds=i * 25)
        batch.append({
            "workspace_id": ws, "client_id": f"seed-{i}", "received_at": t, "start_time": t,
            "end_time": t + timedelta(milliseconds=800), "latency_ms": rng.lognormvariate(6.5, 0.4),
            "provider": "openai", "model": "gpt-4o", "input": {"messages": [{"role": "user", "content": f"q{i}"}]},
            "output": {"text": f"a{i}"}, "parameters": {}, "input_text": f"質問 {i}", "output_text": f"回答 {i}",
            "status": "error" if rng.random() < 0.02 else "ok", "input_tokens": 120, "output_tokens": 40,
            "total_tokens": 160, "cost": 0.0007, "prompt_id": pid, "prompt_version_id": vid,
            "prompt_name": f"bench/prompt-{prompt}", "version_number": version, "label": "production",
            "tags": ["bench"], "source": "api"})
    s.execute(insert(Request.__table__), batch)
    t = Request.__table__
    first = s.scalar(t.select().with_only_columns(t.c.id).where(t.c.client_id == f"seed-{base}", t.c.workspace_id == ws))
    return first, batch


def _children(s, ws, rng, first: int, batch: list[dict]) -> None:  # noqa: ANN001
    """Metadata, scores and tags, and the running totals as ingest keeps them."""
    meta, scores, tags = [], [], []
    changes = rollups.Changes()
    for rid, r in zip(range(first, first + len(batch)), batch):
        meta += [{"request_id": rid, "workspace_id": ws, "key": "env", "value": rng.choice(("prod", "prod", "dev"))},
                 {"request_id": rid, "workspace_id": ws, "key": "store", "value": f"s{rng.randrange(31)}"},
                 {"request_id": rid, "workspace_id": ws, "key": "user_id", "value": f"u{rng.randrange(50_000)}"}]
        scores += [{"request_id": rid, "workspace_id": ws, "name": "medically_correct", "value": rng.randrange(101),
                    "comment": "", "source": "api", "author": "seed"},
                   {"request_id": rid, "workspace_id": ws, "name": "follows_manual", "value": rng.randrange(101),
                    "comment": "", "source": "api", "author": "seed"}]
        tags.append({"request_id": rid, "workspace_id": ws, "tag": "bench"})
        version = rollups.key(r["prompt_name"], r["version_number"])
        changes.request(version, status=r["status"], total_tokens=r["total_tokens"], cost=r["cost"],
                        latency_ms=r["latency_ms"])
        for sc in scores[-2:]:
            changes.score(version, sc["name"], sc["value"])
    changes.apply(s, ws)
    s.execute(insert(RequestMetadata.__table__), meta)
    s.execute(insert(Score.__table__), scores)
    s.execute(insert(RequestTag.__table__), tags)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default=f"sqlite:///{OUT / 'million.db'}")
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    key = seed(args.url, args.rows)
    key_file(args.url).write_text(key)
    print(key)


if __name__ == "__main__":
    sys.exit(main())
