"""Export of a million logs (bench/seed_million.py) as CSV and JSONL through the export service:
rows per second, and the process's peak memory after the first 100,000 rows and after all of
them. Constant memory means the two peaks are about the same.

    python bench/bench_export.py --url sqlite:///bench/out/million.db --label "SQLite, 1,000,000 logs"
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import key_file, machine, write_section  # noqa: E402

from promptyard.services import exports, keys  # noqa: E402
from promptyard.store.db import Database  # noqa: E402


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(db: Database, principal, fmt: str) -> tuple[float, float, float, int]:  # noqa: ANN001
    rows, size, early = 0, 0, None
    t = time.perf_counter()
    with db.read() as s:
        for chunk in exports.export(s, principal, None, fmt):
            size += len(chunk)
            rows += chunk.count("\n")
            if early is None and rows >= 100_000:
                early = peak_mib()
    return rows / (time.perf_counter() - t), early or peak_mib(), peak_mib(), size


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--label", required=True)
    args = ap.parse_args()
    db = Database(args.url)
    with db.read() as s:
        principal, _ = keys.authenticate(s, key_file(args.url).read_text().strip())
    lines = []
    for fmt in ("jsonl", "csv"):
        rate, early, late, size = run(db, principal, fmt)
        lines.append(f"| {fmt} | {rate:,.0f} | {size / 2**20:,.0f} | {early:,.0f} | {late:,.0f} |")
        print(lines[-1], flush=True)
    section = f"export-{args.label.split(',')[0].lower()}"
    write_section(section, "\n".join([
        f"## Export, {args.label} (`bench/bench_export.py`)",
        f"The export service streaming every log of the seeded data set, in-process; {machine()}. Peak "
        "memory (max RSS of the process) after the first 100,000 rows and after all of them: equal peaks "
        "mean the export holds one batch, not the result.", "",
        "| format | rows/s | output MiB | peak MiB at 100,000 rows | peak MiB at the end |",
        "|---|---|---|---|---|", *lines]))


if __name__ == "__main__":
    main()
