"""Issue 12's scale target: a label with 1,000,000 requests and 2 scores, its experiment view
(p95 < 500 ms) on SQLite and PostgreSQL, and what the experiment sums cost the ingest.

    python bench/bench_experiments.py [--rows 1000000] [--runs 50] [--only sqlite|postgresql]

Per database (a SQLite file in a temporary directory; a PostgreSQL database created and dropped
here): a prompt with versions 1-3, label `production` with a sticky 50/50 split of v1/v2 and a
`staff` segment on v2 (set with services.experiments.set_policy), label `staging` on v1 without a
policy. Logs go through the real ingest (services.request_ingest.ingest, in-process, batches of
5,000) with metadata user_id from 20,000 users (10% staff) and 2 scores each, so the per-unit
experiment sums are kept as in production. The first 2 x 200,000 logs alternate batch by batch
between the two labels (same database size for both), then `production` gets the rest.

The view is timed as the service call (experiments.view, in-process), over HTTP against a real
`promptyard serve` (GET /api/v1/prompts/{id}/labels/production/experiment, one keep-alive
connection) and as the UI page of a logged-in viewer.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import random
import shutil
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Iterator

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ui import EMAIL, PASSWORD, log_in, server  # noqa: E402
from common import machine, pct, timed, write_section  # noqa: E402

from promptyard.domain import routing  # noqa: E402
from promptyard.services import experiments, keys, labels, prompts, request_ingest, users, versions  # noqa: E402
from promptyard.store import experiment_totals  # noqa: E402
from promptyard.store.db import Database  # noqa: E402
from promptyard.store.migrate import upgrade  # noqa: E402
from promptyard.store.types import utcnow  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/promptyard_bench_experiments"
NAME = "bench/experiment"
OUT = Path(__file__).resolve().parent / "out"
POLICY = {"sticky_key": "user_id", "split": [{"version": 1, "weight": 50}, {"version": 2, "weight": 50}],
          "segments": [{"name": "staff", "when": [{"key": "role", "op": "=", "value": "staff"}], "version": 2}]}
USERS, STAFF, BATCH, COMPARE = 20_000, 2_000, 5_000, 50_000


def setup(db: Database, policy: dict) -> tuple[object, int, str]:
    """The prompt, its two labels, an API key and a UI viewer; (principal, prompt id, raw key)."""
    upgrade(db.engine)
    with db.write() as s:
        ws, _ = keys.ensure_workspace(s, f"bench-{uuid.uuid4().hex[:6]}")
        p = keys.system_principal(ws, actor="bench")
        pid = prompts.create(s, p, name=NAME).id
        for v in (1, 2, 3):
            versions.publish(s, p, pid, {"messages": [{"role": "user", "content": f"v{v} {{question}}"}],
                                         "commit_message": f"v{v}"})
        labels.move(s, p, pid, "production", version=1, reason="bench")
        labels.move(s, p, pid, "staging", version=1, reason="bench")
        experiments.set_policy(s, p, pid, "production", policy=policy, reason="bench",
                               declared={"primary_metric": "medically_correct", "hypothesis": "v2 answers better"})
        _, raw = keys.create_key(s, p, name="bench", scopes=["read", "write", "ingest", "admin"])
        users.create_user(s, ws, email=EMAIL, password=PASSWORD, role="viewer")
    return p, pid, raw


KINDS = {  # what a log names, as ingest sees it: (label, whether it carries the SDK's routing decision)
    "label named, with policy": ("production", False),
    "label named, no policy": ("staging", False),
    "routing decision sent, with policy": ("production", True),
    "version sent, no policy": ("staging", True),
}


def make_logs(rng: random.Random, kind: str, n: int, policy: dict) -> list[dict]:
    """Logs of one kind: naming the label only (the server routes each by its metadata), or as the
    SDK sends them after a routed fetch (the version it got and, under a policy, the decision)."""
    label, sent = KINDS[kind]
    now = utcnow()
    out = []
    for i in range(n):
        u = rng.randrange(USERS)
        meta = {"user_id": f"u{u}", **({"role": "staff"} if u < STAFF else {})}
        prompt, decision = {"name": NAME, "label": label}, None
        if sent and label == "production":
            chosen = routing.assign(policy, meta, label=label)
            prompt["version"] = chosen.version
            decision = {"label": label, "rule": chosen.rule, "unit": chosen.unit}
        elif sent:
            prompt["version"] = 1
        t = now + timedelta(microseconds=i)
        out.append({
            "id": str(uuid.uuid4()), "provider": "openai", "model": "gpt-4o",
            "start_time": t.isoformat(), "end_time": (t + timedelta(milliseconds=800)).isoformat(),
            "latency_ms": rng.lognormvariate(6.5, 0.4), "status": "error" if rng.random() < 0.02 else "ok",
            "input": {"messages": [{"role": "user", "content": f"質問 {i}"}]}, "output": {"text": f"回答 {i}"},
            "usage": {"input_tokens": 120, "output_tokens": 40}, "prompt": prompt, "metadata": meta,
            "scores": [{"name": "medically_correct", "value": min(100, max(0, rng.gauss(70 if u < STAFF else 60, 15)))},
                       {"name": "helpful", "value": min(100, max(0, rng.gauss(75, 10)))}],
            **({"routing": decision} if decision else {})})
    return out


def ingest(db: Database, p: object, logs: list[dict]) -> float:
    """Seconds to ingest one batch in its own transaction (commit included)."""
    t = time.perf_counter()
    with db.write() as s:
        got = request_ingest.ingest(s, p, logs, max_batch=len(logs))
    assert got["accepted"] == len(logs) and not got["errors"], got["errors"][:3]
    return time.perf_counter() - t


def load(db: Database, p: object, pid: int, rows: int, compare: int) -> dict[str, float]:
    """`rows` logs for production and COMPARE of each no-policy kind for staging; logs/s by kind.
    First COMPARE logs of each kind, batch by batch in turn (the same database size for all), then
    production logs with the SDK's decision up to `rows` (naming the label only costs the server
    a routing per log: see docs/benchmarks.md)."""
    with db.read() as s:
        policy = experiments.view(s, p, pid, "production")["experiment"]["policy"]  # with its salt
    rng = random.Random(12)
    first = min(rows // 2, compare)
    spent = dict.fromkeys(KINDS, 0.0)
    t0 = time.time()
    for base in range(0, first, BATCH):
        for kind in KINDS:
            spent[kind] += ingest(db, p, make_logs(rng, kind, min(BATCH, first - base), policy))
        if (base + BATCH) % 25_000 == 0:
            print(f"  {4 * (base + BATCH):,} logs loaded ({time.time() - t0:.0f} s)", flush=True)
    rates = {f"{kind} ({first:,} logs)": first / secs for kind, secs in spent.items() if secs}
    bulk, done = spent["routing decision sent, with policy"], 2 * first
    for base in range(done, rows, BATCH):
        bulk += ingest(db, p, make_logs(rng, "routing decision sent, with policy", min(BATCH, rows - base), policy))
        if (base + BATCH) % 100_000 == 0:
            print(f"  production: {base + BATCH:,} logs ({time.time() - t0:.0f} s)", flush=True)
    return rates | {f"routing decision sent, with policy, all {rows - first:,}": (rows - first) / bulk}


def measure(db: Database, url: str, p: object, pid: int, raw: str, runs: int) -> dict[str, list[float]]:
    def view() -> dict:
        with db.read() as s:
            return experiments.view(s, p, pid, "production")

    found = view()
    arms = {r["rule"]: {a["version"]: (a["units"], a["requests"]) for a in r["arms"]} for r in found["rules"]}
    print(f"  view: {arms}, winner {found['winner']}", flush=True)

    def moments() -> None:
        with db.read() as s:
            experiment_totals.moments(s, [found["experiment"]["id"]])

    out = {"service call (experiments.view)": timed(view, runs, warm=3),
           "of which the sums query (experiment_totals.moments)": timed(moments, runs, warm=3)}
    with server(url) as base:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {raw}"}, timeout=120) as c:
            path = f"/api/v1/prompts/{pid}/labels/production/experiment"
            assert c.get(path).status_code == 200
            out["HTTP API"] = timed(lambda: c.get(path).raise_for_status(), runs, warm=3)
        with httpx.Client(base_url=base, timeout=120) as c:
            log_in(c)
            page = f"/ui/prompts/{pid}/labels/production/experiment"
            r = c.get(page)
            if r.status_code == 200:
                out["UI page"] = timed(lambda: c.get(page).raise_for_status(), runs, warm=3)
            else:  # measured when the page works
                print(f"  UI page: {r.status_code}, not measured", flush=True)
                out["UI page"] = r.status_code
    return out


def unit_rows(db: Database) -> int:
    from sqlalchemy import func, select

    from promptyard.store.models import ExperimentUnit
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(ExperimentUnit))


def pg_fresh(create: bool) -> bool:
    from sqlalchemy import create_engine

    admin = create_engine(PG.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.exec_driver_sql("DROP DATABASE IF EXISTS promptyard_bench_experiments WITH (FORCE)")
            if create:
                c.exec_driver_sql("CREATE DATABASE promptyard_bench_experiments")
        return True
    except Exception:  # noqa: BLE001
        return False
    finally:
        admin.dispose()


def run(name: str, url: str, rows: int, runs: int, barrier: Path | None, sticky: bool) -> dict:
    compare = COMPARE if sticky else 0  # the ingest comparison is made once, with the sticky policy
    print(f"{name}: loading {rows:,} + {2 * min(rows // 2, compare):,} logs", flush=True)
    t0 = time.time()
    db = Database(url)
    p, pid, raw = setup(db, POLICY if sticky else {k: v for k, v in POLICY.items() if k != "sticky_key"})
    rates = load(db, p, pid, rows, compare)
    print(f"  ingest logs/s: {rates}", flush=True)
    loaded = time.time() - t0
    db.analyze()  # what the server does at start and every PROMPTYARD_ANALYZE_EVERY_S
    n_units = unit_rows(db)
    with together(barrier, name):
        times = measure(db, url, p, pid, raw, runs)
    for what, ts in times.items():
        if isinstance(ts, list):
            print(f"  {what}: p50 {pct(ts, 50):.1f} ms, p95 {pct(ts, 95):.1f} ms", flush=True)
    db.dispose()
    return {"rates": rates, "times": times, "unit_rows": n_units, "load_s": loaded, "total_s": time.time() - t0,
            "rows": rows, "runs": runs, "parallel": barrier is not None}


@contextmanager
def together(barrier: Path | None, name: str) -> Iterator[None]:
    """With --barrier DIR (SQLite and PostgreSQL loaded by two processes at once): wait until both
    have loaded, then measure one at a time, so the timings do not share the CPU with a load."""
    if barrier is None:
        yield
        return
    barrier.mkdir(parents=True, exist_ok=True)
    (barrier / f"{name}.loaded").touch()
    while len(list(barrier.glob("*.loaded"))) < 2:
        time.sleep(5)
    with open(barrier / "measure.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def write_doc(results: dict[str, dict], variant: dict[str, dict]) -> None:
    """The section of docs/benchmarks.md; `variant`: the runs with requests as units, when made."""
    names = [n for n in ("SQLite", "PostgreSQL") if n in results]
    first = results[names[0]]
    rows, runs = first["rows"], first["runs"]

    def shown(ts: object) -> str:
        return f"{pct(ts, 50):.1f} / {pct(ts, 95):.1f}" if isinstance(ts, list) else f"not measured (HTTP {ts})"

    def table(key: str, cell, extra: str = "") -> list[str]:  # noqa: ANN001
        out = [f"| {what} | " + " | ".join(cell(results[n][key][what]) for n in names) + " |" for what in first[key]]
        other = next(iter(variant.values()), None)
        return out + ([f"| {what}, {extra} | " + " | ".join(
            cell(variant[n][key][what]) if n in variant else "-" for n in names) + " |" for what in other[key]]
            if other else [])

    rates = table("rates", lambda r: f"{r:,.0f}", "requests as units")
    times = table("times", shown, "requests as units")
    if variant:
        results = results | {f"{n}, requests as units": v for n, v in variant.items()}
    met = {n: all(pct(ts, 95) < 500 for ts in r["times"].values() if isinstance(ts, list)) for n, r in results.items()}
    verdict = "; ".join(f"{n}: {'yes' if ok else 'no'}" for n, ok in met.items())
    took = "; ".join(f"{n}: {r['total_s'] / 60:.0f} min (loading {r['load_s'] / 60:.0f})" for n, r in results.items())
    parallel = " The two databases were loaded by two processes at the same time (then measured one at a time)." \
        if any(results[n]["parallel"] for n in names) else ""
    write_section("experiments", "\n".join([
        "## Experiment view at 1,000,000 requests (`bench/bench_experiments.py`)",
        f"{machine()}, shared with other work. One label (`production`) with {rows:,} requests through the real ingest "
        f"(services.request_ingest.ingest, in-process, batches of {BATCH:,}), each with metadata user_id from "
        f"{USERS:,} users ({STAFF * 100 // USERS}% of them staff, whom a segment sends to v2; the others split "
        "50/50 between v1 and v2 by user) and 2 scores (medically_correct, helpful). The experiment's sums: "
        + "; ".join(f"{n}: {r['unit_rows']:,}" for n, r in results.items()) + " rows of `experiment_units`. "
        "Planner statistics refreshed after loading (Database.analyze, as the server does at start). "
        f"Target: experiment view p95 < 500 ms. {runs} timed runs after 3 warm-up runs.",
        "",
        "Ingest, logs/s (in-process, commit included, building the logs not counted), for four kinds of log "
        f"taken batch by batch in turn ({min(rows // 2, COMPARE):,} each, so all see the same database size): "
        "naming only the label (`{\"prompt\": {\"name\": ..., \"label\": ...}}`: the server routes each log "
        "by its metadata) or as the SDK sends them after a fetch (the version it got and, under a policy, its "
        "routing decision `{label, rule, unit}`), for `production` (with the policy, so ingest also keeps the "
        "experiment's per-unit sums) and `staging` (another label of the prompt, no policy). The rest of "
        "`production`'s logs were sent the SDK's way (\"all\": all of those). \"Requests as units\": the same "
        "policy without its sticky key (a fresh database, each request randomised on its own; all its logs sent "
        "the SDK's way)."
        + parallel,
        "",
        "| ingest | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
        *rates,
        "",
        "Experiment view, p50 / p95 in milliseconds. HTTP and UI: one keep-alive connection to one "
        "`promptyard serve` on the same machine; the UI page is a logged-in viewer's, HTML rendered on the server.",
        "",
        "| view | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
        *times,
        "",
        f"p95 < 500 ms: {verdict}. The run took {took}.",
    ]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--only", choices=["sqlite", "postgresql"])
    ap.add_argument("--barrier", type=Path, help="a directory shared with a second process run with the other --only")
    ap.add_argument("--requests-as-units", action="store_true",
                    help="the variant: a policy without sticky key (each request its own unit)")
    args = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    suffix, sticky = ("-requests", False) if args.requests_as_units else ("", True)
    if args.only != "postgresql":
        folder = tempfile.mkdtemp(prefix="py-bench-exp-")
        try:
            got = run("SQLite", f"sqlite:///{folder}/bench.db", args.rows, args.runs, args.barrier, sticky)
        finally:
            shutil.rmtree(folder)
        (OUT / f"experiments-sqlite{suffix}.json").write_text(json.dumps(got))
    if args.only != "sqlite" and pg_fresh(create=True):
        try:
            got = run("PostgreSQL", PG, args.rows, args.runs, args.barrier, sticky)
            (OUT / f"experiments-postgresql{suffix}.json").write_text(json.dumps(got))
        finally:
            pg_fresh(create=False)

    def saved(suffix: str) -> dict[str, dict]:
        return {name: json.loads(path.read_text()) for name in ("SQLite", "PostgreSQL")
                if (path := OUT / f"experiments-{name.lower()}{suffix}.json").exists()}

    write_doc(saved(""), saved("-requests"))


if __name__ == "__main__":
    sys.exit(main())
