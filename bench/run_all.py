"""Run every benchmark and write its figures into docs/benchmarks.md (`make bench`).

The search and UI benchmarks need the seeded million-log data sets; they are made first when
missing (SQLite: bench/out/million.db; PostgreSQL: database promptyard_bench, when reachable).
bench_experiments.py loads its own logs through the real ingest (1,100,000 per database, and
1,000,000 more for its requests-as-units variant). Takes about 2 hours on 2 cores."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SQLITE = f"sqlite:///{HERE / 'out' / 'million.db'}"
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/promptyard_bench"


def run(*args: str) -> None:
    print("+", " ".join(args), flush=True)
    subprocess.run([sys.executable, *args], check=True, cwd=HERE.parent)


def pg_seeded() -> bool | None:
    """True when the PostgreSQL data set exists, False when it can be made, None without PostgreSQL."""
    from sqlalchemy import create_engine, text

    admin = create_engine(PG.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            if c.execute(text("SELECT 1 FROM pg_database WHERE datname = 'promptyard_bench'")).first():
                return True
            c.execute(text("CREATE DATABASE promptyard_bench"))
            return False
    except Exception:  # noqa: BLE001
        return None
    finally:
        admin.dispose()


def main() -> None:
    for script in ("bench_fetch.py", "bench_ingest.py", "bench_sdk.py", "bench_sdk_limits.py",
                   "bench_promptlayer_sdk.py", "bench_experiments.py", "profile_experiment_sums.py"):
        run(f"bench/{script}")
    run("bench/bench_experiments.py", "--requests-as-units")
    if not (HERE / "out" / "million.db").exists():
        run("bench/seed_million.py", "--url", SQLITE)
    targets = [(SQLITE, "SQLite")]
    pg = pg_seeded()
    if pg is False:
        run("bench/seed_million.py", "--url", PG)
    if pg is not None:
        targets.append((PG, "PostgreSQL"))
    for url, name in targets:
        run("bench/bench_search.py", "--url", url, "--label", f"{name}, 1,000,000 logs")
        run("bench/bench_ui.py", "--url", url, "--label", f"{name}, 1,000,000 logs")
        run("bench/bench_export.py", "--url", url, "--label", f"{name}, 1,000,000 logs")


if __name__ == "__main__":
    main()
