"""PostgreSQL's month partitions (store/partitions.py), in process on fresh databases:

- **Reads over a year**: the same logs received over 12 months (12 partitions) and within one month
  (one partition, as one table was): the newest page, a selective 3-condition search, a 2-character
  Japanese text search and a lookup by number, p50/p95 over `--runs`.
- **Retention of a month**: one month of `--month-rows` logs past the period, purged row by row (the
  purge before partitions, forced) and by dropping the month (`erasure.drop_expired_months`).

    python bench/bench_partitions.py [--rows 120000] [--month-rows 50000] [--runs 30]

Logs go through the real ingest (request_ingest.ingest: totals, text index, scores, metadata), with
ingest's clock set to the month they are received in. Rewrites the section "PostgreSQL months" of
docs/benchmarks.md."""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import drop_pg, fresh_pg, machine, pct, timed, write_section  # noqa: E402

from promptyard.domain import query
from promptyard.services import erasure, keys, request_ingest, request_reads
from promptyard.store import partitions
from promptyard.store.db import Database
from promptyard.store.migrate import upgrade

PG = "postgresql+psycopg://postgres@127.0.0.1:5432"
SELECTIVE = 'metadata.env = "prod" AND metadata.user_id = "u7" AND score.q >= 80'
RARE = "麻疹"
_CLOCK = request_ingest.utcnow


def _month(n_back: int) -> datetime:
    now = datetime.now(timezone.utc)
    year, m = divmod(now.year * 12 + now.month - 1 - n_back, 12)
    return datetime(year, m + 1, 10, tzinfo=timezone.utc)


def _log(rng: random.Random, i: int, start: datetime) -> dict:
    word = RARE if i % 1000 == 0 else "用量"
    return {"id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "model": "gpt-4o",
            "start_time": start.isoformat(), "latency_ms": rng.randint(200, 3000),
            "input": {"messages": [{"role": "user", "content": f"{word}について教えてください {i}"}]},
            "output": {"text": f"1日{rng.randint(1, 3)}回、食後に服用してください。"},
            "metadata": {"env": "prod", "user_id": f"u{rng.randrange(1000)}", "store": f"s{rng.randrange(20)}"},
            "scores": [{"name": "q", "value": rng.randrange(101)}]}


def _fill(db: Database, p, months: list[datetime], per_month: int, rng: random.Random) -> None:  # noqa: ANN001
    for at in months:
        with db.write() as s:
            partitions.ensure(s.connection(), at, ahead=0)
        request_ingest.utcnow = lambda at=at: at  # ingest's clock: the month they are received in
        for base in range(0, per_month, 500):
            logs = [_log(rng, base + i, at + timedelta(seconds=base + i)) for i in range(min(500, per_month - base))]
            with db.write() as s:
                request_ingest.ingest(s, p, logs, max_batch=1000)
    request_ingest.utcnow = _CLOCK


def _database(name: str) -> tuple[Database, object]:
    url = f"{PG}/{name}"
    fresh_pg(url)
    db = Database(url)
    upgrade(db.engine)
    with db.write() as s:
        ws, _ = keys.ensure_workspace(s, "bench")
    return db, keys.system_principal(ws)


def _analyze(db: Database) -> None:
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.exec_driver_sql("VACUUM ANALYZE")


def reads(rows: int, runs: int) -> dict[str, dict[str, float]]:
    out = {}
    for label, spread in (("12 months", 12), ("1 month", 1)):
        db, p = _database(f"partitions_bench_{spread}")
        _fill(db, p, [_month(n) for n in range(spread - 1, -1, -1)], rows // spread, random.Random(7))
        _analyze(db)
        with db.read() as s:
            number = request_reads.browse(s, p, node=None, limit=1)["items"][0]["number"]
        cases = {"newest page": None, "selective 3 conditions": query.parse(SELECTIVE),
                 f"text ~ {RARE} (0.1%)": query.parse(f'text ~ "{RARE}"')}
        found = {}
        for case, node in cases.items():
            def run(node=node) -> None:  # noqa: ANN001
                with db.read() as s:
                    request_reads.browse(s, p, node=node, limit=50)
            found[case] = timed(run, runs)

        def lookup() -> None:
            with db.read() as s:
                request_reads.find(s, p, str(number))
        found["by number"] = timed(lookup, runs)
        out[label] = {case: (pct(t, 50), pct(t, 95)) for case, t in found.items()}
        db.dispose()
        drop_pg(f"{PG}/partitions_bench_{spread}")
    return out


def retention(month_rows: int) -> dict[str, float]:
    out = {}
    for how in ("row by row", "month dropped"):
        db, p = _database("partitions_bench_retention")
        old = _month(3)
        rng = random.Random(3)
        _fill(db, p, [old], month_rows, rng)
        with db.write() as s:
            erasure.set_retention(s, p, 30, "bench")
        _analyze(db)
        now = datetime.now(timezone.utc)
        t0 = time.perf_counter()
        if how == "row by row":
            n, _ = erasure._purge_workspace(db, p, 30, now - timedelta(days=30), None)
        else:
            n = sum(erasure.drop_expired_months(db, now).values())
        out[how] = (time.perf_counter() - t0, n)
        db.dispose()
        drop_pg(f"{PG}/partitions_bench_retention")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=120_000)
    ap.add_argument("--month-rows", type=int, default=50_000)
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    r = reads(args.rows, args.runs)
    k = retention(args.month_rows)
    lines = ["## PostgreSQL months (`bench/bench_partitions.py`)", "",
             f"Machine: {machine()}; quiet; in process through request_reads.browse / find (the call behind",
             f"the API and UI lists); {args.rows:,} logs received over 12 months against the same number within",
             "one month; the logs of bench/bench_partitions.py (3 metadata keys, one score, 0.1% holding the",
             "2-character word). ms, p50 / p95.", "",
             "| query | " + " | ".join(r) + " |", "|---|" + "---|" * len(r)]
    for case in next(iter(r.values())):
        lines.append(f"| {case} | " + " | ".join(f"{v[case][0]:.1f} / {v[case][1]:.1f}" for v in r.values()) + " |")
    lines += ["", f"Retention of one month of {args.month_rows:,} logs past a 30-day period (all of them):", "",
              "| purge | seconds | logs |", "|---|---|---|"]
    lines += [f"| {how} | {sec:.2f} | {n:,} |" for how, (sec, n) in k.items()]
    write_section("PostgreSQL months", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
