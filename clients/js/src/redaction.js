// The server's redaction detectors (src/promptyard/domain/redaction.py), ported line for line so the
// client can redact before anything leaves the page or process. tests/vectors/redaction.json (made by
// the Python code) pins both to the same spans and texts; keep this file a port, not a fit to the vectors.
//
// Python's patterns run with re.ASCII: \d, \s, \w, \b mean ASCII. In JS \d and \b are ASCII already;
// \s is written as S below (JS \s is Unicode), \w as [A-Za-z0-9_]. Every pattern has the `u` flag, so
// classes and quantifiers count code points like Python. Offsets inside the normalised text are UTF-16
// units (JS string indices); a window that Python measures in characters (the 60 before a keyword) is
// measured in code points here. find() returns offsets into the original text in UTF-16 units (use them
// with text.slice); findCodePoints() returns the same spans in code points, as the server does.

export const KINDS = ["phone", "my_number", "corporate_number", "insurance_number", "insurance_symbol_number",
  "postal_code", "address", "birth_date", "email", "card", "bank_account", "person_name"];

const S = "[\\t\\n\\v\\f\\r ]"; // Python's ASCII \s
const rx = (source, flags) => new RegExp(source.replaceAll("\\s", S), flags);
const KANJI = "\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff\u{20000}-\u{3134f}々〆ヶ"; // with CJK Extension B and later (𠮷)
const HIRA = "\u3041-\u3096";
const KATA = "\u30a1-\u30faー・";
const DASHES = /[\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63]/gu;

// --- normalisation ------------------------------------------------------------------------------

const MARKS_AFTER = "\u3099\u309a\uff9e\uff9f"; // (semi-)voiced marks, combining and half-width
const VOICED = new RegExp(`[^${MARKS_AFTER}][${MARKS_AFTER}]+`, "guy");

/** NFKC per character (a character and the voiced / semi-voiced marks after it as one: ﾀﾞ -> ダ, か\u3099 -> が),
 * plus dashes folded to "-": {norm, origin}, origin[i] = the code point index in `text` of the first character
 * the UTF-16 unit i of `norm` came from (sourceEnd maps the end of a span). */
export function normalise(text) {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(text)) return { norm: text, origin: Array.from({ length: text.length }, (_, i) => i) };
  const parts = [];
  const origin = [];
  const seen = new Map();
  let i = 0; // code points of `text` read
  for (let u = 0; u < text.length;) {
    VOICED.lastIndex = u;
    const group = VOICED.exec(text);
    const ch = group ? group[0] : String.fromCodePoint(text.codePointAt(u));
    let n = seen.get(ch);
    if (n === undefined) {
      n = ch.normalize("NFKC").replace(DASHES, "-");
      seen.set(ch, n);
    }
    parts.push(n);
    for (let k = 0; k < n.length; k++) origin.push(i);
    i += cpLength(ch);
    u += ch.length;
  }
  // ー typed as a hyphen between digits (090ー1234ー5678); the same length, so `origin` still holds.
  return { norm: parts.join("").replace(/(?<=\d)ー(?=\d)/gu, "-"), origin };
}

/** The index `count` code points before `pos` in `s` (0 at the most). */
function back(s, pos, count) {
  const low = (i) => s.charCodeAt(i) >= 0xdc00 && s.charCodeAt(i) <= 0xdfff;
  const high = (i) => s.charCodeAt(i) >= 0xd800 && s.charCodeAt(i) <= 0xdbff;
  for (; count > 0 && pos > 0; count--) pos -= pos > 1 && low(pos - 1) && high(pos - 2) ? 2 : 1;
  return pos;
}

/** True when `keyword` (compiled to end at $) ends shortly before `start` with no digit in between. */
function preceded(norm, start, keyword) {
  keyword.lastIndex = back(norm, start, 60);
  return keyword.test(norm.slice(0, start));
}

/** A keyword, then up to `gap` characters that are neither digits nor the words `notInGap`, then the end. */
function kw(alternatives, gap = 12, notInGap = "") {
  const step = notInGap ? `(?!${notInGap})[^\\d]` : "[^\\d]";
  return rx(`(?:${alternatives})(?:${step}){0,${gap}}$`, "giu");
}

const digitsOf = (s) => s.replace(/\D/gu, "");
const cpLength = (s) => [...s].length;

/** Where a span of the normalised text ending at `end` (> 0) ends in the original text of `length` code
 * points: after every character the last normalised unit came from (both of ㍼ for 昭, ﾀ and ﾞ for ダ). */
function sourceEnd(origin, end, length) {
  const last = origin[end - 1];
  let lo = end - 1, hi = origin.length; // bisect_right: the first unit from a later character
  while (lo < hi) { const mid = (lo + hi) >> 1; if (last < origin[mid]) hi = mid; else lo = mid + 1; }
  return lo < origin.length ? origin[lo] : length;
}
const lastChar = (s) => [...s].pop();
const span = (m, g = 0) => (g === 0 ? [m.index, m.index + m[0].length] : m.indices[g]);

// Digit groups that are not part of a longer number ("1234-5678" inside "1234-5678-9012" is not taken).
const NOT_BEFORE = "(?<!\\d)(?<!\\d[- ])";
const NOT_AFTER = "(?!\\d|[- ]\\d)";

// --- checksums ----------------------------------------------------------------------------------

const allDigits = (d) => /^\d+$/u.test(d);

/** マイナンバー: 12 digits, the last = 11 - (sum P_n*Q_n mod 11) (0 when the remainder <= 1). */
export function myNumberValid(digits) {
  if (digits.length !== 12 || !allDigits(digits)) return false;
  let total = 0;
  for (let n = 1; n < 12; n++) total += Number(digits[11 - n]) * (n <= 6 ? n + 1 : n - 5);
  const r = total % 11;
  return Number(digits[11]) === (r <= 1 ? 0 : 11 - r);
}

/** 法人番号: 13 digits, the first = 9 - (sum of the 12 others weighted 1,2,1,... from the right) mod 9. */
export function corporateNumberValid(digits) {
  if (digits.length !== 13 || !allDigits(digits)) return false;
  let total = 0;
  for (let n = 1; n <= 12; n++) total += Number(digits[13 - n]) * (n % 2 ? 1 : 2);
  return Number(digits[0]) === 9 - (total % 9);
}

/** 保険者番号 (6 or 8 digits): weights 2,1,2,... from the right, product digits summed, check = (10 - sum mod 10) mod 10. */
export function insurerNumberValid(digits) {
  if ((digits.length !== 6 && digits.length !== 8) || !allDigits(digits)) return false;
  let total = 0;
  for (let n = 0; n < digits.length - 1; n++) {
    const p = Number(digits[digits.length - 2 - n]) * (n % 2 === 0 ? 2 : 1);
    total += Math.floor(p / 10) + (p % 10);
  }
  return Number(digits[digits.length - 1]) === (10 - (total % 10)) % 10;
}

export function luhnValid(digits) {
  let total = 0;
  for (let n = 0; n < digits.length; n++) {
    const v = Number(digits[digits.length - 1 - n]) * (n % 2 ? 2 : 1);
    total += v > 9 ? v - 9 : v;
  }
  return total % 10 === 0;
}

// --- detectors (each over the normalised text, yielding [start, end]) ------------------------------

const PHONE_RE = rx(String.raw`(?<![\d+.])(?<!\d-)(?:\+\s?81|\(0|0)(?:[- ()]{0,2}\d){1,16}`, "gu");

function phoneOk(digits, international) {
  if (international) {
    const rest = digits.slice(2);
    digits = "0" + (rest.startsWith("0") ? rest.slice(1) : rest);
  }
  if (digits.length === 11) return ["090", "080", "070", "050"].includes(digits.slice(0, 3)) || digits.startsWith("0800");
  return digits.length === 10 && digits[1] !== "0";
}

// 090.1234.5678: three groups joined by dots, nothing dotted on either side (not 1.2.3, 010.123.45.67).
const DOTTED_PHONE = /0(?<![\d.+]0)\d{1,4}\.\d{1,4}\.\d{3,4}(?!\.?\d)/gu;

function* phone(norm) {
  for (const m of norm.matchAll(DOTTED_PHONE)) {
    if (phoneOk(digitsOf(m[0]), false)) yield span(m);
  }
  for (const m of norm.matchAll(PHONE_RE)) {
    const cand = m[0];
    const international = cand.startsWith("+");
    const ends = [...cand.matchAll(/\d+/gu)].map((d) => d.index + d[0].length);
    for (const end of ends.reverse()) { // the longest prefix ending at a digit group that is a valid number
      const piece = cand.slice(0, end);
      if (piece.match(/\d+/gu).length <= 5 && phoneOk(digitsOf(piece), international)) {
        let start = m.index;
        if (piece.startsWith("(") && !piece.includes(")")) start += 1;
        yield [start, m.index + end];
        break;
      }
    }
  }
}

const MY_NUMBER_RE = rx(NOT_BEFORE + String.raw`\d{4}([- ]?)\d{4}\1\d{4}` + NOT_AFTER, "gu");
const MY_NUMBER_KW = kw(String.raw`マイナンバー|個人番号|my\s*number`, 8);
const DATED_SERIAL = /^(?:(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{4})$/u;

function* myNumber(norm) {
  for (const m of norm.matchAll(MY_NUMBER_RE)) {
    if (!myNumberValid(digitsOf(m[0]))) continue;
    if (DATED_SERIAL.test(m[0]) && !preceded(norm, m.index, MY_NUMBER_KW)) continue;
    yield span(m);
  }
}

const CORPORATE_RE = rx(String.raw`(?<![\dA-Za-z])(?<!\d[- ])T?(?:\d{13}|\d([- ])\d{4}\1\d{4}\1\d{4})` + NOT_AFTER, "gu");

function* corporateNumber(norm) {
  for (const m of norm.matchAll(CORPORATE_RE)) {
    if (corporateNumberValid(digitsOf(m[0]))) yield span(m);
  }
}

const INSURER_RE = rx(NOT_BEFORE + String.raw`(\d{8}|\d{6})` + NOT_AFTER, "gu");
const INSURER_KW = kw(String.raw`保険者番号|保険者No\.?|insurer\s*(?:number|no\.?)`, 6);
const LAW_CODES = new Set(["01", "02", "03", "04", "06", "07", "31", "32", "33", "34", "39", "63", "72", "73", "74", "75"]);

function* insuranceNumber(norm) {
  for (const m of norm.matchAll(INSURER_RE)) {
    const d = m[0];
    if (!insurerNumberValid(d)) continue;
    const prefecture = Number(d.slice(2, 4));
    const alone = d.length === 8 && LAW_CODES.has(d.slice(0, 2)) && prefecture >= 1 && prefecture <= 47;
    if (alone || preceded(norm, m.index, INSURER_KW)) yield span(m);
  }
}

const SYMBOL_VALUE = String.raw`([0-9A-Za-z][0-9A-Za-z\-]{0,11})`;
const SYMBOL_KANA = String.raw`([0-9A-Za-z${HIRA}\u30a1-\u30fa][0-9A-Za-z${HIRA}\u30a1-\u30faー\-]{0,11})`;
const SYMBOL_RE = rx(
  String.raw`(?:被保険者証)?(?:記号)\s*[:]?\s*` + SYMBOL_KANA + String.raw`(?:\s*[,、]?\s*番号\s*[:]?\s*` + SYMBOL_VALUE + ")?"
  + String.raw`|(?:被保険者証|被保険者)の?番号\s*[:]?\s*` + SYMBOL_VALUE
  + String.raw`|記号[・･]?番号\s*(?:[:]|が|は)?\s*([0-9A-Za-z${KANJI}\-]{1,12}\s*[・･/ ]\s*[0-9A-Za-z\-]{1,12})`, "gud");

function* insuranceSymbolNumber(norm) {
  for (const m of norm.matchAll(SYMBOL_RE)) {
    const paired = m[2] !== undefined && /\d/u.test(m[2]);
    for (let g = 1; g <= 4; g++) {
      const value = m[g];
      if (value && (/\d/u.test(value) || (g === 1 && paired))) yield span(m, g);
    }
  }
}

const POSTAL_RE = rx(String.raw`〒\s*(\d{3}-?\d{4})(?!\d)|(?<![\d-])(\d{3}-\d{4})(?![\d-])`, "gud");
const POSTAL_KW = kw(String.raw`郵便番号|postal\s*code|zip(?:\s*code)?`, 4);

function* postalCode(norm) {
  for (const m of norm.matchAll(POSTAL_RE)) {
    if (m[1]) yield span(m, 1);
    else if (preceded(norm, m.indices[2][0], POSTAL_KW)) yield span(m, 2);
  }
}

const PREFECTURES = "北海道|青森県|岩手県|宮城県|秋田県|山形県|福島県|茨城県|栃木県|群馬県|埼玉県|千葉県|東京都|神奈川県|新潟県"
  + "|富山県|石川県|福井県|山梨県|長野県|岐阜県|静岡県|愛知県|三重県|滋賀県|京都府|大阪府|兵庫県|奈良県"
  + "|和歌山県|鳥取県|島根県|岡山県|広島県|山口県|徳島県|香川県|愛媛県|高知県|福岡県|佐賀県|長崎県|熊本県"
  + "|大分県|宮崎県|鹿児島県|沖縄県";
const PLACE = `[${KANJI}${HIRA}${KATA}]`;
const KANJI_NUM = "[一二三四五六七八九十]";
const BLOCK = String.raw`(?:\d{1,4}|` + KANJI_NUM + String.raw`{1,3})丁目(?:\s*\d{1,4}\s*(?:番地?|-)\s*(?:\d{1,4}\s*号?)?)?`
  + String.raw`|\d{1,4}\s*番地?\s*(?:\d{1,4}\s*号?)?`
  + String.raw`|\d{1,4}(?:-\d{1,4}){1,3}`;
const MUNICIPALITY = `(?:${PLACE}{1,8}?(?:市|区|町|村|郡)){1,3}`;
const AFTER_MUNICIPALITY = String.raw`\s*(?:${PLACE}|\d{1,3}条){0,10}?\s*(?:${BLOCK})`;
const ADDRESS_RE = rx(String.raw`(?:${PREFECTURES})\s*${MUNICIPALITY}${AFTER_MUNICIPALITY}`
  + String.raw`|(?:住所|所在地|お住まい)\s*(?:[:]|は)?\s*(${MUNICIPALITY}${AFTER_MUNICIPALITY})`, "gud");

function* address(norm) {
  for (const m of norm.matchAll(ADDRESS_RE)) yield m[1] ? span(m, 1) : span(m);
}

const MONTHS = String.raw`(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?`;
const DATE_RE = rx(
  String.raw`(?<!\d)(?:(?:19|20)\d{2}\s*(?:[/\-.]\s*\d{1,2}\s*[/\-.]\s*\d{1,2}|年\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?)`
  + String.raw`|(?:明治|大正|昭和|平成|令和)\s*(?:\d{1,2}|元)\s*年(?:\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?)?`
  + String.raw`|(?<![A-Za-z])[MTSHR]\s?\d{1,2}[.\-/]\d{1,2}[.\-/]\d{1,2}`
  + String.raw`|\d{1,2}[/.\-]\d{1,2}[/.\-](?:19|20)\d{2}`
  + String.raw`|${MONTHS}\s+\d{1,2},?\s+(?:19|20)\d{2}|\d{1,2}\s+${MONTHS}\s+(?:19|20)\d{2})(?!\d)`, "giu");
// A question and its answer may sit between the keyword and the date, but not another date's label.
const BIRTH_KW = kw(String.raw`生年月日|誕生日|生まれ|\bDOB\b|\bD\.O\.B\.?|date\s+of\s+birth|birth\s*date|\bborn(?:\s+on)?\b`, 24,
  "処方|調剤|受付|来局|発行|期限|次回|前回|投与|服用|開始|交付|日付|今日|本日|date|issued");
const BIRTH_AFTER = rx(String.raw`\s*[(]?\s*(?:生まれ|生(?![産薬成活存命理]))`, "yu"); // not 2024年4月1日生産

function* birthDate(norm) {
  for (const m of norm.matchAll(DATE_RE)) {
    const end = m.index + m[0].length;
    BIRTH_AFTER.lastIndex = end;
    if (preceded(norm, m.index, BIRTH_KW) || BIRTH_AFTER.test(norm)) yield [m.index, end];
  }
}

const EMAIL_RE = rx(String.raw`(?<![A-Za-z0-9_.+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]*@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`, "gu");

function* email(norm) {
  for (const m of norm.matchAll(EMAIL_RE)) yield span(m);
}

const CARD_RE = rx(NOT_BEFORE + String.raw`(?:\d{4}([- ])\d{4}\1\d{4}\1\d{1,7}|\d{4}([- ])\d{6}\2\d{4,5}|[2-6]\d{14,15})` + NOT_AFTER, "gu");

function* card(norm) {
  for (const m of norm.matchAll(CARD_RE)) {
    const d = digitsOf(m[0]);
    if (d.length >= 13 && d.length <= 19 && luhnValid(d)) yield span(m);
  }
}

const ACCOUNT_RE = rx(NOT_BEFORE + String.raw`\d{7}` + NOT_AFTER, "gu");
const ACCOUNT_KW = kw(String.raw`口座番号|口座|普通預金|当座預金|普通|当座|支店|account\s*(?:number|no\.?)`, 8);
const BRANCH_RE = rx(String.raw`(?:支店番号|店番号|店番|支店コード|支店)\s*[:(]?\s*(\d{3})(?!\d)`, "gud");

function* bankAccount(norm) {
  for (const m of norm.matchAll(ACCOUNT_RE)) {
    if (preceded(norm, m.index, ACCOUNT_KW)) yield span(m);
  }
  for (const m of norm.matchAll(BRANCH_RE)) yield span(m, 1);
}

const HIRA_GIVEN = `(?![のはがをにへとでもや])[${HIRA}]{2,4}`; // 長谷川さくら様; not 患者のみなさん
const HONORIFIC_RE = rx(
  `([${KANJI}]{2,6}|[${KANJI}]{1,4} ?(?:[${KANJI}]{1,4}|${HIRA_GIVEN}|[${KATA}]{2,8})`
  + `|[${KATA}]{2,12}(?: [${KATA}]{1,12})?) ?`
  + "(様(?![子式々相態])|さま|さん|殿(?!堂)|先生|くん|ちゃん|と申します)", "gud");
// Words that take an honorific but are not names (お客様, 患者さん, 薬剤師さん; 同様 and 仕様 are not honorifics).
const GENERIC = new Set(["患者", "薬剤師", "看護師", "医師", "医者", "先生", "息子", "娘", "奥", "旦那", "家族", "ご家族", "店員", "業者", "担当",
  "担当者", "利用者", "客", "皆", "母", "父", "兄", "姉", "弟", "妹", "祖父", "祖母", "孫", "主人", "親御", "子供", "子", "神", "王", "殿",
  "貴", "人", "社長", "部長", "課長", "院長", "局長", "理事長", "会長", "先方", "相手", "本人", "ご本人", "依頼者", "皆々", "各位", "方", "ユーザー",
  "オーナー", "ゲスト", "メンバー", "ドクター", "ナース", "スタッフ", "ママ", "パパ",
  "ヘルパー", "ケアマネ", "ケアマネージャー", "ドライバー"]);
const LEADING_WORDS = ["本日", "今日", "昨日", "明日", "担当", "患者", "主治医", "薬剤師", "看護師", "医師", "先日", "次回"];
const NON_NAME_SUFFIX = new Set(["師", "者", "員", "医", "士", "様", "長", "方"]);
const SAMA_WORDS = new Set("同仕模多異両左有各態文神王奥客殿貴皆人"); // 同様, 仕様, 模様, 多様, ... 奥様, 皆様
const KANJI_HEAD = new RegExp(`^[${KANJI}]+ ?(?=[${KATA}])`, "u"); // 蒼井 of 蒼井ミドリ; 新人 of 新人ヘルパー
// Common one-kanji surnames, taken alone right before さん / さま / 様 / ちゃん (東さん, 堀ちゃん) where no kanji,
// katakana or お / ご comes before (関東さん is two kanji; お東さん and お西さん are temples).
const ONE_KANJI_SURNAMES = "東西南北林森原堀関辻岡谷菅泉沢星島畑浜滝坂楠萩桂";
const ONE_KANJI_RE = new RegExp(`(?<![${KANJI}${KATA}おご])[${ONE_KANJI_SURNAMES}](?=さん|さま|様(?![子式々相態])|ちゃん)`, "gu");

function* honorificName(norm) {
  for (const m of norm.matchAll(HONORIFIC_RE)) {
    let start = m.indices[1][0];
    let name = m[1];
    for (const word of LEADING_WORDS) { // 本日田中様 -> 田中
      if (name.startsWith(word) && name.length > word.length + 1) {
        start += word.length;
        name = name.slice(word.length);
        break;
      }
    }
    name = name.trim(); // the pattern neither starts nor ends a name with a space: kept from the Python
    if (m[2] === "様" && (SAMA_WORDS.has(lastChar(name))
      || (lastChar(name) === "一" && ["に", "な"].includes(norm[m.index + m[0].length])))) continue; // 同様, 皆様; 一様に / 一様な (but 健一様 is a name)
    const head = KANJI_HEAD.exec(name); // a kanji surname + a katakana given name: the katakana part is no role
    if (GENERIC.has(name) || (head && GENERIC.has(name.slice(head[0].length))) || NON_NAME_SUFFIX.has(lastChar(name))
      || name.endsWith("ユーザー") || name.endsWith("スタッフ")) continue;
    if (cpLength(name.replaceAll(" ", "")) < 2) continue;
    yield [start, start + name.length];
  }
  for (const m of norm.matchAll(ONE_KANJI_RE)) yield span(m);
}

const JA_NAME = `[${KANJI}]{1,5}(?: ?(?:[${KANJI}]{1,5}|${HIRA_GIVEN}|(?!フリガナ)[${KATA}]{2,8}))?|[${KATA}]{2,10}(?: [${KATA}]{1,10})?`
  + `|[${HIRA}]{2,8}(?: [${HIRA}]{1,8})?`;
const LABEL_RE = rx(`(?:患者の?(?:氏名|名前|名)|氏名|お名前|(?<![の${KANJI}])名前|フリガナ|ふりがな|受診者名|口座名義|名義人?)`
  + String.raw`\s*(?:[:=]|は)?\s*(${JA_NAME})`, "gud");
const TRAILING = ["です", "でした", "さん", "さま", "様", "と", "の", "は", "が", "を", "に"];
// Where a following label or honorific begins, the name has ended (氏名 山田太郎 住所 ... -> 山田太郎).
const NAME_STOP = / ?(?:住所|生年月日|電話|年齢|性別|保険|様|殿|先生|さん|さま|くん|ちゃん)/gu;

function trimName(name) {
  NAME_STOP.lastIndex = 1;
  const stop = NAME_STOP.exec(name);
  if (stop) name = name.slice(0, stop.index);
  for (const t of TRAILING) {
    if (name.endsWith(t) && name.length > t.length + 1) {
      name = name.slice(0, -t.length);
      break;
    }
  }
  return name.trimEnd();
}

function* labelledName(norm) {
  for (const m of norm.matchAll(LABEL_RE)) {
    const start = m.indices[1][0];
    const name = trimName(m[1]);
    if (cpLength(name.replaceAll(" ", "")) >= 2 && !"欄等".includes(name[0]) && !GENERIC.has(name)) {
      yield [start, start + name.length];
    }
  }
}

// Python's (?i:...) for one group, ASCII letters only (JS has no inline flags in Node 18-22).
const caseless = (s) => s.replace(/[A-Za-z]/g, (c) => `[${c.toLowerCase()}${c.toUpperCase()}]`);
const EN_NAME = String.raw`[A-Z][a-zA-Z'\-]+(?: [A-Z][a-zA-Z'\-]+){0,3}`;
const EN_RE = rx(String.raw`\b(?:Mr|Mrs|Ms|Miss|Dr|Prof)\.? (${EN_NAME})`
  + `|(?:${caseless("patient(?:'s)? name|full name|name of patient")})` + String.raw`\s*:\s*(${EN_NAME})`, "gud");

const ROMAJI_HONORIFIC = /[A-Z](?<![A-Za-z][A-Z])[a-z]+(?: [A-Z][a-z]+)?(?=-(?:san|sama|sensei|kun|chan)\b)/gu;

/** An English name after Mr./Mrs./Ms./Dr./Prof. or "Patient name:", or a romaji name before -san / -sama /
 * -sensei / -kun / -chan (Ogawa-san). */
function* englishName(norm) {
  for (const m of norm.matchAll(ROMAJI_HONORIFIC)) yield span(m);
  for (const m of norm.matchAll(EN_RE)) yield m[1] !== undefined ? span(m, 1) : span(m, 2);
}

function* personName(norm) {
  yield* honorificName(norm);
  yield* labelledName(norm);
  yield* englishName(norm);
}

// kind -> [detector, rank]: on overlap the higher rank wins, then the longer span.
const DETECTORS = {
  my_number: [myNumber, 3],
  corporate_number: [corporateNumber, 3],
  card: [card, 3],
  email: [email, 3],
  address: [address, 3],
  insurance_number: [insuranceNumber, 2],
  insurance_symbol_number: [insuranceSymbolNumber, 2],
  postal_code: [postalCode, 2],
  birth_date: [birthDate, 2],
  bank_account: [bankAccount, 2],
  phone: [phone, 2],
  person_name: [personName, 1],
};

/** Every detected span as {start, end, kind} in CODE POINTS of `text` (like the server), sorted by start,
 * non-overlapping (a higher rank, then a longer span wins). */
export function findCodePoints(text, kinds = null) {
  const wanted = kinds == null ? KINDS : [...kinds];
  const unknown = [...new Set(wanted.filter((k) => !Object.hasOwn(DETECTORS, k)))].sort();
  if (unknown.length) throw new Error(`unknown redaction kinds: ${unknown.join(", ")}`);
  const { norm, origin } = normalise(text);
  const length = cpLength(text);
  const candidates = [];
  for (const kind of wanted) {
    const [detector, rank] = DETECTORS[kind];
    for (const [s, e] of detector(norm)) {
      if (e > s) {
        const [start, end] = [origin[s], sourceEnd(origin, e, length)];
        candidates.push([rank, end - start, start, end, kind]);
      }
    }
  }
  candidates.sort((a, b) => b[0] - a[0] || b[1] - a[1] || a[2] - b[2]); // stable, like Python's sort
  const taken = []; // sorted by start; never overlapping, so sorted by end too
  for (const [, , start, end, kind] of candidates) {
    let lo = 0, hi = taken.length; // bisect_right on the starts
    while (lo < hi) { const mid = (lo + hi) >> 1; if (start < taken[mid].start) hi = mid; else lo = mid + 1; }
    if ((lo > 0 && taken[lo - 1].end > start) || (lo < taken.length && taken[lo].start < end)) continue;
    taken.splice(lo, 0, { start, end, kind });
  }
  return taken;
}

/** UTF-16 offset of every code point of `text`, and one past the end. */
function unitOffsets(text) {
  const out = [];
  let u = 0;
  for (const ch of text) { out.push(u); u += ch.length; }
  out.push(u);
  return out;
}

/** The same spans as findCodePoints, with offsets in UTF-16 units: text.slice(start, end) is the value. */
export function find(text, kinds = null) {
  const spans = findCodePoints(text, kinds);
  if (!spans.length || !/[\ud800-\udfff]/.test(text)) return spans; // no astral characters: the same offsets
  const at = unitOffsets(text);
  return spans.map((s) => ({ start: at[s.start], end: at[s.end], kind: s.kind }));
}

// --- policies: the server's domain/redaction_policy.py, for the built-in detectors ------------------

export const OPERATORS = ["placeholder", "mask", "hash", "drop"];
export const PLACEHOLDERS = {
  phone: "[電話番号]", my_number: "[マイナンバー]", corporate_number: "[法人番号]",
  insurance_number: "[保険者番号]", insurance_symbol_number: "[被保険者記号・番号]", postal_code: "[郵便番号]",
  address: "[住所]", birth_date: "[生年月日]", email: "[メールアドレス]", card: "[カード番号]",
  bank_account: "[口座番号]", person_name: "[氏名]", term: "[氏名]",
};
const RULE_KINDS = [...KINDS, "term"];
const MAX_PLACEHOLDER_CHARS = 40;
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]|(?! )\p{Zs}/u; // Python's not str.isprintable()

export class PolicyError extends Error {
  constructor(message) { super(message); this.name = "PolicyError"; }
}

const asRule = (on, operator, placeholder) => ({ on, operator, placeholder });
const DEFAULT_RULE = asRule(true, "placeholder", "");
const pyTruthy = (v) => Boolean(v) && !(Array.isArray(v) && !v.length) && !(isObject(v) && !Object.keys(v).length);
const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

function parseRule(data, where, base) {
  if (data === undefined || data === null) return base;
  if (!isObject(data)) throw new PolicyError(`${where}: must be an object {on, operator, placeholder}`);
  const unknown = Object.keys(data).filter((k) => !["on", "operator", "placeholder", "name", "pattern"].includes(k)).sort();
  if (unknown.length) throw new PolicyError(`${where}: unknown field '${unknown[0]}'`);
  const given = (k) => (Object.hasOwn(data, k) ? data[k] : base[k]); // an explicit null is not "left out"
  const on = given("on");
  const operator = given("operator");
  const placeholder = given("placeholder") ?? "";
  if (typeof on !== "boolean") throw new PolicyError(`${where}.on: must be true or false`);
  if (!OPERATORS.includes(operator)) throw new PolicyError(`${where}.operator: must be one of ${OPERATORS.join(", ")}`);
  if (typeof placeholder !== "string" || [...placeholder].length > MAX_PLACEHOLDER_CHARS || UNPRINTABLE.test(placeholder)) {
    throw new PolicyError(`${where}.placeholder: must be printable text of at most ${MAX_PLACEHOLDER_CHARS} characters`);
  }
  if (placeholder && find(placeholder).length) throw new PolicyError(`${where}.placeholder: must not itself look like personal data`);
  return asRule(on, operator, placeholder);
}

/** A policy from its JSON form, as the server reads it ({enabled, detectors: {kind: {on, operator,
 * placeholder}}}); null or undefined: the default policy (every detector on, typed placeholders).
 * Custom patterns are the server's only (JS has no time-limited regular expressions). */
export function parsePolicy(data) {
  const rules = Object.fromEntries(RULE_KINDS.map((k) => [k, DEFAULT_RULE]));
  if (data === undefined || data === null) return { enabled: true, rules };
  if (!isObject(data)) throw new PolicyError("redaction: must be an object {enabled, detectors, custom}");
  const unknown = Object.keys(data).filter((k) => !["enabled", "detectors", "custom"].includes(k)).sort();
  if (unknown.length) throw new PolicyError(`redaction: unknown field '${unknown[0]}'`);
  const enabled = data.enabled ?? true;
  if (typeof enabled !== "boolean") throw new PolicyError("enabled: must be true or false");
  const detectors = pyTruthy(data.detectors) ? data.detectors : {};
  if (!isObject(detectors)) throw new PolicyError("detectors: must be an object of kind -> {on, operator, placeholder}");
  const unknownKinds = Object.keys(detectors).filter((k) => !RULE_KINDS.includes(k)).sort();
  if (unknownKinds.length) {
    throw new PolicyError(`detectors: unknown kind '${unknownKinds[0]}' (known: ${RULE_KINDS.join(", ")})`);
  }
  if (Array.isArray(data.custom) ? data.custom.length : data.custom != null) {
    throw new PolicyError("custom: custom patterns are applied by the server only, not by the JS client");
  }
  for (const k of RULE_KINDS) rules[k] = parseRule(detectors[k], `detectors.${k}`, DEFAULT_RULE);
  for (const [k, r] of Object.entries(rules)) {
    if (r.on && r.operator === "hash") {
      throw new PolicyError(`detectors.${k}.operator: "hash" is not available in the JS client (the server's keyed ` +
        "BLAKE2b); use placeholder, mask or drop here, or leave hashing to the server");
    }
  }
  return { enabled, rules };
}

/** Applies a policy (its JSON form, or true for the default) to texts and JSON values; `counts` holds
 * kind -> spans redacted, and take() hands them over. */
export class Redactor {
  constructor(policy = null) {
    this.policy = policy === true ? parsePolicy(null) : parsePolicy(policy);
    this.kinds = KINDS.filter((k) => this.policy.rules[k].on);
    this.counts = {};
  }

  take() {
    const out = this.counts;
    this.counts = {};
    return out;
  }

  /** Every string inside a JSON value redacted (object keys are left alone). */
  value(v) {
    if (typeof v === "string") return this.text(v);
    if (Array.isArray(v)) return v.map((x) => this.value(x));
    if (isObject(v)) {
      if (typeof v.toJSON === "function") return this.value(v.toJSON());
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, this.value(x)]));
    }
    return v;
  }

  text(s) {
    if (!this.policy.enabled || !s || !this.kinds.length) return s;
    const spans = find(s, this.kinds);
    if (!spans.length) return s;
    let out = "", at = 0;
    for (const span of spans) {
      out += s.slice(at, span.start) + this._replacement(span.kind, s.slice(span.start, span.end));
      this.counts[span.kind] = (this.counts[span.kind] ?? 0) + 1;
      at = span.end;
    }
    return out + s.slice(at);
  }

  _replacement(kind, original) {
    const rule = this.policy.rules[kind];
    if (rule.operator === "drop") return "";
    if (rule.operator === "mask") return original.replace(/[\p{L}\p{N}]/gu, "*"); // Python's str.isalnum()
    return rule.placeholder || PLACEHOLDERS[kind];
  }
}
