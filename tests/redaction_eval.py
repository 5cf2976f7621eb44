"""The labelled redaction corpus (tests/data/redaction_corpus.jsonl) and its scoring, shared by
tests/test_redaction_corpus.py and bench/bench_redaction.py.

Matching (the redaction contract): a gold span is found when a predicted span of the same kind
overlaps it; a predicted span is correct when it overlaps a gold span of the same kind.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

# The contract's KINDS, which the corpus must cover before the detectors exist; the evaluation test
# checks that promptyard.domain.redaction.KINDS is the same tuple.
KINDS = ("phone", "my_number", "corporate_number", "insurance_number", "insurance_symbol_number",
         "postal_code", "address", "birth_date", "email", "card", "bank_account", "person_name")
CORPUS = Path(__file__).resolve().parent / "data" / "redaction_corpus.jsonl"
HELD_OUT = Path(__file__).resolve().parent / "data" / "redaction_heldout.jsonl"


def load_corpus(path: Path = CORPUS) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_find() -> Callable:
    """promptyard.domain.redaction.find, or an ImportError that says what is missing."""
    try:
        from promptyard.domain.redaction import find
    except ImportError as exc:
        raise ImportError(f"the redaction detectors (promptyard.domain.redaction.find, issue 13) are not "
                          f"available, so the corpus cannot be evaluated: {exc}") from exc
    return find


@dataclass
class KindScore:
    gold: int = 0
    found: int = 0
    predicted: int = 0
    correct: int = 0

    @property
    def recall(self) -> float:
        return self.found / self.gold if self.gold else 1.0

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 1.0


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def score(lines: Iterable[dict], predictions: Iterable[list]) -> dict[str, KindScore]:
    """Per kind and "all": the contract's overlap matching of each line's predicted spans (objects
    with start, end, kind) against its gold spans."""
    scores: dict[str, KindScore] = {}
    total = KindScore()
    for line, predicted in zip(lines, predictions, strict=True):
        gold = [(g["start"], g["end"], g["kind"]) for g in line["spans"]]
        pred = [(p.start, p.end, p.kind) for p in predicted]
        for start, end, kind in gold:
            hit = any(k == kind and _overlaps((start, end), (s, e)) for s, e, k in pred)
            for s in (scores.setdefault(kind, KindScore()), total):
                s.gold += 1
                s.found += hit
        for start, end, kind in pred:
            hit = any(k == kind and _overlaps((start, end), (s, e)) for s, e, k in gold)
            for s in (scores.setdefault(kind, KindScore()), total):
                s.predicted += 1
                s.correct += hit
    scores["all"] = total
    return scores


# --- check digits of the labelled values (written apart from the generator's, as a cross-check) ---

def only_digits(value: str) -> str:
    return "".join(str(int(c)) for c in value if c.isdigit())


def my_number_valid(value: str) -> bool:
    d = only_digits(value)
    if len(d) != 12:
        return False
    body, check = d[:11], int(d[11])
    weights = [n + 1 if n <= 6 else n - 5 for n in range(1, 12)]  # Q_1..Q_11, P_1 the rightmost body digit
    rest = sum(int(p) * q for p, q in zip(body[::-1], weights)) % 11
    return check == (0 if rest in (0, 1) else 11 - rest)


def corporate_valid(value: str) -> bool:
    d = only_digits(value)
    if len(d) != 13:
        return False
    weighted = sum(int(c) * (2 if i % 2 else 1) for i, c in enumerate(d[1:][::-1]))
    return int(d[0]) == 9 - weighted % 9


def insurer_valid(value: str) -> bool:
    """8 digits (社保), or 6 (国保), the last checking the others."""
    d = only_digits(value)
    if len(d) not in (6, 8):
        return False
    products = [int(c) * (1 if i % 2 else 2) for i, c in enumerate(d[:-1][::-1])]
    total = sum(p // 10 + p % 10 for p in products)
    return int(d[-1]) == (10 - total % 10) % 10


def luhn_valid(value: str) -> bool:
    d = only_digits(value)
    if not 12 <= len(d) <= 19:
        return False
    total = 0
    for i, c in enumerate(d[::-1]):
        v = int(c) * (2 if i % 2 else 1)
        total += v - 9 if v > 9 else v
    return total % 10 == 0


CHECKED = {"my_number": my_number_valid, "corporate_number": corporate_valid, "insurance_number": insurer_valid,
           "card": luhn_valid}
