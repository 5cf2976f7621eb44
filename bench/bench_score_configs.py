"""What checking scores against their configs costs on bulk scores (issue 17): POST /api/v1/scores'
service (request_annotations.annotate_many) in process, batches of 500 scores of stored logs, on
SQLite and PostgreSQL: free-form 0-100 scores (no config: the only case before configs existed),
and scores of a categorical, a boolean and a numeric config (the workspace's configs are loaded once
per batch). Run it on a tree without score configs too (`--free-only`) for the figure before.

    python bench/bench_score_configs.py [--scores 20000] [--only sqlite|postgresql] [--free-only]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from common import fresh_pg, machine  # noqa: E402

from promptyard.services import keys, request_annotations, request_ingest  # noqa: E402
from promptyard.store.db import Database  # noqa: E402
from promptyard.store.migrate import upgrade  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/scores_bench_score_configs"
BATCH = 500
CONFIGS = [
    {"name": "有用性", "type": "categorical", "comment_required_below": 2,
     "categories": [{"value": v, "label": str(v), "description": "説明"} for v in range(1, 6)]},
    {"name": "安全", "type": "boolean"},
    {"name": "dose", "type": "numeric", "min": 0, "max": 10, "step": 0.5},
]


def _configured(i: int) -> dict:
    kind = i % 3
    if kind == 0:
        return {"name": "有用性", "value": 2 + i % 4}
    if kind == 1:
        return {"name": "安全", "value": bool(i % 2)}
    return {"name": "dose", "value": (i % 21) / 2}


def rate(db: Database, p, ids: list[str], typed: bool) -> float:  # noqa: ANN001
    start = time.perf_counter()
    for at in range(0, len(ids), BATCH):
        entries = [({"request": rid} | (_configured(i) if typed else {"name": "free", "value": i % 101}))
                   for i, rid in enumerate(ids[at:at + BATCH], at)]
        with db.write() as s:
            out = request_annotations.annotate_many(s, p, request_annotations.SCORE_BATCH, {"scores": entries},
                                                    grace_s=60, max_items=BATCH)
        assert out["accepted"] == len(entries) and not out["errors"], out["errors"][:3]
    return len(ids) / (time.perf_counter() - start)


def run(url: str, n: int, free_only: bool) -> tuple[float, float | None]:
    db = Database(url)
    upgrade(db.engine)
    with db.write() as s:
        ws, _ = keys.ensure_workspace(s, f"bench-{uuid.uuid4().hex[:8]}")
    p = keys.system_principal(ws, actor="bench")
    ids = [str(uuid.uuid4()) for _ in range(n)]
    for at in range(0, n, BATCH):
        with db.write() as s:
            request_ingest.ingest(s, p, [{"id": rid, "output": {"text": "1日2回"}} for rid in ids[at:at + BATCH]],
                                  max_batch=BATCH)
    free = rate(db, p, ids, typed=False)
    typed = None
    if not free_only:
        from promptyard.services import score_configs

        with db.write() as s:
            for body in CONFIGS:
                score_configs.create(s, p, body)
        typed = rate(db, p, ids, typed=True)
    db.dispose()
    return free, typed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scores", type=int, default=20_000)
    ap.add_argument("--only", choices=["sqlite", "postgresql"])
    ap.add_argument("--free-only", action="store_true", help="only free-form scores (a tree without configs)")
    args = ap.parse_args()
    targets = []
    if args.only != "postgresql":
        targets.append(("SQLite", f"sqlite:///{tempfile.mkdtemp(prefix='py-bench-')}/bench.db"))
    if args.only != "sqlite" and fresh_pg(PG):
        targets.append(("PostgreSQL", PG))
    for label, url in targets:
        load = os.getloadavg()[0]
        free, typed = run(url, args.scores, args.free_only)
        typed_text = f"{typed:,.0f}" if typed is not None else "—"
        print(f"| {label} | {free:,.0f} | {typed_text} | {load:.1f} |", flush=True)
    print(machine())


if __name__ == "__main__":
    main()
