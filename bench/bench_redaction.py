"""Issue 13's redaction detectors on the labelled corpus (tests/data/redaction_corpus.jsonl):
recall and precision per kind (the contract's overlap matching, computed by tests/redaction_eval.py
as in the test) and throughput of promptyard.domain.redaction.find over the corpus.

    .venv/bin/python bench/bench_redaction.py [--runs 20]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
from common import machine, pct, timed, write_section  # noqa: E402

from tests.redaction_eval import KINDS, load_corpus, load_find, score  # noqa: E402

SECTION = "redaction"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    find = load_find()
    lines = load_corpus()
    scores = score(lines, [find(line["text"]) for line in lines])
    ms = timed(lambda: [find(line["text"]) for line in lines], args.runs)
    per_second = len(lines) / (pct(ms, 50) / 1000)
    chars = sum(len(line["text"]) for line in lines)

    rows = ["| kind | gold | recall | predicted | precision |", "|---|---:|---:|---:|---:|"]
    for kind in (*KINDS, "all"):
        s = scores[kind]
        rows.append(f"| {kind} | {s.gold} | {s.recall:.3f} | {s.predicted} | {s.precision:.3f} |")
    negatives = sum(1 for line in lines if not line["spans"])
    markdown = "\n".join([
        "## Redaction detectors (issue 13)", "",
        f"`bench/bench_redaction.py`: `redaction.find` on {len(lines)} labelled lines "
        f"({sum(line['lang'] == 'ja' for line in lines)} Japanese, {negatives} without identifiers, "
        f"{chars:,} characters); a gold span is found, a predicted span correct, when one of the same kind "
        "overlaps it.", "",
        *rows, "",
        f"Throughput: {per_second:,.0f} lines/s (median of {args.runs} passes over the corpus, "
        f"{pct(ms, 50):.1f} ms a pass; {machine()}).",
    ])
    print(markdown)
    write_section(SECTION, markdown)


if __name__ == "__main__":
    main()
