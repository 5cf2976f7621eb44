"""Where ingest's time goes, in one process on a fresh SQLite database: batches of 512 LLM spans
(bench_otlp.py's) through protobuf decoding + services/otlp_ingest.ingest, and batches of 500
logs (bench_ingest.py's `short` and `chat`) through services/request_ingest.ingest, redaction on.

    python bench/profile_ingest.py                 # rates (median of the batches, CPU and wall)
    python bench/profile_ingest.py --profile otlp  # and a cProfile of that kind, top functions

CPU time of this process (time.process_time) is given beside the wall clock: on the shared
machine it is the figure the load inflates least."""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_ingest  # noqa: E402
import bench_otlp  # noqa: E402

from promptyard.domain import otlp  # noqa: E402
from promptyard.services import keys, otlp_ingest, request_ingest  # noqa: E402
from promptyard.store.db import Database  # noqa: E402
from promptyard.store.migrate import upgrade  # noqa: E402


def batches(kind: str, n: int) -> list:
    """n batches of new items of one kind, built before timing."""
    if kind == "otlp":
        return [bench_otlp.batch(20_000 + b).SerializeToString() for b in range(n)]
    size = bench_ingest.BATCH
    return [[bench_ingest.make_log(b * size + i, kind) for i in range(size)] for b in range(n)]


def step(db: Database, p, kind: str, item) -> int:  # noqa: ANN001
    with db.write() as s:
        if kind == "otlp":
            spans = otlp.decode(item, otlp.PROTOBUF, max_values=10**6)
            otlp_ingest.ingest(s, p, spans, max_batch=1000)
            return len(spans)
        request_ingest.ingest(s, p, item, max_batch=1000)
        return len(item)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kinds", default="otlp,short,chat")
    ap.add_argument("--batches", type=int, default=8)
    ap.add_argument("--profile", default="", help="a kind to profile (cProfile, after one warm-up batch)")
    ap.add_argument("--top", type=int, default=40)
    args = ap.parse_args()
    for kind in args.kinds.split(","):
        db = Database(f"sqlite:///{tempfile.mkdtemp(prefix='py-prof-')}/bench.db")
        upgrade(db.engine)
        with db.write() as s:
            ws, _ = keys.ensure_workspace(s, "bench")
        p = keys.system_principal(ws, actor="bench")
        items = batches(kind, args.batches + 1)
        step(db, p, kind, items[0])  # warm up
        if kind == args.profile:
            prof = cProfile.Profile(time.process_time)
            prof.enable()
            for item in items[1:]:
                step(db, p, kind, item)
            prof.disable()
            prof.dump_stats(f"/tmp/prof-{kind}.out")
            pstats.Stats(prof).sort_stats("cumulative").print_stats(args.top)
            pstats.Stats(prof).sort_stats("tottime").print_stats(args.top)
            continue
        cpu, wall = [], []
        for item in items[1:]:
            c, w = time.process_time(), time.perf_counter()
            n = step(db, p, kind, item)
            cpu.append(n / (time.process_time() - c))
            wall.append(n / (time.perf_counter() - w))
        print(f"{kind}: {statistics.median(cpu):,.0f} per CPU second (best {max(cpu):,.0f}), "
              f"{statistics.median(wall):,.0f} per second (median of {args.batches} batches)", flush=True)


if __name__ == "__main__":
    main()
