"""Datasets at 10,000 items and ~200 versions (services/datasets.py keeps version ranges on the items rather
than a membership row per version): what an upload of 10,000 rows costs, what a version that edits
10 items costs, and what reading a page (100 items) and a whole version cost at version 1 and at
the latest (191). In-process services on a fresh SQLite file and a fresh PostgreSQL database
(`datasets_bench`), commit included.

    PYTHONPATH=src python bench/bench_datasets.py
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import fresh_pg, machine, pct, timed, write_section  # noqa: E402

from promptyard.services import dataset_files, datasets, keys  # noqa: E402
from promptyard.store.db import Database  # noqa: E402
from promptyard.store.migrate import upgrade  # noqa: E402

ITEMS, VERSIONS, EDITS = 10_000, 20, 10
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/datasets_bench"


def _file() -> io.BytesIO:
    rows = (json.dumps({"input": {"question": f"この薬は食後に飲みますか? ({i})", "patient": "成人"},
                        "expected": "はい、食後30分以内に服用してください。", "metadata": {"n": str(i)}},
                       ensure_ascii=False) for i in range(ITEMS))
    return io.BytesIO(("\n".join(rows) + "\n").encode())


def measure(url: str) -> dict[str, float]:
    db = Database(url)
    upgrade(db.engine)
    with db.write() as s:
        ws, _ = keys.ensure_workspace(s, "bench")
    p = keys.system_principal(ws, actor="bench")
    with db.write() as s:
        ds = datasets.create(s, p, name="bench")["id"]
    t = time.perf_counter()
    with db.write() as s:
        dataset_files.upload(s, p, ds, _file(), "jsonl")
    upload_ms = (time.perf_counter() - t) * 1000
    edit_ms = []
    for v in range(2, VERSIONS + 1):
        with db.read() as s:
            page = datasets.items(s, p, ds, after=(v * 37) % (ITEMS - EDITS), limit=EDITS)["items"]
        t = time.perf_counter()
        with db.write() as s:
            for item in page:
                datasets.update_item(s, p, ds, item["id"], {"expected": f"v{v}"})
        edit_ms.append((time.perf_counter() - t) * 1000 / EDITS)

    def read_page(version: int) -> None:
        with db.read() as s:
            datasets.items(s, p, ds, version=version, after=ITEMS // 2, limit=100)

    def read_all(version: int) -> None:
        with db.read() as s:
            assert sum(1 for _ in datasets.iterate(s, p, ds, version)[2]) == ITEMS

    with db.read() as s:
        latest = datasets.get(s, p, ds)["latest_version"]
    out = {"versions": latest, "upload_ms": upload_ms, "edit_ms_p50": pct(edit_ms, 50),
           "page_v1_ms": pct(timed(lambda: read_page(1), 20), 50),
           "page_latest_ms": pct(timed(lambda: read_page(latest), 20), 50),
           "all_v1_ms": pct(timed(lambda: read_all(1), 3), 50),
           "all_latest_ms": pct(timed(lambda: read_all(latest), 3), 50)}
    db.dispose()
    return out


def main() -> None:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["SQLite"] = measure(f"sqlite:///{tmp}/bench.db")
    if fresh_pg(PG):
        results["PostgreSQL"] = measure(PG)
    load = os.getloadavg()
    rows = "\n".join(f"| {name} | {r['upload_ms']:,.0f} ms | {r['edit_ms_p50']:.1f} ms | {r['page_v1_ms']:.1f} ms | "
                     f"{r['page_latest_ms']:.1f} ms | {r['all_v1_ms']:,.0f} ms | {r['all_latest_ms']:,.0f} ms |"
                     for name, r in results.items())
    versions = next(iter(results.values()))["versions"]
    write_section("datasets", f"""## Datasets: {ITEMS:,} items, {versions} versions

`bench/bench_datasets.py`, in-process services, commit included. An upload of {ITEMS:,} JSONL rows (one
version); then {VERSIONS - 1} rounds that each edit {EDITS} items one by one ({(VERSIONS - 1) * EDITS} more
versions, each made by one edit: the cost of one version); then a page of 100 items from the middle and
the whole version read through `datasets.iterate`, at version 1 and at the latest. Items keep version
ranges, so a version costs what it changes and reading the latest is no slower than reading the first.
Machine: {machine()}, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} when it ran (shared
with other engineers' work: treat the figures as upper bounds).

| database | upload 10k rows | one edit = one version (p50) | page, v1 | page, latest | whole v1 | whole latest |
|---|---|---|---|---|---|---|
{rows}
""")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
