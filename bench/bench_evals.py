"""How long an evaluation run takes when the provider is the limit (issue 16): N items through the fake
OpenAI-compatible provider answering after 200 ms (model `slow-200`), a run concurrency of 32, the
server's runner (services/evaluation_runner.Runner, 32 worker threads) in process, one exact-match scorer.
Each item: claim, render, the HTTP call, ingest of the output as a request log with its score, the item
and the run's counts in one transaction. The floor is N / 32 x 0.2 s (6.25 s for 1,000 items). Each database
twice: alone, and with an annotation queue following the run (each output added as it is stored,
services/queue_sources.py).

    python bench/bench_evals.py [--items 1000] [--only sqlite|postgresql]
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
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import drop_pg, fresh_pg, machine  # noqa: E402

from promptyard.services import annotation_queues, datasets, evaluations, keys, prompts, providers, versions  # noqa: E402
from promptyard.services.evaluation_runner import Runner  # noqa: E402
from promptyard.services.render_pool import engine_for  # noqa: E402
from promptyard.settings import Settings  # noqa: E402
from promptyard.store.db import Database  # noqa: E402
from promptyard.store.migrate import upgrade  # noqa: E402
from tests.fakes.llm import run_fake_llm  # noqa: E402

PG = f"postgresql+psycopg://postgres@127.0.0.1:5432/evals_bench_evals_{os.getpid()}"  # one per run: runs side by side
CONCURRENCY = 32
LATENCY_MS = 200


def run(url: str, n: int, base_url: str, *, queue: bool = False) -> float:
    db = Database(url)
    upgrade(db.engine)
    engine = engine_for(Settings())
    with db.write() as s:
        ws, _ = keys.ensure_workspace(s, f"bench-{uuid.uuid4().hex[:6]}")
    p = keys.system_principal(ws, actor="bench")
    with db.write() as s:
        conn = providers.create(s, p, name="fake", kind="openai", base_url=base_url, secret="sk",
                                default_model="gpt-4o-mini")
        data = datasets.create(s, p, name="bench")
        datasets.add_items(s, p, data["id"], [{"input": {"q": f"質問 {i}"}, "expected": f"echo: 質問 {i}"}
                                              for i in range(n)])
        made = prompts.create(s, p, name="bench")
        versions.publish(s, p, made.id, {"messages": [{"role": "user", "content": "{q}"}], "commit_message": "v1"},
                         engine=engine)
        run_ = evaluations.create(s, p, {"dataset": data["id"], "provider": conn.id, "model": f"slow-{LATENCY_MS}",
                                         "variants": [{"prompt": "bench", "version": 1}],
                                         "concurrency": CONCURRENCY, "scorers": [{"type": "exact_match"}]},
                                  engine=engine)
        if queue:
            q = annotation_queues.create(s, p, {"name": "bench", "source": {"kind": "evaluation", "run": run_["id"]},
                                                "scores": [{"name": "ok_human", "kind": "yes_no"}]})
    runner = Runner(db, engine, workers=CONCURRENCY, poll_s=0.05)
    started = time.perf_counter()
    runner.start()
    try:
        while True:
            with db.read() as s:
                state = evaluations.progress(s, p, run_["id"])
            if state["status"] not in evaluations.ACTIVE:
                break
            time.sleep(0.05)
    finally:
        runner.stop()
    took = time.perf_counter() - started
    assert state["status"] == "done" and state["progress"]["done"] == n, state
    if queue:
        with db.read() as s:
            assert annotation_queues.get(s, p, q["id"])["counts"]["waiting"] == n
    db.engine.dispose()
    return took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--only", choices=["sqlite", "postgresql"])
    args = ap.parse_args()
    targets = []
    if args.only != "postgresql":
        targets.append(("SQLite", f"sqlite:///{tempfile.mkdtemp(prefix='evals-bench-')}/bench.db"))
    if args.only != "sqlite" and fresh_pg(PG):
        targets.append(("PostgreSQL", PG))
    floor = args.items / CONCURRENCY * LATENCY_MS / 1000
    with run_fake_llm() as fake:
        for label, url in targets:
            for queue in (False, True):
                load = os.getloadavg()[0]
                took = run(url, args.items, fake.openai_base_url, queue=queue)
                print(f"| {label} | {'yes' if queue else 'no'} | {args.items:,} | {took:.1f} s | "
                      f"{args.items / took:,.0f} items/s | {floor:.2f} s | {load:.1f} |", flush=True)
            if url == PG:
                drop_pg(PG)
    print(machine())


if __name__ == "__main__":
    main()
