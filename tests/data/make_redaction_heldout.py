"""Writes tests/data/redaction_heldout.jsonl: a HELD-OUT labelled corpus for the redaction detectors of issue 13,
written after the detectors were tuned on tests/data/redaction_corpus.jsonl and independently of that corpus's
generator: other sentence shapes (pharmacist-patient chat, pharmacist notes, delivery and billing notes), other
names (common surnames and given names in kanji, hiragana, katakana and romaji), other addresses (kanji numerals,
番地, full-width digits, buildings), identifiers in full-width digits or split by spaces, era dates (平成元年, S48.11.30),
English lines, and clinical negatives (drug names, doses, section numbers, prescription dates, lot numbers, 電話).

    python tests/data/make_redaction_heldout.py

Labelling follows the first corpus: a span covers the identifier's characters only (the digits after 〒, a name
without its honorific or label, each value after 記号 / 番号); names are labelled where they have context (an
honorific, a label such as 氏名 / お名前 / 患者名, a title such as Mr. / Dr., romaji -san / -sama). Offsets are
recorded while the text is built; numbers with check digits get valid ones. Fixed seed, standard library only.
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_redaction_corpus import corporate_check, insurer_check, luhn_check, my_number_check  # noqa: E402

OUT = Path(__file__).resolve().parent / "redaction_heldout.jsonl"
rng = random.Random(20240613)
WIDE = str.maketrans("0123456789-()/.: ", "０１２３４５６７８９－（）／．：　")


def d(n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def wide(value: str, p: float) -> str:
    return value.translate(WIDE) if rng.random() < p else value


def phone() -> str:
    a, b = d(4), d(4)
    mobile = rng.choice(["090", "080", "070"])
    forms = [
        f"{mobile}-{a}-{b}", f"{mobile} {a} {b}", f"{mobile}{a}{b}", f"0{rng.choice('36')}-{a}-{b}",
        f"0{rng.choice(['45', '52', '78', '22', '99'])}-{d(3)}-{b}", f"0{rng.choice(['467', '422', '266'])}-{d(2)}-{b}",
        f"({mobile}){a}-{b}", f"+81 {mobile[1:]} {a} {b}", f"+81-{rng.choice('36')}-{a}-{b}", f"0120-{d(2)}-{d(4)}",
        f"0800-{d(3)}-{b}", f"050-{a}-{b}", f"{mobile}.{a}.{b}",
    ]
    return wide(rng.choice(forms), 0.3)


def my_number() -> str:
    body = d(11)
    v = body + my_number_check(body)
    return wide(rng.choice([v, f"{v[:4]} {v[4:8]} {v[8:]}", f"{v[:4]}-{v[4:8]}-{v[8:]}"]), 0.35)


def corporate() -> str:
    body = rng.choice("123456789") + d(11)
    v = corporate_check(body) + body
    return wide(rng.choice([v, "T" + v, f"{v[0]} {v[1:5]} {v[5:9]} {v[9:]}"]), 0.25)


def insurer() -> str:
    if rng.random() < 0.2:  # 国民健康保険: 6 digits
        body = d(5)
        checked = body + _insurer6(body)
        return wide(checked, 0.3)
    body = rng.choice(["01", "06", "31", "32", "34", "39", "63", "67"]) + f"{rng.randint(1, 47):02d}" + d(3)
    return wide(body + insurer_check(body), 0.3)


def _insurer6(body: str) -> str:
    total = 0
    for i, c in enumerate(reversed(body)):
        p = int(c) * (2 if i % 2 == 0 else 1)
        total += p // 10 + p % 10
    return str((10 - total % 10) % 10)


def symbol() -> str:
    return wide(rng.choice([d(3), d(5), f"{d(2)}-{d(3)}", rng.choice(["あ", "さ", "ひ"]) + d(2), "ABC" + d(2)]), 0.3)


def number() -> str:
    return wide(rng.choice([d(1), d(2), d(3), d(6)]), 0.3)


def postal() -> str:
    return wide(rng.choice([f"{d(3)}-{d(4)}", f"{d(3)}{d(4)}"]), 0.35)


def postal_hyphen() -> str:
    return wide(f"{d(3)}-{d(4)}", 0.35)


PLACES = ["北海道旭川市四条通", "青森県八戸市長者", "福島県郡山市駅前", "茨城県水戸市南町", "栃木県宇都宮市本町", "群馬県高崎市八島町",
          "新潟県新潟市中央区万代", "石川県金沢市広坂", "長野県松本市中央", "静岡県浜松市中区板屋町", "三重県津市丸之内",
          "奈良県奈良市三条本町", "岡山県岡山市北区駅前町", "香川県高松市番町", "熊本県熊本市中央区水道町", "沖縄県那覇市久茂地",
          "東京都八王子市旭町", "大阪府豊中市本町", "愛知県岡崎市康生通西", "福岡県北九州市小倉北区浅野"]
KANJI_NUM = ["一", "二", "三", "四", "五", "六", "七", "八", "九"]


def address() -> str:
    a, b, c = rng.randint(1, 9), rng.randint(1, 40), rng.randint(1, 25)
    block = rng.choice([f"{a}丁目{b}番{c}号", f"{KANJI_NUM[a - 1]}丁目{b}-{c}", f"{a}-{b}-{c}", f"{b}番地{c}",
                        f"{b}番地", f"{a}丁目{b}番地{c}"])
    building = rng.choice(["", "", "", "", " コーポ若葉202", "　ハイツ緑が丘3F", " 第一ビル"])
    return wide(rng.choice(PLACES) + block, 0.3) + building


def address_no_prefecture() -> str:
    town = rng.choice(["川口市栄町", "柏市柏", "豊島区南池袋", "吹田市江坂町", "西宮市六湛寺町", "港区芝公園"])
    return wide(f"{town}{rng.randint(1, 5)}-{rng.randint(1, 30)}-{rng.randint(1, 20)}", 0.3)


def birth() -> str:
    m, dd = rng.randint(1, 12), rng.randint(1, 28)
    forms = [f"昭和{rng.randint(20, 63)}年{m}月{dd}日", f"平成{rng.randint(2, 30)}年{m}月{dd}日", f"平成元年{m}月{dd}日",
             f"S{rng.randint(20, 63)}.{m}.{dd}", f"H{rng.randint(2, 30)}.{m:02d}.{dd:02d}", f"{rng.randint(1940, 2015)}年{m}月{dd}日",
             f"{rng.randint(1940, 2015)}/{m}/{dd}", f"令和{rng.randint(1, 5)}年{m}月{dd}日", f"{rng.randint(1940, 2015)}.{m:02d}.{dd:02d}"]
    return wide(rng.choice(forms), 0.3)


def birth_year() -> str:
    return wide(rng.choice([f"昭和{rng.randint(20, 63)}年", f"平成{rng.randint(2, 30)}年", f"{rng.randint(1940, 2015)}年"]), 0.2)


def birth_en() -> str:
    y, m, dd = rng.randint(1940, 2010), rng.randint(1, 12), rng.randint(1, 28)
    month = ["Jan", "April", "June", "Aug.", "September", "Nov"][m % 6]
    return rng.choice([f"{dd} {month} {y}", f"{month} {dd}, {y}", f"{y}-{m:02d}-{dd:02d}", f"{m:02d}/{dd:02d}/{y}"])


def email() -> str:
    user = rng.choice(["a.noguchi", "kenji-m", "hiro_ueda", "chiba.mai", "rx.order", "kaigo.center", "n.fukuda77"])
    host = rng.choice(["example.ne.jp", "mail.example.com", "kusuri-net.jp", "softbank.ne.jp", "yahoo.co.jp", "outlook.jp"])
    return wide(f"{user}@{host}", 0.1) if rng.random() < 0.1 else f"{user}@{host}"


def card() -> str:
    kind = rng.random()
    if kind < 0.2:  # Amex 4-6-5
        body = "37" + d(12)
        v = body + luhn_check(body)
        return f"{v[:4]} {v[4:10]} {v[10:]}"
    body = rng.choice(["4", "53", "35"]) + d(14)
    body = body[:15]
    v = body + luhn_check(body)
    return wide(rng.choice(["", " ", "-"]).join(v[i:i + 4] for i in range(0, 16, 4)), 0.25)


def account() -> str:
    return wide(d(7), 0.3)


def branch() -> str:
    return wide(d(3), 0.2)


SURNAMES = ["松田", "野口", "中島", "原田", "小川", "村上", "太田", "金子", "藤井", "西村", "福田", "三浦", "竹内", "中野", "上田",
            "久保", "大塚", "坂本", "宮崎", "内田", "菅原", "平野", "工藤", "杉山", "今井", "河野", "大野", "千葉", "岩崎", "桜井",
            "堀", "関", "東", "五十嵐", "小野寺"]
GIVEN = ["翔太", "陽菜", "颯", "凛", "悠真", "美穂", "智子", "隆", "裕子", "浩二", "芽衣", "健一", "千尋", "ひなた", "ゆうき",
         "まい", "あおい", "伸也", "恵美", "彩"]
KANA_SURNAMES = ["マツダ", "ノグチ", "ナカジマ", "ハラダ", "オガワ", "ムラカミ", "フクダ", "ミウラ"]
KANA_GIVEN = ["ケンジ", "アヤ", "ショウタ", "ヒナ", "ユウマ", "ミホ", "トモコ", "タカシ"]
HIRA_SURNAMES = ["まつだ", "のぐち", "なかじま", "はらだ", "おがわ", "むらかみ"]
HIRA_GIVEN = ["けんじ", "あや", "しょうた", "ひな", "ゆうま", "みほ"]
ROMAJI_SURNAMES = ["Matsuda", "Noguchi", "Nakajima", "Harada", "Ogawa", "Murakami", "Fukuda", "Miura"]
ROMAJI_GIVEN = ["Kenji", "Aya", "Shota", "Hina", "Yuma", "Miho", "Tomoko", "Takashi"]


def surname() -> str:
    return rng.choice(SURNAMES)


def full_name() -> str:
    return rng.choice(SURNAMES) + rng.choice(["", "", " ", "　"]) + rng.choice(GIVEN)


def kana_name() -> str:
    return rng.choice(KANA_SURNAMES) + rng.choice([" ", "　"]) + rng.choice(KANA_GIVEN)


def kana_surname() -> str:
    return rng.choice(KANA_SURNAMES)


def hira_name() -> str:
    return rng.choice(HIRA_SURNAMES) + rng.choice([" ", "　", ""]) + rng.choice(HIRA_GIVEN)


def romaji_name() -> str:
    return rng.choice(ROMAJI_GIVEN) + " " + rng.choice(ROMAJI_SURNAMES)


def romaji_surname() -> str:
    return rng.choice(ROMAJI_SURNAMES)


SLOTS = {
    "phone": (phone, "phone"), "my_number": (my_number, "my_number"), "corporate": (corporate, "corporate_number"),
    "insurer": (insurer, "insurance_number"), "symbol": (symbol, "insurance_symbol_number"),
    "number": (number, "insurance_symbol_number"), "postal": (postal, "postal_code"),
    "postal_hyphen": (postal_hyphen, "postal_code"), "address": (address, "address"),
    "address_np": (address_no_prefecture, "address"), "birth": (birth, "birth_date"),
    "birth_year": (birth_year, "birth_date"), "birth_en": (birth_en, "birth_date"), "email": (email, "email"),
    "card": (card, "card"), "account": (account, "bank_account"), "branch": (branch, "bank_account"),
    "surname": (surname, "person_name"), "name": (full_name, "person_name"), "kana_name": (kana_name, "person_name"),
    "kana_surname": (kana_surname, "person_name"), "hira_name": (hira_name, "person_name"),
    "romaji": (romaji_name, "person_name"), "romaji_surname": (romaji_surname, "person_name"),
}

CLINICAL = {
    "drug": ["カロナール錠500", "ロキソニン錠60mg", "アレグラ錠60mg", "ムコスタ錠100mg", "タケキャブ錠10mg", "リリカOD錠75mg",
             "ザイザル錠5mg", "メイアクトMS錠100mg", "ツムラ葛根湯エキス顆粒", "リンデロンVG軟膏0.12%", "ミヤBM錠",
             "アジルバ錠20mg", "ジャヌビア錠50mg", "プレドニン錠5mg"],
    "dose": ["1回1錠 1日3回 毎食後", "1日2回 朝夕食後", "1回2錠 1日1回 朝食後", "1日3回 食間", "疼痛時 1回1錠 1日3回まで",
             "1日1回 就寝前", "1回1包 1日3回 食前", "1日数回 患部に塗布"],
    "days": ["5日分", "10日分", "14日分", "21日分", "28日分", "56日分", "10回分"],
    "rxdate": ["令和6年11月5日", "2024年10月28日", "R6.9.30", "2024/11/02", "10月3日", "令和7年1月14日"],
    "lot": ["Lot No. 2311A05", "ロット：K4471", "製造番号 240915B", "LOT 3MZ02", "ロットNo.1208C"],
    "section": ["第2章 3.1", "第7条第1項", "4.2.1節", "別紙3", "マニュアル 第3版 5.4"],
    "vital": ["血圧 128/76", "体温 36.8℃", "HbA1c 7.2%", "脈拍 72回/分", "体重 58.4kg", "SpO2 97%"],
    "time": ["9時半", "15:40", "午前11時", "17時", "13時15分"],
    "count": ["2", "3", "4", "6", "12"],
    "bankbranch": ["駅前", "中央", "本店営業部", "北口", "みなと"],
    "price": ["860円", "2,340円", "470円", "5,120円"],
    "drug_en": ["acetaminophen 500 mg", "loratadine 10 mg", "prednisolone 5 mg", "amoxicillin 250 mg"],
    "dose_en": ["twice daily", "every 8 hours as needed", "once at bedtime", "three times a day before meals"],
    "days_en": ["5 days", "10 days", "two weeks"],
}

# (template, lines made from it)
JA = [
    ("患者：もしもし、先ほどの件で{phone}から掛け直しています。", 5),
    ("薬剤師：お薬ができたらご連絡しますね。お電話番号は{phone}でよろしいですか。", 5),
    ("患者：家の電話は出られないことが多いので、携帯の{phone}にください。", 4),
    ("申し送り：{surname}様ご家族より着信あり。折返し先 {phone}（夕方以降）", 5),
    ("配達メモ：不在時は{phone}へ連絡。置き配不可。", 3),
    ("患者：個人番号は {my_number} です。カードは家に置いてきました。", 4),
    ("受付：マイナンバー（{my_number}）で資格確認を実施、エラーなし。", 4),
    ("請求メモ：介護事業所の法人番号は{corporate}です。", 4),
    ("事務：登録番号{corporate}の適格請求書を受領。", 3),
    ("患者：保険証の保険者番号、{insurer}って書いてあります。", 4),
    ("受付：保険者番号 {insurer}、記号 {symbol} 番号 {number} で入力しました。", 5),
    ("薬剤師：保険証の記号・番号は {symbol}・{number} ですね。確認しました。", 3),
    ("受付：被保険者証の記号{symbol}、番号{number}。有効期限内。", 3),
    ("患者：引っ越しまして、新しい住所は〒{postal} {address}です。", 5),
    ("配達メモ：お届け先 〒{postal}　{address}　{name}様", 5),
    ("訪問予定：{address}、{time}に伺います。", 4),
    ("受付：郵便番号 {postal_hyphen}、住所は変更なし。", 3),
    ("患者：住所は{address_np}です。", 3),
    ("受付：{kana_name}様（生年月日 {birth}）、初回来局。", 5),
    ("薬剤師：ご本人確認のため生年月日を教えてください。—患者：{birth}です。", 4),
    ("申し送り：{surname}さん、{birth}生まれ、腎機能低下あり。", 4),
    ("患者：私は{birth_year}生まれです。", 3),
    ("問診票：誕生日 {birth}、アレルギー なし。", 3),
    ("患者：領収書はPDFで{email}に送ってください。", 4),
    ("申し送り：{surname}様のご家族の連絡用メール {email}", 3),
    ("患者：クレジットでお願いします。{card}です。", 4),
    ("通販メモ：カード番号 {card}、決済エラーのため再入力依頼。", 4),
    ("患者：返金は○○銀行の{bankbranch}支店、支店番号{branch}、普通{account}へお願いします。", 4),
    ("経理：振込口座 普通預金 {account}（口座名義 {kana_name}）", 4),
    ("薬剤師：{name}さん、本日は{drug}を{days}お渡しします。", 5),
    ("申し送り：{surname}様、{drug}で眠気の訴え。処方医の{surname}先生へ報告済み。", 3),
    ("お名前：{hira_name}　{drug} {dose}", 4),
    ("氏名 {name}　性別 女　{vital}", 4),
    ("患者名：{kana_name}、処方日 {rxdate}、{drug} {days}", 4),
    ("【下書き】{name}様　いつもありがとうございます。お薬の準備ができました。", 4),
    ("【下書き】{kana_surname}様、次回は{time}頃のご来局をお待ちしております。", 3),
    ("薬剤師：{surname}くん、お薬は甘いシロップにしておいたよ。", 2),
    ("看護師：{surname}ちゃんの体重は{vital}でした。", 2),
    ("患者：{name}と申します。電話は{phone}、メールは{email}です。", 4),
    ("受付：{name}様　生年月日{birth}　〒{postal} {address}　TEL {phone}", 5),
    ("申し送り：{surname}様 保険者番号{insurer} マイナンバー{my_number} 連絡先{phone}", 3),
]
JA_NEGATIVE = [
    "{drug} {dose} {days}",
    "用法：{dose}、{days}。{rxdate}処方分。",
    "処方日：{rxdate}　調剤日：{rxdate}",
    "薬剤師：{drug}は{dose}で飲んでくださいね。",
    "患者：電話で聞いた通り、{drug}は{count}錠ずつですか？",
    "申し送り：電話にて疑義照会、{drug}を{days}に変更。",
    "電話：受付時間 9:00〜18:00（土曜は13時まで）",
    "お電話でのご予約も承っております。",
    "{lot}、使用期限 2026.10、在庫 {count}箱。",
    "手順書 {section} に基づき一包化。",
    "{vital}、{vital}。特記事項なし。",
    "患者様へ：{drug}は車の運転に注意してください。",
    "ご家族の方へ、{drug}の保管は冷所でお願いします。",
    "主治医の先生と相談のうえ{days}に延長。",
    "お子様の体重に合わせて{drug}を調整しました。",
    "保険証とマイナンバーカードをお持ちください。",
    "生年月日と保険者番号の記入漏れにご注意ください。",
    "郵便番号と住所は問診票にご記入ください。",
    "口座振替の手続きは窓口で承ります。",
    "本日のお会計は{price}です。",
    "【下書き】お薬の準備ができました。{time}以降にお越しください。",
    "患者：おばあちゃんの薬も一緒にお願いできますか。",
    "薬価改定に伴い、{drug}の薬価が変更になりました（{rxdate}）。",
    "第{count}回 服薬指導、{section}を参照。",
    "処方番号 {count}{count}{count}、{drug} {days}",
]
EN = [
    ("Patient: Ms. {romaji}, tel {phone}, asked about {drug_en}.", 4),
    ("Pharmacist note: called Mr. {romaji_surname} back on {phone} about the refill.", 3),
    ("Please email the receipt to {email} - thanks, {romaji_surname}-san.", 3),
    ("Dr. {romaji_surname}'s clinic faxed a new prescription for {drug_en}.", 3),
    ("DOB: {birth_en}; allergies: none.", 3),
    ("Patient name: {romaji}. Date of birth {birth_en}.", 3),
    ("Payment by card {card} failed; customer will call back.", 3),
    ("Draft reply: Dear Mrs. {romaji_surname}, your {drug_en} is ready for pickup.", 3),
]
EN_NEGATIVE = ["Take {drug_en} {dose_en} for {days_en}.", "Call the clinic if the rash gets worse.",
               "Lot 3MZ02 expires in October 2026.", "Refill due in {days_en}; no interaction found.",
               "Section 4.2.1 of the SOP covers crushing tablets.", "The doctor said to stop after {days_en}."]

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


def build() -> list[dict]:
    lines = [fill(t, "ja") for t, times in JA for _ in range(times)]
    lines += [fill(t, "ja") for t in JA_NEGATIVE for _ in range(2)]
    lines += [fill(t, "en") for t, times in EN for _ in range(times)]
    lines += [fill(t, "en") for t in EN_NEGATIVE for _ in range(2)]
    rng.shuffle(lines)
    return lines


def main() -> None:
    lines = build()
    OUT.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    print(f"{len(lines)} lines -> {OUT}")


if __name__ == "__main__":
    main()
