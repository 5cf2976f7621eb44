"""Where the experiment view's time goes at scale: the one statement that reads an experiment's
per-unit sums (store/experiment_totals.moments), over the rows 20,000 and 100,000 sticky users
leave (users x 5 metrics rows of `experiment_units`; bench_experiments.py's 1,000,000 requests come
from 20,000 users), with the query plans. In-process, median of 9 runs after 2 warm-ups.

    python bench/profile_experiment_sums.py

The rows are inserted directly, as ingest would leave them (bench_experiments.py makes them
through the real ingest).
"""

from __future__ import annotations

import random
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, write_section  # noqa: E402

from promptyard.services import experiments, keys, labels, prompts, versions  # noqa: E402
from promptyard.store import experiment_totals as totals  # noqa: E402
from promptyard.store.db import Database  # noqa: E402
from promptyard.store.migrate import upgrade  # noqa: E402
from promptyard.store.models import Experiment, ExperimentUnit  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/promptyard_bench_exp_sums"
POLICY = {"sticky_key": "user_id", "split": [{"version": 1, "weight": 50}, {"version": 2, "weight": 50}],
          "segments": [{"name": "staff", "when": [{"key": "role", "op": "=", "value": "staff"}], "version": 2}]}
METRICS = ("@error_rate", "@latency_ms", "@cost", "medically_correct", "helpful")
SIZES = (20_000, 100_000)  # sticky users; a tenth of them staff


def setup(db: Database, users: int) -> int:
    upgrade(db.engine)
    with db.write() as s:
        ws, _ = keys.ensure_workspace(s, f"bench-{uuid.uuid4().hex[:6]}")
        p = keys.system_principal(ws)
        pid = prompts.create(s, p, name="bench/sums").id
        for v in (1, 2):
            versions.publish(s, p, pid, {"messages": [{"role": "user", "content": f"v{v}"}], "commit_message": "b"})
        labels.move(s, p, pid, "production", version=1, reason="bench")
        experiments.set_policy(s, p, pid, "production", policy=POLICY, reason="bench")
        eid = s.scalar(select(Experiment.id))
        units = list(range(users))
        random.Random(1).shuffle(units)
        for start in range(0, users, 5_000):  # as ingest makes them: each batch's new units, in key order
            rows = []
            for u in units[start:start + 5_000]:
                rule, version = ("segment:staff", 2) if u < users // 10 else ("split", 1 + u % 2)
                unit = totals.unit_digest(f"u{u}")
                rows += [{"experiment_id": eid, "version": version, "rule": rule, "unit": unit, "metric": m,
                          "n": 50.0, "y": 3000.0, "yy": 200_000.0} for m in METRICS]
            rows.sort(key=lambda r: (r["version"], r["rule"], r["metric"], r["unit"]))
            s.execute(insert(ExperimentUnit.__table__), rows)
    return eid


def median_ms(db: Database, eid: int) -> float:
    out = []
    for i in range(11):
        t = time.perf_counter()
        with db.read() as s:
            totals.moments(s, [eid])
        if i >= 2:
            out.append((time.perf_counter() - t) * 1000)
    return sorted(out)[len(out) // 2]


def plan(db: Database, eid: int) -> str:
    """The query plan of moments' statement (PostgreSQL: as run, with EXPLAIN ANALYZE)."""
    from sqlalchemy import event

    seen = []

    def grab(conn, cursor, statement, params, context, many):  # noqa: ANN001, ANN202
        if "experiment_units" in statement:
            seen.append((statement, params))

    event.listen(db.engine, "before_cursor_execute", grab)
    with db.read() as s:
        totals.moments(s, [eid])
    event.remove(db.engine, "before_cursor_execute", grab)
    statement, params = seen[0]
    with db.engine.connect() as c:
        if db.engine.dialect.name == "sqlite":
            return "; ".join(r[3] for r in c.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params))
        lines = [r[0].strip().lstrip("-> ") for r in c.exec_driver_sql("EXPLAIN (ANALYZE, COSTS OFF) " + statement,
                                                                         params)]
    nodes = []  # the plan's nodes, outermost first, with how a sort was done
    for line in lines:
        if "(actual" in line:
            nodes.append(line.split(" (actual")[0])
        elif line.startswith("Sort Method"):
            nodes[-1] += f" ({line.split(': ', 1)[1]})"
    return " < ".join(nodes)


def sqlite_rows() -> list[tuple[int, str, float, str]]:
    out = []
    for users in SIZES:
        folder = tempfile.mkdtemp(prefix="py-bench-sums-")
        db = Database(f"sqlite:///{folder}/sums.db")
        eid = setup(db, users)
        out.append((users, "as the schema is", median_ms(db, eid), plan(db, eid)))
        db.dispose()
        shutil.rmtree(folder)
    return out


def pg_rows() -> list[tuple[int, str, float, str]]:
    admin = create_engine(PG.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    out = []
    for users in SIZES:
        try:
            with admin.connect() as c:
                c.exec_driver_sql("DROP DATABASE IF EXISTS promptyard_bench_exp_sums WITH (FORCE)")
                c.exec_driver_sql("CREATE DATABASE promptyard_bench_exp_sums")
        except Exception:  # noqa: BLE001
            return out
        try:
            db = Database(PG)
            eid = setup(db, users)
            with db.engine.connect() as c:
                autovacuum = c.exec_driver_sql("SHOW autovacuum").scalar()
            out.append((users, f"never analyzed (autovacuum {autovacuum} on this cluster)", median_ms(db, eid),
                        plan(db, eid)))
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.exec_driver_sql("VACUUM ANALYZE experiment_units")
            out.append((users, "after VACUUM ANALYZE experiment_units", median_ms(db, eid), plan(db, eid)))
            db.dispose()
        finally:
            with admin.connect() as c:
                c.exec_driver_sql("DROP DATABASE IF EXISTS promptyard_bench_exp_sums WITH (FORCE)")
    admin.dispose()
    return out


def main() -> None:
    rows = [("SQLite", *r) for r in sqlite_rows()] + [("PostgreSQL", *r) for r in pg_rows()]
    lines = [f"| {dbname} | {users:,} | {users * len(METRICS):,} | {name} | {ms:.0f} | {how} |"
             for dbname, users, name, ms, how in rows]
    print("\n".join(lines), flush=True)
    write_section("experiments-sums", "\n".join([
        "## The experiment sums query by number of sticky users (`bench/profile_experiment_sums.py`)",
        f"{machine()}. `experiment_totals.moments` (the view's one costly statement) over users x "
        f"{len(METRICS)} metrics rows of `experiment_units` (bench_experiments.py's 1,000,000 requests come from "
        "20,000 users), inserted as ingest leaves them (5,000 new units at a time, each batch in key order). "
        "The table's key is in the statement's GROUP BY order (on SQLite a WITHOUT ROWID table). In-process, "
        "median of 9 runs, milliseconds.",
        "",
        "| database | sticky users | unit rows | table | moments ms | plan |",
        "|---|---|---|---|---|---|",
        *lines,
    ]))


if __name__ == "__main__":
    sys.exit(main())
