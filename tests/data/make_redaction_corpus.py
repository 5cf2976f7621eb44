"""Writes tests/data/redaction_corpus.jsonl: labelled lines of Japanese (and some English) pharmacy
chat for the redaction detectors of issue 13 (format: docs in the redaction contract).

    python tests/data/make_redaction_corpus.py

Lines are assembled from templates; a `{slot}` is filled from a value pool and, when the slot is an
identifier, its span is recorded as the text is built, so the offsets are right by construction.
Identifiers with check digits (マイナンバー, 法人番号, 保険者番号, cards) get valid ones. Fixed seed, standard
library only: running it again gives the same file.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

OUT = Path(__file__).resolve().parent / "redaction_corpus.jsonl"
rng = random.Random(13)

FULL = str.maketrans("0123456789-()", "０１２３４５６７８９－（）")


def digits(n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


# --- check digits -------------------------------------------------------------------------------

def my_number_check(body: str) -> str:
    """Check digit of an 11-digit マイナンバー body (P_n the n-th digit from the right)."""
    total = sum(int(p) * (n + 1 if n <= 6 else n - 5) for n, p in enumerate(reversed(body), start=1))
    rest = total % 11
    return "0" if rest <= 1 else str(11 - rest)


def corporate_check(body: str) -> str:
    """Leading check digit of a 法人番号 whose other 12 digits are `body`."""
    total = sum(int(d) * (1 if i % 2 == 0 else 2) for i, d in enumerate(reversed(body)))
    return str(9 - total % 9)


def insurer_check(body: str) -> str:
    """Last digit of an 8-digit 保険者番号 whose first 7 digits are `body`."""
    total = 0
    for i, d in enumerate(reversed(body)):
        product = int(d) * (2 if i % 2 == 0 else 1)
        total += product // 10 + product % 10
    return str((10 - total % 10) % 10)


def luhn_check(body: str) -> str:
    total = 0
    for i, d in enumerate(reversed(body)):
        v = int(d) * (2 if i % 2 == 0 else 1)
        total += v - 9 if v > 9 else v
    return str((10 - total % 10) % 10)


# --- identifier values ----------------------------------------------------------------------------

def phone() -> str:
    form = rng.randrange(11)
    mobile = rng.choice(["090", "080", "070"])
    a, b = digits(4), digits(4)
    if form == 0:
        return f"03-{a}-{b}"
    if form == 1:
        return f"{mobile}-{a}-{b}"
    if form == 2:
        return f"{mobile} {a} {b}"
    if form == 3:
        return f"(03){a}-{b}"
    if form == 4:
        return f"+81-{mobile[1:]}-{a}-{b}"
    if form == 5:
        return f"0120-{digits(3)}-{digits(3)}"
    if form == 6:
        return f"{mobile}-{a}-{b}".translate(FULL)
    if form == 7:
        return f"{rng.choice(['045', '052', '092', '011'])}-{digits(3)}-{b}"
    if form == 8:
        return f"06-{a}-{b}"
    if form == 9:
        return f"{mobile}{a}{b}"
    return f"+81 3 {a} {b}"


def my_number() -> str:
    body = digits(11)
    value = body + my_number_check(body)
    form = rng.randrange(4)
    if form == 0:
        return value
    if form == 3:
        return f"{value[:4]}-{value[4:8]}-{value[8:]}"
    return f"{value[:4]} {value[4:8]} {value[8:]}"


def corporate_number() -> str:
    body = rng.choice("123456789") + digits(11)
    value = corporate_check(body) + body
    return value if rng.random() < 0.7 else f"{value[0]}-{value[1:5]}-{value[5:9]}-{value[9:]}"


def insurance_number() -> str:
    body = rng.choice(["01", "06", "31", "32", "33", "34", "67", "39"]) + digits(5)
    return body + insurer_check(body)


def symbol_number() -> str:
    return rng.choice([
        f"{digits(4)}・{digits(3)}", f"{digits(2)}-{digits(4)}・{digits(5)}", f"{digits(5)}・{digits(2)}",
        f"{rng.choice(['北', '東', '西', '南'])}{digits(3)}・{digits(4)}", f"{digits(8)}・{digits(1)}"])


def postal_code() -> str:
    value = f"{digits(3)}-{digits(4)}"
    return value.translate(FULL) if rng.random() < 0.15 else value


TOWNS = ["東京都渋谷区神宮前", "東京都新宿区西新宿", "東京都世田谷区三軒茶屋", "大阪府大阪市北区梅田", "大阪府堺市堺区中瓦町",
         "神奈川県横浜市中区山下町", "神奈川県川崎市幸区堀川町", "愛知県名古屋市中村区名駅", "北海道札幌市中央区大通西",
         "福岡県福岡市博多区博多駅前", "京都府京都市左京区下鴨本町", "埼玉県さいたま市浦和区高砂", "千葉県船橋市本町",
         "兵庫県神戸市中央区三宮町", "宮城県仙台市青葉区一番町", "広島県広島市中区紙屋町", "東京都練馬区豊玉北"]
BUILDINGS = ["", "", "", " グリーンハイツ203号室", "　メゾン桜101", " 第2松本ビル5階"]


def address() -> str:
    a, b, c = rng.randint(1, 9), rng.randint(1, 30), rng.randint(1, 20)
    number = rng.choice([f"{a}-{b}-{c}", f"{a}丁目{b}番{c}号", f"{a}丁目{b}-{c}", f"{a}-{b}"])
    return rng.choice(TOWNS) + number + rng.choice(BUILDINGS)


ERAS = [("昭和", "S", 1925), ("平成", "H", 1988), ("令和", "R", 2018)]


def birth_date() -> str:
    form = rng.randrange(7)
    m, d = rng.randint(1, 12), rng.randint(1, 28)
    if form <= 2:
        name, letter, base = rng.choice(ERAS[:2])
        y = rng.randint(1, 60 if name == "昭和" else 30)
        return [f"{name}{y}年{m}月{d}日", f"{letter}{y}.{m}.{d}", f"{name}{y}年{m:02d}月{d:02d}日"][form]
    y = rng.randint(1935, 2020)
    return [f"{y}年{m}月{d}日", f"{y}/{m:02d}/{d:02d}", f"{y}-{m:02d}-{d:02d}", f"{y}.{m}.{d}"][form - 3]


def birth_en() -> str:
    y, m, d = rng.randint(1935, 2020), rng.randint(1, 12), rng.randint(1, 28)
    month = ["January", "March", "May", "July", "October", "December"][m % 6]
    return rng.choice([f"{y}-{m:02d}-{d:02d}", f"{month} {d}, {y}", f"{m:02d}/{d:02d}/{y}"])


def email() -> str:
    user = rng.choice(["tanaka", "k.sato", "hanako_t", "yamada.taro", "info", "m-suzuki", "ito1987", "yoyaku"])
    host = rng.choice(["example.co.jp", "docomo.ne.jp", "gmail.com", "ezweb.ne.jp", "sakura-pharmacy.jp", "icloud.com"])
    return f"{user}{rng.randint(1, 99) if rng.random() < 0.5 else ''}@{host}"


def card() -> str:
    body = rng.choice(["4", "5" + rng.choice("12345"), "35"]) + digits(15)
    body = body[:15]
    value = body + luhn_check(body)
    sep = rng.choice(["", " ", "-"])
    return sep.join(value[i:i + 4] for i in range(0, 16, 4))


def bank_account() -> str:
    return digits(7)


SURNAMES = ["田中", "佐藤", "鈴木", "高橋", "渡辺", "伊藤", "山本", "中村", "小林", "加藤", "吉田", "山田", "佐々木", "松本",
            "井上", "木村", "清水", "山崎", "池田", "橋本", "阿部", "石川", "前田", "藤田", "岡田", "長谷川", "近藤", "斉藤"]
GIVEN = ["太郎", "花子", "一郎", "美咲", "健太", "陽子", "直樹", "由美", "翔", "さくら", "大輔", "恵子", "拓也", "真由美", "蓮",
         "結衣", "和夫", "幸子"]


def surname() -> str:
    return rng.choice(SURNAMES)


def full_name() -> str:
    return rng.choice(SURNAMES) + rng.choice(["", "", "　", " "]) + rng.choice(GIVEN)


EN_FIRST = ["John", "Emily", "Michael", "Sarah", "David", "Laura", "James", "Anna", "Robert", "Olivia"]
EN_LAST = ["Smith", "Johnson", "Brown", "Clark", "Miller", "Wilson", "Taylor", "Anderson", "Lee", "Walker"]


def en_name() -> str:
    return rng.choice(EN_FIRST) + " " + rng.choice(EN_LAST)


def en_surname() -> str:
    return rng.choice(EN_LAST)


# Identifier slots: name -> (value maker, kind).
SLOTS = {
    "phone": (phone, "phone"), "my_number": (my_number, "my_number"),
    "corporate": (corporate_number, "corporate_number"), "insurer": (insurance_number, "insurance_number"),
    "symbol": (symbol_number, "insurance_symbol_number"), "postal": (postal_code, "postal_code"),
    "address": (address, "address"), "birth": (birth_date, "birth_date"), "email": (email, "email"),
    "card": (card, "card"), "bank": (bank_account, "bank_account"), "surname": (surname, "person_name"),
    "name": (full_name, "person_name"), "birth_en": (birth_en, "birth_date"), "en_name": (en_name, "person_name"), "en_surname": (en_surname, "person_name"),
}

# --- clinical values (never identifiers) ----------------------------------------------------------

DRUGS = ["ロキソプロフェン60mg", "アムロジピン5mg", "カロナール200mg", "ムコダイン500mg", "メトホルミン250mg", "ランソプラゾール15mg",
         "アトルバスタチン10mg", "レバミピド100mg", "フェキソフェナジン60mg", "モンテルカスト10mg", "クラリスロマイシン200mg",
         "ビソプロロール2.5mg", "エンシュアリキッド250mL", "ヒルドイドソフト軟膏0.3% 25g"]
DOSES = ["1日3回 毎食後", "1日1回 朝食後", "1日2回 朝夕食後", "1回1錠 頓用", "1日1回 就寝前", "1日3回 毎食前", "1回2錠 1日2回"]
DAYS = ["7日分", "14日分", "28日分", "30日分", "5日分", "90日分"]
TIMES = ["14時30分", "10時", "9:30", "18時15分", "午後3時", "11時45分"]
PRICES = ["1,280円", "540円", "3,960円", "210円", "12,400円"]
RX_DATES = ["2024年4月1日", "2024年12月20日", "2025年1月6日", "令和6年5月10日", "2024/09/03", "3月15日"]
LOTS = ["ロット番号 AB1234", "Lot.23K091", "ロット 4012C", "製造番号 X77310"]
SECTIONS = ["第3条第2項", "第5章", "3.2節", "手順書 第4版 7.1", "別表第2"]
CLINICAL = {"drug": DRUGS, "dose": DOSES, "days": DAYS, "time": TIMES, "price": PRICES, "rxdate": RX_DATES,
            "lot": LOTS, "section": SECTIONS, "n": [str(i) for i in range(2, 9)]}

# --- templates: (template, times used) --------------------------------------------------------------

JA = [
    # patient <-> pharmacist
    ("患者: 昨日の薬の件でお電話しました。折り返しは{phone}にお願いします。", 6),
    ("薬剤師: {surname}様、{drug}は{dose}でお飲みください。ご不明な点は{phone}までどうぞ。", 6),
    ("患者: 携帯番号が変わりました。新しい番号は {phone} です。", 5),
    ("スタッフメモ: 連絡先 TEL {phone}（日中は不在がち）", 5),
    ("【AI提案】{surname}様、お薬の準備ができました。{time}以降にお越しください。お問い合わせは{phone}まで。", 4),
    ("患者: マイナンバーカードを忘れました。番号だけ言えば大丈夫ですか？{my_number}です。", 5),
    ("スタッフメモ: 個人番号 {my_number} を受付で口頭確認（本人確認書類は次回）。", 5),
    ("患者: マイナンバーは{my_number}、保険証はまだ届いていません。", 4),
    ("メモ: 施設の法人番号 {corporate}（請求書宛先）", 7),
    ("スタッフメモ: 取引先 株式会社ミドリ薬品 法人番号：{corporate}、担当は{surname}さん。", 5),
    ("事務: 在宅訪問先の介護施設（法人番号{corporate}）から処方箋FAXあり。", 4),
    ("受付メモ: 保険者番号 {insurer}、記号・番号 {symbol}、本人。", 8),
    ("患者: 保険証が新しくなりました。保険者番号は{insurer}です。", 5),
    ("スタッフメモ: 保険者番号：{insurer}（協会けんぽ）、被保険者証の記号 {symbol} を確認済み。", 4),
    ("薬剤師: 記号・番号が{symbol}で登録されていますが、お手元の保険証と同じでしょうか。", 4),
    ("患者: 住所変更です。〒{postal} {address}に引っ越しました。", 6),
    ("配送メモ: 〒{postal}　{address}　{name}様宛て、{drug} {days}。", 5),
    ("スタッフメモ: 郵便番号{postal}、{address}（在宅訪問先）", 4),
    ("患者: 今は{address}に住んでいます。", 4),
    ("受付メモ: 患者名: {name}、生年月日 {birth}、{drug} {days}。", 6),
    ("患者: 誕生日は{birth}です。", 4),
    ("スタッフメモ: 生年月日：{birth}（お薬手帳で確認）、{surname}さん。", 5),
    ("薬剤師: 念のため生年月日をお願いします。—患者: {birth}です。", 4),
    ("患者: 領収書は{email}にメールで送ってもらえますか。", 5),
    ("スタッフメモ: 服薬フォローのメール送信先 {email}（本人希望）", 5),
    ("【AI提案】{surname}様、ご登録のメールアドレス {email} に服薬のご案内をお送りしました。", 4),
    ("患者: カードで払います。番号は{card}です。", 5),
    ("スタッフメモ: オンライン決済 カード番号 {card} 有効期限 08/27（電話で聴取、要削除）", 5),
    ("患者: 自費分はこのカードでお願いします {card}", 4),
    ("患者: 返金は みずほ銀行 渋谷支店 普通 {bank} にお願いします。", 7),
    ("スタッフメモ: 返金先 口座番号 {bank}（普通預金、名義 {name}）", 5),
    ("事務: 振込先 三井住友銀行 新宿支店 普通預金 口座番号：{bank}", 4),
    ("薬剤師: {surname}様、本日は{drug}を{days}お出ししています。", 5),
    ("スタッフメモ: {surname}さんから電話あり、{drug}の飲み忘れについて相談。", 5),
    ("スタッフメモ: 処方医は{surname}先生（内科）、疑義照会済み。", 5),
    ("お名前：{name}　{drug} {dose} {days}", 5),
    ("氏名: {name}（付き添いは娘の{surname}さん）", 4),
    ("患者名: {name} / 処方日 {rxdate} / {drug}", 4),
    ("【AI提案】{name}様、ジェネリックへの変更で自己負担は{price}になります。", 4),
    # longer mixed lines
    ("患者: {name}です。生年月日は{birth}、電話は{phone}、住所は〒{postal} {address}です。", 5),
    ("受付メモ: {name}様（{birth}生）保険者番号{insurer} 記号・番号{symbol} 連絡先{phone}", 5),
    ("スタッフメモ: {surname}様 マイナンバー{my_number}で資格確認、メール{email}、{drug} {dose}。", 4),
    ("【AI提案】{surname}様、{rxdate}に処方された{drug}は{days}です。次回は{time}頃お越しください。変更は{phone}へ。", 4),
]

JA_NEGATIVE = [
    "{drug} {dose} {days}",
    "{drug}を{dose}、{days}で処方。",
    "{rxdate}に処方、{drug} {days}。",
    "お客様、{drug}は{dose}でお飲みください。",
    "患者さんから{drug}の飲み合わせについて質問あり。{dose}で継続。",
    "薬剤師さんに確認してから{drug}を追加します。",
    "皆様、本日は{time}で受付終了です。",
    "ご不明な点があればお電話ください。",
    "お電話ありがとうございます。{time}以降にお越しください。",
    "{drug}の在庫 {n}箱、{lot}、有効期限 2026年3月。",
    "手順書 {section}に従って一包化すること。",
    "お会計は{price}です。",
    "【AI提案】{drug}は眠気が出ることがあります。{dose}を守ってください。",
    "【AI提案】お客様、ジェネリック医薬品に変更すると{price}になります。",
    "先生に疑義照会、{drug}を{days}に変更。",
    "{section}の改訂に伴い、{time}からミーティング。",
    "{lot}を回収対象として隔離。",
    "患者さんの残薬 {n}錠、{drug}。次回{rxdate}に調整。",
    "電話で在庫確認、{drug}は{n}日で入荷予定。",
    "{time}に{drug}を{n}錠服用したとのこと。",
    "マイナンバーカードで保険証の確認ができます。",
    "保険者番号と記号・番号をご確認ください。{time}までに保険証をお持ちください。",
    "お電話番号とメールアドレスを問診票にご記入ください。",
    "生年月日の確認をお願いします。{drug}は{days}です。",
    "受付番号{n}番の方、{n}番窓口へどうぞ。",
]

EN = [
    ("Patient name: {en_name}, phone {phone}, prescription {drug_en} for {days_en}.", 4),
    ("Mr. {en_surname} asked us to email the receipt to {email}.", 4),
    ("Ms. {en_surname} will pick up her refill at {time_en}. Call back at {phone}.", 3),
    ("Dr. {en_name} called about the dosage change; his office number is {phone}.", 3),
    ("Date of birth: {birth_en}. Insurance card checked.", 3),
    ("Card number {card} was declined, please call the patient.", 3),
    ("Suggested reply: Dear Mr. {en_surname}, your medication is ready. Contact us at {email}.", 3),
]
EN_NEGATIVE = ["Take {drug_en} {dose_en} for {days_en}.", "Please call us if you have any questions.",
               "The pharmacist will check the interaction at {time_en}.", "Refill of {drug_en}, lot 23K091, {days_en}.",
               "Dear customer, your total is 1,280 yen."]
CLINICAL.update({"drug_en": ["loxoprofen 60 mg", "amlodipine 5 mg", "metformin 250 mg", "acetaminophen 200 mg"],
                 "dose_en": ["three times a day after meals", "once daily", "twice a day"],
                 "days_en": ["7 days", "30 days", "14 days"], "time_en": ["2:30 pm", "10 am", "6:15 pm"]})

SLOT = re.compile(r"\{(\w+)\}")


def fill(template: str, lang: str) -> dict:
    text, spans, pos = "", [], 0
    for m in SLOT.finditer(template):
        text += template[pos:m.start()]
        pos = m.end()
        slot = m.group(1)
        if slot in SLOTS:
            make, kind = SLOTS[slot]
            value = make()
            spans.append({"start": len(text), "end": len(text) + len(value), "kind": kind})
        else:
            value = rng.choice(CLINICAL[slot])
        text += value
    text += template[pos:]
    return {"text": text, "lang": lang, "spans": spans}


# Written by hand after the detectors' second round of fixes (half-width kana with voiced marks, kanji outside
# the BMP, kanji surname + katakana given name, one-kanji surnames): added after the generated lines, so those keep
# their place. ⟦ ⟧ marks a person's name.
APPENDED = [
    "⟦ﾀﾞｲｽｹ⟧様、お薬の準備ができました。",
    "⟦ﾔﾏﾀﾞ ﾊﾅｺ⟧さん、1日3回毎食後です。",
    "⟦𠮷田太郎⟧様の処方箋をお預かりしました。",
    "⟦𠮷田⟧様、ロキソプロフェン60mgを14日分です。",
    "⟦蒼井ミドリ⟧さんから電話で相談がありました。",
    "⟦田中ミキ⟧さんの保険証を確認しました。",
    "⟦東⟧さん、次回は4週間後の予定です。",
    "⟦堀⟧ちゃんのお薬、シロップ1回5mLです。",
    "新人ヘルパーさんに服薬カレンダーを説明した。",
    "お東さんの近くの薬局です。",
    "担当ナースさんから連絡あり、1日2回に変更。",
]


def appended(line: str) -> dict:
    spans, text = [], ""
    for i, part in enumerate(re.split("[⟦⟧]", line)):
        if i % 2:
            spans.append({"start": len(text), "end": len(text) + len(part), "kind": "person_name"})
        text += part
    return {"text": text, "lang": "ja", "spans": spans}


def build() -> list[dict]:
    lines = [fill(t, "ja") for t, times in JA for _ in range(times)]
    lines += [fill(t, "ja") for t in JA_NEGATIVE for _ in range(3)]
    lines += [fill(t, "en") for t, times in EN for _ in range(times)]
    lines += [fill(t, "en") for t in EN_NEGATIVE for _ in range(2)]
    rng.shuffle(lines)
    return lines + [appended(line) for line in APPENDED]


def main() -> None:
    lines = build()
    OUT.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    print(f"{len(lines)} lines -> {OUT}")


if __name__ == "__main__":
    main()
