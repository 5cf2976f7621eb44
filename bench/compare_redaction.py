"""Compares promptyard.domain.redaction.find with its version at a git revision: the same spans on every corpus
line, every unit-test text and a large set of generated texts (mutated and joined corpus lines, random mixes of
identifiers, keywords, honorifics, full-width and compatibility characters), and the time of both on the
benchmark's texts. For a change meant to make find() faster without changing what it finds.

    .venv/bin/python bench/compare_redaction.py --against 13c9725 [--texts 50000]

Exits 1 when any text differs (the first few are printed).
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
import bench_redaction  # noqa: E402

from promptyard.domain import redaction  # noqa: E402
from tests.redaction_eval import HELD_OUT, load_corpus  # noqa: E402
from tests.test_redaction import NEGATIVES, POSITIVES  # noqa: E402

ATOMS = (list("0123456789０１２３４５６７８９-－‐‑‒–—―−﹣ー()（）+＋ 　:：・･/.,@＠〒TtMmSsHhRrDdBbOo元年月日生様殿") + [
    "さん", "さま", "先生", "くん", "ちゃん", "生年月日", "誕生日", "生まれ", "DOB", "D.O.B.", "date of birth", "born on",
    "Birth date", "マイナンバー", "個人番号", "法人番号", "保険者番号", "記号", "番号", "被保険者証", "被保険者", "記号・番号",
    "郵便番号", "postal code", "住所", "所在地", "お住まい", "東京都", "京都府", "府中市", "北海道", "大阪府", "神奈川県", "市",
    "区", "町", "村", "郡", "丁目", "番地", "号", "条", "口座", "口座番号", "普通", "当座", "支店", "店番", "支店番号",
    "account number", "患者", "氏名", "お名前", "名前", "名義", "フリガナ", "ふりがな", "受診者名", "口座名義", "患者の氏名", "Mr. ",
    "Mrs ", "Dr. ", "Prof. ", "Ms. ", "Patient name: ", "full name: ", "John", "Smith", "Taro", "山田", "太郎", "花子", "佐藤",
    "さくら", "ヤマダ", "タロウ", "ｶﾞ", "ｶ", "ﾞ", "ﾟ", "か", "\u3099", "\u0301", "e", "㍼", "㍻", "㈱", "①", "½", "™", "ﬁ", "Å",
    "\u1100", "\u1161", "가", "\ud800", "😀", "𝟘", "\n", "\t", "昭和", "平成", "令和", "明治", "大正", "S60.", "H5.", "March ",
    "Jan. ", "Sept ", "1985", "2024", "/", "090", "03", "0120", "+81", "(0)", "1234", "5678", "9018", "123456789018",
    "7000012050002", "4111111111111111", "01130012", "06139992", "138057", "〒100-0001", "taro@example.com",
    "x.y+z@a-b.co.jp", "１２３４", "ロキソプロフェン", "60mg", "1日3回", "第3条", "Lot", "電話", "TEL", "様子", "同様", "お客様",
    "皆様", "の", "は", "が", "、", "。", "「", "」", "で", "す", "患者さん", "薬剤師さん"])
CHARS = [chr(c) for c in [*range(0x20, 0x7f), *range(0x3000, 0x3100), *range(0xff00, 0xffa0), *range(0x4e00, 0x4e60)]]


def generated(lines: list[str], n: int, seed: int = 13):
    rng = random.Random(seed)
    for _ in range(n):
        kind = rng.random()
        if kind < 0.3:  # a known line, mutated
            t = list(rng.choice(lines))
            for _ in range(rng.randrange(4)):
                j = rng.randrange(len(t) + 1)
                op = rng.random()
                if op < 0.4 and t:
                    del t[min(j, len(t) - 1)]
                else:
                    t.insert(j, rng.choice(ATOMS) if op < 0.8 else rng.choice(CHARS))
            yield "".join(t)
        elif kind < 0.6:
            yield "".join(rng.choice(ATOMS) for _ in range(rng.randrange(1, 30)))
        elif kind < 0.8:
            yield "".join(rng.choice(ATOMS) if rng.random() < 0.5 else rng.choice(CHARS) for _ in range(rng.randrange(1, 60)))
        else:  # several lines joined (long texts)
            yield rng.choice(["", " ", "\n", "。"]).join(rng.choice(lines) for _ in range(rng.randrange(2, 12)))


def load_revision(rev: str):  # noqa: ANN201
    source = subprocess.run(["git", "show", f"{rev}:src/promptyard/domain/redaction.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp(prefix="redaction-")) / "redaction_at_revision.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("redaction_at_revision", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def best_us(find, texts: list[str], runs: int) -> float:  # noqa: ANN001
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        for text in texts:
            find(text)
        best = min(best, time.perf_counter() - start)
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--against", required=True, help="a git revision")
    parser.add_argument("--texts", type=int, default=50000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    old = load_revision(args.against)
    known = [line["text"] for path in (None, HELD_OUT) if path is None or path.exists()
             for line in (load_corpus() if path is None else load_corpus(path))]
    known += [text for text, _ in POSITIVES] + list(NEGATIVES)
    differ = 0
    texts = [*known, *generated(known, args.texts)]
    for text in texts:
        a = [(s.start, s.end, s.kind) for s in old.find(text)]
        b = [(s.start, s.end, s.kind) for s in redaction.find(text)]
        if a != b:
            differ += 1
            if differ <= 5:
                print(f"DIFFERS: {text!r}\n  {args.against}: {a}\n  now: {b}")
    print(f"{len(texts):,} texts, {differ} differ")

    corpus = [line["text"] for line in load_corpus()]
    cases = [("corpus, per line", corpus)] + [(repr(s), [s]) for s in bench_redaction.SHORT] + [
        ("paragraph", [bench_redaction.PARAGRAPH]), ("paragraph, full-width", [bench_redaction.FULL_WIDTH]),
        ("paragraph + phone", [bench_redaction.WITH_PHONE])]
    print(f"| text | {args.against} µs | now µs | ratio |\n|---|---:|---:|---:|")
    for label, batch in cases:
        reps = batch * max(1, 2000 // sum(map(len, batch)))
        t_old, t_new = best_us(old.find, reps, args.runs) / len(reps), best_us(redaction.find, reps, args.runs) / len(reps)
        print(f"| {label} | {t_old:.1f} | {t_new:.1f} | {t_old / t_new:.1f} |")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
