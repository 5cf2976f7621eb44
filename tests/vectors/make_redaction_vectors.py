"""Writes tests/vectors/redaction.json: what the server's redaction gives, for the SDKs to reproduce.

    .venv/bin/python tests/vectors/make_redaction_vectors.py

Every line of tests/data/redaction_corpus.jsonl, the texts of tests/test_redaction.py and the edge cases
below (full-width digits, astral characters, NFKC ligatures, spaces JS calls spaces and Python does not,
empty and long texts), each with promptyard.domain.redaction.find()'s spans (offsets in code points of
the text) and the text redacted under the default policy with the counts per kind; and, for a sample of the texts, the
same under a few other policies. tests/test_sdk_redaction.py checks that this file is what the code gives
now (run this script again when the detectors or policies change); the JS client's tests
(clients/js/test/redaction.test.js) check that its port gives the same for every vector.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "vectors" / "redaction.json"
CORPUS = ROOT / "tests" / "data" / "redaction_corpus.jsonl"

EDGE_CASES = [
    ("empty", ""),
    ("ascii only, nothing to find", "Take 1 tablet 3 times a day (60mg), see section 1.2.3."),
    ("full-width digits and hyphens", "連絡先：０９０－１２３４－５６７８、〒１００－０００１"),
    ("full-width letters in an e-mail", "メールは ｔａｒｏ．ｙａｍａｄａ＠ｅｘａｍｐｌｅ．ｃｏ．ｊｐ まで"),
    ("astral kanji before a phone number", "𠮷野家の前、電話 03-1234-5678 です"),
    ("astral kanji in a name", "𠮷田様と𠮷田太郎様、𠮷野 花子さん"),
    ("labelled kanji surname and katakana given name", "氏名 蒼井ミドリ、お名前は鈴木マリアです。氏名 山田 フリガナ ヤマダ"),
    ("emoji around identifiers", "😀 taro@example.com 😀 090-1234-5678 😀 田中様 🙏"),
    ("emoji between a keyword and its number", "個人番号 😀😀😀😀😀 202404010001"),
    ("era ligature", "生年月日 ㍼60年3月2日、㍻5年生まれ"),
    ("era ligature with Reiwa", "生年月日：㋿2年4月1日"),
    ("half-width katakana names (voiced marks normalised with their base, inside the span)", "ﾀﾞｲｽｹ様、ﾔﾏﾀﾞ ﾊﾅｺさん、ﾊﾟｸ様"),
    ("decomposed kana", "か\u3099とうさん、佐藤さん、カ\u3099ク\u3099様、サトウ ケンシ\u3099さん"),
    ("voiced marks with no base, or none to compose with", "\uff9e\uff9fｱﾞｲｳ、\u3099ア\u3099イ様、ﾀﾞ"),
    ("half-width name ending in a voiced mark before a number", "ｹﾝｼﾞ様 ０９０－１２３４－５６７８ ﾊﾞﾝﾄﾞｳ"),
    ("kanji outside the BMP", "𠮷田太郎様、𠮷田様、氏名: 𠮷野 𠀋子、𩸽さん"),
    ("kanji surname + katakana given name", "蒼井ミドリさん、田中ミキさん、蒼井 ミドリ様、本日田中ミキ様"),
    ("kanji + katakana role words are not names", "新人ヘルパーさん、担当ナースさん、訪問スタッフさん"),
    ("one-kanji surnames", "東さん、堀ちゃん、林様に、森さまと、関東さん"),
    ("one-kanji words that are not surnames", "お東さん、お母さん、奥様、神様、薬さん、西南北"),
    ("ideographic spaces", "氏名　山田　太郎　住所　東京都千代田区千代田１－１"),
    ("no-break spaces", "携帯 090\u00a01234\u00a05678"),
    ("spaces only JS calls spaces", "記号\u2028AB12 番号\ufeff56、被保険者番号\u1680 12"),
    ("long vowel mark as a hyphen", "０９０ー１２３４ー５６７８、090ｰ1234ｰ5678"),
    ("mixed scripts", "Patient name: John Smith (ジョン・スミス様), DOB 1985-03-02, 電話 +81 90 1234 5678"),
    ("English titles and dates", "Dr. Emily Carter saw Mrs. O'Brien; born on March 2, 1985; date of birth 2 Mar 1985"),
    ("lower-case keywords", "my number 1234 5678 9018, dob: 03/02/1985, insurer no 138057, zip 123-4567"),
    ("dotted capital I is not i", "İnsurer no 138057"),
    ("circled and enclosed digits", "電話 ⓪③-①②③④-⑤⑥⑦⑧"),
    ("CRLF and tabs", "氏名:\t鈴木 一郎\r\n住所は\t新宿区西新宿2-8-1\r\n"),
    ("a card and a corporate number", "カード 4111 1111 1111 1111、法人番号 T7000012050002"),
    ("overlapping candidates", "マイナンバー 1234-5678-9018 と 03(1234)5678"),
    ("clinical text stays", "ロキソプロフェン60mg 1日3回 毎食後 14日分、第3条、処方日 2024年4月1日、電話で相談"),
]

# Texts with a subset of the detectors (the `kinds` argument).
KIND_CASES = [
    ("phone only", "田中様 090-1234-5678 taro@example.com", ["phone"]),
    ("names and e-mail", "田中様 090-1234-5678 taro@example.com", ["person_name", "email"]),
]


def corpus_texts() -> list[str]:
    return [json.loads(line)["text"] for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


def detector_test_texts() -> list[str]:
    """The positives and clinical negatives of tests/test_redaction.py (owned by the detectors)."""
    sys.path.insert(0, str(ROOT))
    from tests import test_redaction

    return [text for text, _ in test_redaction.POSITIVES] + list(test_redaction.NEGATIVES)


# Policies other than the default, applied to the edge cases and every tenth corpus line. No "hash": the
# JS client refuses it (the server's keyed BLAKE2b is not in the browser's crypto).
def policies(kinds: tuple[str, ...]) -> list[tuple[str, dict]]:
    return [
        ("every detector masked", {"detectors": {k: {"operator": "mask"} for k in kinds}}),
        ("names dropped, phones with a placeholder of our own, e-mail and addresses off",
         {"detectors": {"person_name": {"operator": "drop"}, "phone": {"placeholder": "<TEL>"},
                        "email": {"on": False}, "address": {"on": False}}}),
        ("disabled", {"enabled": False}),
    ]


def vectors() -> dict:
    from promptyard.domain import redaction
    from promptyard.domain import redaction_policy as rp

    default = rp.Redactor(rp.parse(None))

    def vector(name: str, text: str, kinds: list[str] | None = None) -> dict:
        spans = redaction.find(text, kinds)
        out = {"name": name, "text": text}
        if kinds is not None:
            out["kinds"] = kinds
        out["spans"] = [[s.start, s.end, s.kind] for s in spans]
        if kinds is None:
            default.take()
            out["redacted"] = default.text(text)
            out["counts"] = default.take()
        return out

    def policy_case(name: str, policy: dict, texts: list[str]) -> dict:
        red = rp.Redactor(rp.parse(policy))
        cases = []
        for text in texts:
            red.take()
            cases.append({"text": text, "redacted": red.text(text), "counts": red.take()})
        return {"name": name, "policy": policy, "cases": cases}

    corpus = corpus_texts()
    items = [vector(f"corpus line {n + 1}", text) for n, text in enumerate(corpus)]
    items += [vector(f"test_redaction.py #{n + 1}", text) for n, text in enumerate(detector_test_texts())]
    items += [vector(name, text) for name, text in EDGE_CASES]
    items.append(vector("long text: the corpus joined", "\n".join(corpus)))
    items += [vector(name, text, kinds) for name, text, kinds in KIND_CASES]
    sample = [text for _, text in EDGE_CASES] + corpus[::10]
    return {"about": "Generated by tests/vectors/make_redaction_vectors.py; do not edit. Offsets are code points; "
                     "`redacted` and `counts` under the default policy.",
            "kinds": list(redaction.KINDS), "placeholders": rp.PLACEHOLDERS, "vectors": items,
            "policies": [policy_case(name, policy, sample) for name, policy in policies(redaction.KINDS)]}


def render(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"


if __name__ == "__main__":
    OUT.write_text(render(vectors()), encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")
