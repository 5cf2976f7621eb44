"""Retention and erasure: what SQLite's secure_delete (with incremental auto-vacuum) costs ingest,
and how fast logs are purged, with the space given back.

Ingest: bench_ingest.py's logs through the real ingest (services.request_ingest.ingest, in-process,
batches of 500, commit included), into two fresh SQLite files taken turn by turn (so that both
see the same load of a shared machine): one as the server opens it (secure_delete=ON,
auto_vacuum=INCREMENTAL) and one with both off (as before). Purge: retention over every log of a
database (erasure.purge: batches of 1,000, totals adjusted, then Database.reclaim), on SQLite and
PostgreSQL."""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_fetch import PG, pg_ready  # noqa: E402
from bench_ingest import make_log  # noqa: E402
from common import machine, pct, write_section  # noqa: E402

from promptyard.services import erasure, keys, request_ingest  # noqa: E402
from promptyard.store.db import Database  # noqa: E402
from promptyard.store.migrate import upgrade  # noqa: E402
from promptyard.store.types import utcnow  # noqa: E402

BATCH, ROUNDS, PURGE_LOGS = 500, 30, 20_000


def _database(url: str, *, secure: bool = True) -> tuple[Database, object]:
    if not secure:  # a file made before the server's settings: auto_vacuum stays NONE
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE x (a)")
            conn.execute("DROP TABLE x")
    db = Database(url)
    if not secure:  # runs after the engine's own connect hook
        @event.listens_for(db.engine, "connect")
        def _off(dbapi_conn, _record):  # noqa: ANN001
            dbapi_conn.execute("PRAGMA secure_delete=OFF")
    upgrade(db.engine)
    with db.write() as s:
        ws, _ = keys.ensure_workspace(s, "bench")
    return db, keys.system_principal(ws, actor="bench")


def _batch(start: int, days_ago: float = 0) -> list[dict]:
    logs = [make_log(start + i) | {"id": str(uuid.uuid4())} for i in range(BATCH)]
    if days_ago:
        t = (utcnow() - timedelta(days=days_ago)).isoformat()
        logs = [x | {"start_time": t, "end_time": None} for x in logs]
    return logs


def _ingest(db: Database, p: object, logs: list[dict]) -> float:
    t = time.perf_counter()
    with db.write() as s:
        request_ingest.ingest(s, p, logs, max_batch=BATCH)
    return time.perf_counter() - t


def ingest_cost() -> tuple[float, float]:
    """Median logs/s (secure, plain) over ROUNDS batches taken turn by turn."""
    tmp = Path(tempfile.mkdtemp(prefix="py-bench-erasure-"))
    secure, plain = _database(f"sqlite:///{tmp}/secure.db"), _database(f"sqlite:///{tmp}/plain.db", secure=False)
    for db, _ in (secure, plain):
        with db.engine.connect() as conn:
            mode = conn.exec_driver_sql("PRAGMA auto_vacuum").scalar(), conn.exec_driver_sql(
                "PRAGMA secure_delete").scalar()
        print(db.url, "auto_vacuum, secure_delete =", mode, flush=True)
    times: dict[str, list[float]] = {"secure": [], "plain": []}
    for r in range(ROUNDS + 2):
        logs = _batch(r * BATCH)
        for name, (db, p) in (("secure", secure), ("plain", plain)) if r % 2 else (("plain", plain),
                                                                                   ("secure", secure)):
            took = _ingest(db, p, [x | {"id": str(uuid.uuid4())} for x in logs])
            if r >= 2:  # two warm-up rounds
                times[name].append(BATCH / took)
    return pct(times["secure"], 50), pct(times["plain"], 50)


def purge_rate(url: str | None) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="py-bench-erasure-"))
    db, p = _database(url or f"sqlite:///{tmp}/purge.db")
    for b in range(PURGE_LOGS // BATCH):
        _ingest(db, p, _batch(b * BATCH, days_ago=60))
    _ingest(db, p, _batch(0, days_ago=0.01))  # recent logs that stay
    with db.write() as s:
        erasure.set_retention(s, p, 30, "bench")
    size = _size(db)
    t = time.perf_counter()
    done = erasure.purge(db, p)
    took = time.perf_counter() - t
    assert done["count"] == PURGE_LOGS, done
    t = time.perf_counter()
    db.reclaim()
    again = time.perf_counter() - t
    out = {"rate": PURGE_LOGS / took, "seconds": took, "reclaim": again, "before": size, "after": _size(db)}
    db.dispose()
    return out


def _size(db: Database) -> float:  # noqa: D401
    """MB of the database (SQLite: the file and its WAL; PostgreSQL: the log tables with TOAST and indexes)."""
    if db.kind == "sqlite":
        path = Path(db.engine.url.database)
        return sum(f.stat().st_size for f in (path, path.with_name(path.name + "-wal")) if f.exists()) / 1e6
    with db.engine.connect() as conn:
        return conn.exec_driver_sql("SELECT sum(pg_total_relation_size(t::regclass)) FROM unnest(%(t)s::text[]) t",
                                    {"t": ["requests", "request_metadata", "request_tags", "scores"]}).scalar() / 10**6


def main() -> None:
    secure, plain = ingest_cost()
    print(f"ingest logs/s: secure {secure:,.0f}, plain {plain:,.0f} ({secure / plain - 1:+.1%})", flush=True)
    rows = []
    for label, url in [("SQLite", None)] + ([("PostgreSQL", PG)] if pg_ready() else []):
        if url:
            from sqlalchemy import create_engine

            admin = create_engine(url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.exec_driver_sql("DROP DATABASE IF EXISTS promptyard_bench_erasure WITH (FORCE)")
                conn.exec_driver_sql("CREATE DATABASE promptyard_bench_erasure")
            url = url.rsplit("/", 1)[0] + "/promptyard_bench_erasure"
        r = purge_rate(url)
        rows.append(f"| {label} | {r['rate']:,.0f} | {r['seconds']:.1f} | {r['before']:.1f} | {r['after']:.1f} |")
        print(rows[-1], flush=True)
        if url:
            admin.dispose()
    write_section("erasure", "\n".join([
        "## Retention and erasure (`bench/bench_erasure.py`)",
        f"{machine()}, in-process. Ingest with SQLite's `secure_delete=ON` and `auto_vacuum=INCREMENTAL` (as the "
        f"server opens a new database) against both off, on two fresh files taken turn by turn, median of {ROUNDS} "
        f"batches of {BATCH} logs of `bench_ingest.py`: **{secure:,.0f}** against **{plain:,.0f}** logs/s "
        f"({secure / plain - 1:+.0%}).", "",
        f"Purge of {PURGE_LOGS:,} logs past a 30-day retention (with {BATCH} recent ones that stay): batches of "
        f"{erasure.BATCH:,} logs, totals adjusted, then `Database.reclaim` (SQLite: incremental vacuum and WAL "
        "checkpoint; PostgreSQL: plain VACUUM of the log tables). Size: SQLite file + WAL; PostgreSQL: requests, "
        "request_metadata, request_tags and scores with their TOAST tables and indexes (plain VACUUM keeps the "
        "files' size: the space is reused, not given back).", "",
        "| database | logs purged/s | seconds | MB before | MB after |", "|---|---|---|---|---|", *rows]))


if __name__ == "__main__":
    main()
