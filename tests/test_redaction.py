"""The redaction detectors (domain/redaction.py): exact spans for positives, nothing for clinical negatives."""

from itertools import pairwise

import pytest

from promptyard.domain.redaction import (
    KINDS,
    Span,
    corporate_number_valid,
    find,
    insurer_number_valid,
    luhn_valid,
    my_number_valid,
)


def found(text, kinds=None):
    return [(text[s.start:s.end], s.kind) for s in find(text, kinds)]


POSITIVES = [
    # phone
    ("電話03-1234-5678です", [("03-1234-5678", "phone")]),
    ("TEL:0120-123-456", [("0120-123-456", "phone")]),
    ("ナビダイヤル 0570-123-456", [("0570-123-456", "phone")]),
    ("IP電話 050-1234-5678", [("050-1234-5678", "phone")]),
    ("携帯 090-1234-5678 まで", [("090-1234-5678", "phone")]),
    ("080 1234 5678", [("080 1234 5678", "phone")]),
    ("07012345678", [("07012345678", "phone")]),
    ("+81-90-1234-5678", [("+81-90-1234-5678", "phone")]),
    ("+81 3 1234 5678", [("+81 3 1234 5678", "phone")]),
    ("+81 (0)3-1234-5678", [("+81 (0)3-1234-5678", "phone")]),
    ("03(1234)5678", [("03(1234)5678", "phone")]),
    ("０３（１２３４）５６７８", [("０３（１２３４）５６７８", "phone")]),
    ("090ー1234ー5678", [("090ー1234ー5678", "phone")]),
    ("(03)1234-5678", [("(03)1234-5678", "phone")]),
    ("連絡先：０９０－１２３４－５６７８", [("０９０－１２３４－５６７８", "phone")]),
    ("電話 03-1234-5678 2錠", [("03-1234-5678", "phone")]),
    # my_number, corporate_number
    ("マイナンバー 1234 5678 9018", [("1234 5678 9018", "my_number")]),
    ("個人番号: 1234-5678-9018", [("1234-5678-9018", "my_number")]),
    ("123456789018", [("123456789018", "my_number")]),
    ("マイナンバー 202404010001", [("202404010001", "my_number")]),
    ("１２３４５６７８９０１８", [("１２３４５６７８９０１８", "my_number")]),
    ("法人番号7000012050002", [("7000012050002", "corporate_number")]),
    ("登録番号 T7000012050002", [("T7000012050002", "corporate_number")]),
    ("法人番号：7-0000-1205-0002", [("7-0000-1205-0002", "corporate_number")]),
    # insurance
    ("保険者番号 06139992", [("06139992", "insurance_number")]),
    ("保険者番号：138057", [("138057", "insurance_number")]),
    ("01130012", [("01130012", "insurance_number")]),
    ("記号 1234 番号 56", [("1234", "insurance_symbol_number"), ("56", "insurance_symbol_number")]),
    ("記号・番号 1234・56", [("1234・56", "insurance_symbol_number")]),
    ("記号・番号が東123・4567で登録", [("東123・4567", "insurance_symbol_number")]),
    ("被保険者証の記号: AB12", [("AB12", "insurance_symbol_number")]),
    ("被保険者証 記号：あいう 番号：12", [("あいう", "insurance_symbol_number"), ("12", "insurance_symbol_number")]),
    ("保険者番号 01130012 記号 12-34 番号 567",
     [("01130012", "insurance_number"), ("12-34", "insurance_symbol_number"), ("567", "insurance_symbol_number")]),
    # postal_code, address
    ("〒123-4567", [("123-4567", "postal_code")]),
    ("〒１２３－４５６７", [("１２３－４５６７", "postal_code")]),
    ("郵便番号 123-4567", [("123-4567", "postal_code")]),
    ("〒1234567", [("1234567", "postal_code")]),
    ("東京都千代田区神田神保町1-2-3に住む", [("東京都千代田区神田神保町1-2-3", "address")]),
    ("大阪府大阪市北区梅田1丁目2番3号", [("大阪府大阪市北区梅田1丁目2番3号", "address")]),
    ("北海道虻田郡倶知安町北1条西2丁目", [("北海道虻田郡倶知安町北1条西2丁目", "address")]),
    ("住所：神奈川県横浜市中区山下町１－２", [("神奈川県横浜市中区山下町１－２", "address")]),
    ("住所は新宿区西新宿2-8-1です", [("新宿区西新宿2-8-1", "address")]),
    ("〒100-0001 東京都千代田区千代田1-1", [("100-0001", "postal_code"), ("東京都千代田区千代田1-1", "address")]),
    # birth_date
    ("生年月日: 昭和60年3月2日", [("昭和60年3月2日", "birth_date")]),
    ("生年月日 1985/3/2、処方日 2024/4/1", [("1985/3/2", "birth_date")]),
    ("誕生日は1985年3月2日です", [("1985年3月2日", "birth_date")]),
    ("平成5年生まれ", [("平成5年", "birth_date")]),
    ("生年月日 令和2年", [("令和2年", "birth_date")]),
    ("S60.3.2生まれ", [("S60.3.2", "birth_date")]),
    ("生年月日 H5.1.1", [("H5.1.1", "birth_date")]),
    ("生年月日 R2.4.1", [("R2.4.1", "birth_date")]),
    ("生年月日をお願いします。—患者: 1980.11.23です。", [("1980.11.23", "birth_date")]),
    ("DOB 1985-03-02", [("1985-03-02", "birth_date")]),
    ("Date of birth: March 2, 1985", [("March 2, 1985", "birth_date")]),
    ("㍼60年3月2日生", [("㍼60年3月2日", "birth_date")]),
    # email, card
    ("連絡は taro.yamada+rx@example.co.jp へ", [("taro.yamada+rx@example.co.jp", "email")]),
    ("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ", [("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ", "email")]),
    ("カード 4111 1111 1111 1111", [("4111 1111 1111 1111", "card")]),
    ("5555-5555-5555-4444", [("5555-5555-5555-4444", "card")]),
    ("Amex 3782 822463 10005", [("3782 822463 10005", "card")]),
    ("4111111111111111", [("4111111111111111", "card")]),
    # bank_account
    ("新宿支店 123 普通 1234567", [("123", "bank_account"), ("1234567", "bank_account")]),
    ("口座番号：7654321", [("7654321", "bank_account")]),
    ("口座番号 7654321（普通預金、名義 佐藤 花子）", [("7654321", "bank_account"), ("佐藤 花子", "person_name")]),
    ("当座 1234567", [("1234567", "bank_account")]),
    # person_name
    ("山田太郎様", [("山田太郎", "person_name")]),
    ("氏名: 山田太郎 様", [("山田太郎", "person_name")]),
    ("氏名 山田太郎 住所 東京都新宿区西新宿2-8-1",
     [("山田太郎", "person_name"), ("東京都新宿区西新宿2-8-1", "address")]),
    ("山田 太郎 様", [("山田 太郎", "person_name")]),
    ("田中さんにお渡し", [("田中", "person_name")]),
    ("担当の鈴木先生", [("鈴木", "person_name")]),
    ("佐藤殿", [("佐藤", "person_name")]),
    ("ケンタくん", [("ケンタ", "person_name")]),
    ("ミキちゃん", [("ミキ", "person_name")]),
    ("長谷川さくら様宛て", [("長谷川さくら", "person_name")]),
    ("本日田中様が来局", [("田中", "person_name")]),
    ("氏名: 佐藤花子", [("佐藤花子", "person_name")]),
    ("名義　阿部　ゆみ）", [("阿部　ゆみ", "person_name")]),
    ("氏名は山田です", [("山田", "person_name")]),
    ("患者名：高橋 一郎", [("高橋 一郎", "person_name")]),
    ("お名前はやまだたろうです", [("やまだたろう", "person_name")]),
    ("フリガナ ヤマダ タロウ", [("ヤマダ タロウ", "person_name")]),
    ("Mr. John Smith", [("John Smith", "person_name")]),
    ("Dr. Tanaka prescribed it", [("Tanaka", "person_name")]),
    ("Patient name: Jane Doe", [("Jane Doe", "person_name")]),
    ("患者：山田 花子 様（生年月日：昭和45年5月6日、TEL 090-1111-2222）",
     [("山田 花子", "person_name"), ("昭和45年5月6日", "birth_date"), ("090-1111-2222", "phone")]),
    ("Patient: Mr. Taro Yamada, DOB: 1970-05-06, phone +81-3-1234-5678, email taro@example.com",
     [("Taro Yamada", "person_name"), ("1970-05-06", "birth_date"), ("+81-3-1234-5678", "phone"),
      ("taro@example.com", "email")]),
    ("三菱UFJ銀行 渋谷支店 普通預金 口座番号 1234567", [("1234567", "bank_account")]),
    # found by the held-out corpus (tests/data/redaction_heldout.jsonl)
    ("お電話番号は080.1523.4575でよろしいですか", [("080.1523.4575", "phone")]),
    ("折返し先 ０９０．９６７７．２７５４（夕方以降）", [("０９０．９６７７．２７５４", "phone")]),
    ("TEL 03.1234.5678", [("03.1234.5678", "phone")]),
    ("患者：関悠真と申します。", [("関悠真", "person_name")]),
    ("太田まいと申します", [("太田まい", "person_name")]),
    ("受付：平野 健一様　初回来局", [("平野 健一", "person_name")]),
    ("thanks, Ogawa-san.", [("Ogawa", "person_name")]),
    ("Kenji Ogawa-sensei said so", [("Kenji Ogawa", "person_name")]),
    # voiced marks normalised with their base (half-width and decomposed kana): the span covers the marks
    ("ﾀﾞｲｽｹ様", [("ﾀﾞｲｽｹ", "person_name")]),
    ("ﾔﾏﾀﾞ ﾊﾅｺさん", [("ﾔﾏﾀﾞ ﾊﾅｺ", "person_name")]),
    ("ｻﾄｳ ｹﾝｼﾞさんに", [("ｻﾄｳ ｹﾝｼﾞ", "person_name")]),
    ("ﾊﾟｸ様", [("ﾊﾟｸ", "person_name")]),
    ("サトウ ケンシ\u3099さん", [("サトウ ケンシ\u3099", "person_name")]),
    ("カ\u3099ク\u3099様、電話０９０－１２３４－５６７８", [("カ\u3099ク\u3099", "person_name"), ("０９０－１２３４－５６７８", "phone")]),
    # kanji outside the BMP (CJK Extension B and later)
    ("𠮷田太郎様", [("𠮷田太郎", "person_name")]),
    ("𠮷田様", [("𠮷田", "person_name")]),
    ("氏名: 𠮷野 𠀋子", [("𠮷野 𠀋子", "person_name")]),
    # a kanji surname + a katakana given name
    ("蒼井ミドリさん", [("蒼井ミドリ", "person_name")]),
    ("田中ミキさんの処方", [("田中ミキ", "person_name")]),
    ("蒼井 ミドリ様", [("蒼井 ミドリ", "person_name")]),
    ("本日田中ミキ様が来局", [("田中ミキ", "person_name")]),
    # common one-kanji surnames before さん / さま / 様 / ちゃん
    ("東さんにお渡し", [("東", "person_name")]),
    ("堀ちゃん、お薬です", [("堀", "person_name")]),
    ("林様に確認", [("林", "person_name")]),
    ("受付で森さまと確認", [("森", "person_name")]),
    # where find() looks (runs of digits, honorifics, anchors): overlapping prefectures, long katakana names
    ("東京都府中市寿町1-5-1", [("東京都府中市寿町1-5-1", "address")]),
    ("ヤマダ タロウ 様", [("ヤマダ タロウ", "person_name")]),
    ("先生年月日 1985/3/2", [("1985/3/2", "birth_date")]),
]


@pytest.mark.parametrize(("text", "expected"), POSITIVES, ids=[t for t, _ in POSITIVES])
def test_positives(text, expected):
    assert found(text) == expected


NEGATIVES = [
    "ロキソプロフェン60mg 1日3回 毎食後 2錠 30日分",
    "アムロジピン錠5mg 1回1錠 1日1回 朝食後 28日分",
    "第3条の規定により、1.2.3 を参照",
    "2024年4月1日に処方",
    "処方日 2024/04/01 Rp.1 0.5mg",
    "令和6年4月1日調剤",
    "電話",
    "電話でご連絡ください",
    "電話番号を教えてください",
    "Lot 1234567 使用期限 2026-03",
    "ロット番号 A12345B",
    "123-4567",
    "123456789012",  # not a valid マイナンバー
    "1234-5678-9012",
    "4111 1111 1111 1112",  # Luhn fails
    "7000012050003",  # 法人番号 check digit fails
    "保険者番号 06139993",  # check digit fails
    "20240401",
    "GTIN 14987123456789",
    "お客様",
    "皆様",
    "患者さん",
    "薬剤師さん",
    "ヘルパーさん",
    "看護師さん",
    "先生",
    "主治医の先生に相談",
    "お子さんとお母さん",
    "前回と同様に服用",
    "製品仕様",
    "様子を見る",
    "薬の名前: ロキソニン",
    "氏名欄に記入",
    "東京都の薬局",
    "新宿区西新宿2-8-1",  # no prefecture, no 住所 label
    "住所変更の届出 1件",
    "化学記号 Na",
    "記号は○で示す",
    "記号 あいう",
    "生年月日の記載がない。処方日 2024/4/1",
    "患者のみなさん",
    "法人番号 7-0000-1205-0003",
    "血圧 130/80 mmHg",
    "体重 60.5kg 身長 170cm",
    "Take 1 tablet 3 times a day for 30 days",
    "Dr. prescribed 2 tablets",
    "version 0.1.2",
    "処方番号 202404010001",  # a valid check digit, but a dated serial without マイナンバー
    "Rp1) ロキソプロフェンNa錠60mg「サワイ」 1回1錠 1日3回 毎食後 7日分",
    "処方箋発行日 令和6年4月1日 有効期限 令和6年4月4日",
    "JANコード 4987123456782",
    "GS1 (01)14987123456785(17)260331(10)AB1234",
    "YJコード 1149019F1560",
    "受付番号 0012345",
    "HbA1c 6.5% eGFR 58 mL/min/1.73m2",
    "ご家族様へのご説明",
    "いつもご利用いただいている患者様",
    "電話: 受付 9:00-18:00",
    "前回処方 2024年3月1日 30日分",
    "ISBN 978-4-12-345678-9",
    "インスリン 0-4-6-0 単位",
    "口座振替のご案内",
    "生年月日の記載がない",
    "ロット 2403A12 使用期限 2027.03",
    "2024年4月1日生産",
    "製造番号 0012345678 製造日 2024.4.1",
    "version 0.1.2.3",
    "IP 010.123.45.67",
    "05.12.2024 に来局",
    "2024.10.28 処方",
    "薬の効果は一様に現れる",
    "前回と同様に",
    "Take 2 tablets twice daily - see Section 4.2.1.",
    "この薬はロキソニンと言います",
    "新人ヘルパーさんに説明",
    "担当ナースさんから連絡",
    "訪問スタッフさんが来局",
    "お東さんの近く",
    "お母さんと奥様とお子様",
    "関西の薬局",
    "薬さん",
    "神様と王様",
    "ｱﾞｲｳ",
]


@pytest.mark.parametrize("text", NEGATIVES)
def test_clinical_negatives(text):
    assert find(text) == []


def test_offsets_map_back_to_the_original_text_when_nfkc_changes_lengths():
    text = "㍼60年3月2日生、電話０３－１２３４－５６７８"
    assert find(text) == [Span(0, 8, "birth_date"), Span(12, 24, "phone")]
    assert text[12:24] == "０３－１２３４－５６７８"


def test_sorted_and_non_overlapping_with_the_specific_span_winning():
    text = "山田太郎様 生年月日 1985/3/2 TEL 090-1234-5678 番号 1234 5678 9018"
    spans = find(text)
    assert [(text[s.start:s.end], s.kind) for s in spans] == [
        ("山田太郎", "person_name"), ("1985/3/2", "birth_date"), ("090-1234-5678", "phone"),
        ("1234 5678 9018", "my_number")]
    assert all(a.end <= b.start for a, b in pairwise(spans))


def test_kinds_filter_and_unknown_kind():
    text = "山田様 090-1234-5678"
    assert found(text, ["phone"]) == [("090-1234-5678", "phone")]
    assert found(text, []) == []
    with pytest.raises(ValueError):
        find(text, ["ssn"])
    assert len(KINDS) == 12


def test_checksums():
    assert my_number_valid("123456789018") and not my_number_valid("123456789017")
    assert corporate_number_valid("7000012050002") and not corporate_number_valid("8000012050002")
    assert insurer_number_valid("01130012") and not insurer_number_valid("01130013")
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")


def test_labelled_kanji_surname_with_katakana_given_name():
    assert [("氏名 蒼井ミドリ"[s.start:s.end]) for s in find("氏名 蒼井ミドリ")] == ["蒼井ミドリ"]
    assert [t[s.start:s.end] for t in ["氏名 山田 フリガナ ヤマダ"] for s in find(t)] == ["山田", "ヤマダ"]


def test_the_digits_of_a_hexadecimal_id_are_not_a_number():
    """A random uuid, trace id, span id or hash holds, about 1 time in 200, a run of digits a number detector would
    take (753041738390 in 87487dcd753041738390b37124dd2ae6 is a valid My Number): an id a client logs in metadata
    was damaged and could no longer be found by it. The same numbers outside such an id are still found."""
    import random
    import uuid

    rng = random.Random(20261204)
    ids = []
    for _ in range(4000):
        value = uuid.UUID(int=rng.getrandbits(128))
        ids += [value.hex, str(value), value.hex[:16], value.hex.upper(), f"run_{value.hex}", f"sha {value.hex * 2}"]
    damaged = [i for i in ids if find(i)]
    assert damaged == []
    assert [i for i in ids if find(f"id: {i}.")] == []  # a whole id takes a shortcut (ingest's trace and span ids)
    hit = "87487dcd753041738390b37124dd2ae6"
    assert found(hit) == [] and found(f"session={hit}, user=87487dcd-7530-4173-8390-b37124dd2ae6") == []
    # the numbers themselves, and numbers glued to a word that is no hex id, are found as before
    assert found("753041738390") == [("753041738390", "my_number")]
    assert found("TEL09012345678") == [("09012345678", "phone")]
    assert found("abc09012345678") == [("09012345678", "phone")]
    assert found("4111111111111111") == [("4111111111111111", "card")]  # 16 digits: no letter, no hex id
    assert found("card 4111-1111-1111-1111-ff") == [("4111-1111-1111-1111", "card")]
