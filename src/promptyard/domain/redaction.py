"""Detectors of personal identifiers in Japanese and English text (issue 13, first step).

`find(text)` returns the spans to redact. Matching runs on the NFKC-normalised text (full-width digits, letters,
hyphens and spaces become half-width; a few dashes NFKC keeps are folded to "-"), and every span is mapped back
to offsets into the ORIGINAL text, character by character (NFKC can change the length: "㍼" -> "昭和").

Each detector below is one small function over the normalised text that yields (start, end) pairs; `_DETECTORS`
lists them with a rank. Where spans overlap, the higher rank wins (a checksum-validated number beats a phone-shaped
one), then the longer span. Clinical content (drug names, doses, section numbers, prescription dates, lot
numbers, quantities) is deliberately not matched: numbers need a checksum, a phone prefix or a nearby keyword.
"""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    start: int  # offsets into the ORIGINAL text (not the normalised one)
    end: int  # exclusive
    kind: str  # one of KINDS


KINDS = ("phone", "my_number", "corporate_number", "insurance_number", "insurance_symbol_number",
         "postal_code", "address", "birth_date", "email", "card", "bank_account", "person_name")

_A = re.ASCII  # \d, \s, \b mean ASCII: the text is NFKC-normalised first; CJK classes are written as ranges
_KANJI = "\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff\U00020000-\U0003134f々〆ヶ"  # with CJK Extension B and later (𠮷)
_HIRA = "\u3041-\u3096"
_KATA = "\u30a1-\u30faー・"
_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63"), "-")


# --- normalisation -------------------------------------------------------------------------------------------

def normalise(text: str) -> tuple[str, list[int]]:
    """NFKC per character (a character and the voiced / semi-voiced marks after it as one: ﾀﾞ -> ダ, か\u3099 -> が),
    plus dashes folded to "-"; returns the text and, per normalised char, its origin (the first character of what it
    came from; `source_end` maps the end of a span)."""
    norm, origin = _normalise(text)
    return norm, list(range(len(norm))) if origin is None else origin


def source_end(origin: list[int], end: int, length: int) -> int:
    """Where a span of the normalised text ending at `end` (> 0) ends in the original text of `length` characters:
    after every character the last normalised one came from (both of ㍼ for 昭, ﾀ and ﾞ for ダ)."""
    after = bisect.bisect_right(origin, origin[end - 1], end - 1)
    return origin[after] if after < len(origin) else length


# Dashes NFKC keeps (the others in _DASHES are changed by NFKC itself).
_KEPT_DASHES = re.compile("[" + "".join(d for d in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63"
                                         if unicodedata.normalize("NFKC", d) == d) + "]")
_MARKS_AFTER = "\u3099\u309a\uff9e\uff9f"  # (semi-)voiced marks, combining and half-width: normalised with the character before
_VOICED = re.compile(f"[^{_MARKS_AFTER}][{_MARKS_AFTER}]+")
_DIGIT_BAR = re.compile(r"ー(?<=\dー)(?=\d)", _A)  # ー typed as a hyphen between digits (090ー1234ー5678)


@functools.cache
def _changing() -> re.Pattern[str]:
    """The characters that `normalise` may change: those of the BMP that NFKC changes on their own, the dashes it
    keeps, and any character outside the BMP (a class of BMP characters is a bitmap, one with ranges above it a
    list). Built from this Python's unicodedata once, on the first text that needs it (about 0.02 s): a block of
    code points that is NFKC-normalised as a whole holds no character NFKC changes on its own."""
    codes = [ord(d) for d in _KEPT_DASHES.pattern[1:-1]]
    for block in range(0, 0x10000, 256):
        if not unicodedata.is_normalized("NFKC", "".join(map(chr, range(block, block + 256)))):
            codes.extend(c for c in range(block, block + 256) if not unicodedata.is_normalized("NFKC", chr(c)))
    ranges: list[list[int]] = []
    for c in sorted(codes):
        if ranges and ranges[-1][1] == c - 1:
            ranges[-1][1] = c
        else:
            ranges.append([c, c])
    return re.compile("[" + "".join(f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges) + "\\U00010000-\\U0010ffff]")


@functools.cache
def _changing_voiced() -> re.Pattern[str]:
    """`_changing`, or a character with the voiced marks after it (for texts that hold a mark: the alternation is
    slower)."""
    return re.compile(f"{_VOICED.pattern}|{_changing().pattern}")


@functools.lru_cache(maxsize=4096)
def _nfkc_char(ch: str) -> str:  # or a character with the marks after it
    return unicodedata.normalize("NFKC", ch).translate(_DASHES)


def _normalise(text: str) -> tuple[str, list[int] | None]:
    """`normalise`, with origin None when every character maps to one (the offsets are the same)."""
    if text.isascii():
        return text, None
    voiced = False  # a mark changes nothing in NFKC-normalised text (ﾞ is not in it; ア + U+3099 stays)
    if unicodedata.is_normalized("NFKC", text) and not _KEPT_DASHES.search(text):
        norm, changed = text, []
    else:
        voiced = any(mark in text for mark in _MARKS_AFTER)
        changing = _changing_voiced() if voiced else _changing()
        changed = [(m.start(), m.end(), n) for m in changing.finditer(text) if (n := _nfkc_char(m.group())) != m.group()]
        parts, last = [], 0
        for i, j, n in changed:
            parts += (text[last:i], n)
            last = j
        parts.append(text[last:])
        norm = "".join(parts)
    if "ー" in norm:  # the same length, so the offsets still hold
        norm = _DIGIT_BAR.sub("-", norm)
    if len(norm) == len(text) and not voiced:  # NFKC never maps a character to nothing: each was mapped to one
        return norm, None
    origin: list[int] = []
    last = 0
    for i, j, n in changed:  # NFKC never maps a character to nothing
        origin += range(last, i)
        origin += [i] * len(n)
        last = j
    origin += range(last, len(text))
    return norm, origin


def _preceded(norm: str, start: int, keyword: re.Pattern[str]) -> bool:
    """True when `keyword` (compiled to end at \\Z) ends shortly before `start` with no digit in between."""
    return keyword.search(norm, max(0, start - 60), start) is not None


def _kw(alternatives: str, gap: int = 12, not_in_gap: str = "") -> re.Pattern[str]:
    """A keyword, then up to `gap` characters that are neither digits nor the words `not_in_gap`, then the end."""
    step = rf"(?!{not_in_gap})[^\d]" if not_in_gap else r"[^\d]"
    return re.compile(rf"(?:{alternatives})(?:{step}){{0,{gap}}}\Z", _A | re.IGNORECASE)


_NOT_DIGIT = re.compile(r"\D", _A)
_DIGIT_GROUP = re.compile(r"\d+", _A)


def _digits(s: str) -> str:
    return _NOT_DIGIT.sub("", s)


# Digit groups that are not part of a longer number ("1234-5678" inside "1234-5678-9012" is not taken).
_NOT_BEFORE = r"(?<!\d)(?<!\d[- ])"
_NOT_AFTER = r"(?!\d|[- ]\d)"


# --- checksums -----------------------------------------------------------------------------------------------

def my_number_valid(digits: str) -> bool:
    """マイナンバー: 12 digits, the last = 11 - (sum P_n*Q_n mod 11) (0 when the remainder <= 1)."""
    if len(digits) != 12 or not digits.isdigit():
        return False
    body = digits[:11]
    total = sum(int(body[11 - n]) * (n + 1 if n <= 6 else n - 5) for n in range(1, 12))
    r = total % 11
    return int(digits[11]) == (0 if r <= 1 else 11 - r)


def corporate_number_valid(digits: str) -> bool:
    """法人番号: 13 digits, the first = 9 - (sum of the 12 others weighted 1,2,1,... from the right) mod 9."""
    if len(digits) != 13 or not digits.isdigit():
        return False
    body = digits[1:]
    total = sum(int(d) * (1 if n % 2 else 2) for n, d in enumerate(reversed(body), start=1))
    return int(digits[0]) == 9 - total % 9


def insurer_number_valid(digits: str) -> bool:
    """保険者番号 (6 or 8 digits): the last digit checks the others, weights 2,1,2,... from the right, product
    digits summed, check = (10 - sum mod 10) mod 10."""
    if len(digits) not in (6, 8) or not digits.isdigit():
        return False
    total = 0
    for n, d in enumerate(reversed(digits[:-1])):
        p = int(d) * (2 if n % 2 == 0 else 1)
        total += p // 10 + p % 10
    return int(digits[-1]) == (10 - total % 10) % 10


def luhn_valid(digits: str) -> bool:
    total = 0
    for n, d in enumerate(reversed(digits)):
        v = int(d) * (2 if n % 2 else 1)
        total += v - 9 if v > 9 else v
    return total % 10 == 0


# --- where the detectors look ---------------------------------------------------------------------------------
# Each detector's regular expression can only match near something cheap to find (digits, an honorific, a label,
# a keyword), so it is run only there, with the same results as over the whole text: `pattern.search(norm, pos)`
# sees the text before `pos` (lookbehinds) and a match is taken only where the whole text would give it.

# A run of at least 6 digits joined by at most 2 of "- ()": every number detector needs one (phone numbers,
# マイナンバー, 法人番号, 保険者番号, cards, accounts and postal codes have 6 or more digits so joined), and its
# match lies within the run, from at most 3 characters before it ("+81", "(0", "T") to its end.
_DIGIT_RUN = re.compile(r"\d(?:[- ()]{0,2}\d){5,}", _A)


_NO_SEPARATORS = str.maketrans("", "", "- ()")
_MARKS = re.compile("生年月日|誕生日|生まれ|生|様|さま|さん|殿|先生|くん|ちゃん|と申します")
# The digits a number needs, at least (a run with fewer holds none).
_MIN_DIGITS = {"phone": 10, "my_number": 12, "corporate_number": 13, "card": 13, "insurance_number": 6,
               "postal_code": 7, "bank_account": 7}
_SIX_DIGITS = re.compile(r"\d{6}", _A)  # in every 保険者番号
_SEVEN_DIGITS = re.compile(r"\d{7}", _A)  # in every account number


# A hexadecimal id (a uuid, an OpenTelemetry trace or span id, a hash): 16 or more hex digits, or a uuid's 8-4-4-4-12,
# as a whole word. Its digits are not a number: a random one holds a run a detector would take about 1 time in 200
# (`753041738390` in 87487dcd753041738390b37124dd2ae6), and a phone, card or My Number glued to 16 hex characters is
# not how anyone writes one.
_HEX_ID = re.compile(r"(?<![0-9A-Za-z])(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,})"
                     r"(?![0-9A-Za-z])", _A | re.IGNORECASE)
_WORD_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-")
_NUMBER_KINDS = frozenset({"phone", "my_number", "corporate_number", "card", "insurance_number", "postal_code",
                           "bank_account"})


class _Text:
    """The normalised text, with the places the number detectors need found once."""

    def __init__(self, norm: str) -> None:
        self.norm = norm
        # (from, to, digits) of each run, the span widened by 3 characters either side
        self.runs = [(max(0, m.start() - 3), m.end() + 3, len(m.group().translate(_NO_SEPARATORS)))
                     for m in _DIGIT_RUN.finditer(norm)]
        self.digits = max([n for _, _, n in self.runs], default=0)  # of the longest run
        self._windows: dict[int, list[tuple[int, int]]] = {}

    @functools.cached_property
    def marks(self) -> tuple[list[int], list[int], list[int]]:
        """Where each birth keyword (生年月日 / 誕生日 / 生まれ), each 生 and each honorific begins, found in one pass (a keyword
        and 生 do not overlap an honorific, but for 先生年月日 and 先生まれ)."""
        keywords: list[int] = []
        sei: list[int] = []
        honorifics: list[int] = []
        for m in _MARKS.finditer(self.norm):
            i, word = m.start(), m.group()
            if word[0] == "生":
                sei.append(i)
                if len(word) > 1:
                    keywords.append(i)
            elif word == "誕生日":
                keywords.append(i)
            else:
                honorifics.append(i)
                if word == "先生" and self.norm.startswith(("生年月日", "生まれ"), i + 1):
                    keywords.append(i + 1)
        return keywords, sei, honorifics

    def numbers(self, pattern: re.Pattern[str], digits: int) -> Iterator[re.Match[str]]:
        """pattern.finditer(norm) for a number pattern, where only matches with at least `digits` digits count (a
        match lies within a run of digits, reading at most 3 characters either side of it)."""
        windows = self._windows.get(digits)
        if windows is None:
            windows = self._windows[digits] = _merged([(lo, hi) for lo, hi, n in self.runs if n >= digits])
        for lo, hi in windows:
            yield from pattern.finditer(self.norm, lo, hi)

    def in_hex_id(self, start: int, end: int) -> bool:
        """Whether norm[start:end] lies in a hexadecimal id with a letter in it (_HEX_ID)."""
        norm = self.norm
        lo, hi = start, end
        while lo > 0 and norm[lo - 1] in _WORD_CHARS:
            lo -= 1
        while hi < len(norm) and norm[hi] in _WORD_CHARS:
            hi += 1
        return any(m.start() <= start and end <= m.end() and not m.group().replace("-", "").isdigit()
                   for m in _HEX_ID.finditer(norm, lo, hi))


def _merged(windows: list[tuple[int, int]]) -> list[tuple[int, int]]:
    if len(windows) < 2:
        return windows
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(windows):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(hi, out[-1][1]))
        else:
            out.append((lo, hi))
    return out


def _starting_at(pattern: re.Pattern[str], start: re.Pattern[str], norm: str) -> Iterator[re.Match[str]]:
    """pattern.finditer(norm) for a pattern whose matches begin where `start` matches (tried at every position)."""
    pos = 0
    a = start.search(norm)
    while a is not None:
        m = pattern.match(norm, a.start())
        if m is not None:
            yield m
            pos = m.end()
        a = start.search(norm, max(pos, a.start() + 1))


# --- detectors (each over the normalised text, yielding (start, end)) ------------------------------------------

_PHONE_RE = re.compile(r"(?<![\d+.])(?<!\d-)(?:\+\s?81|\(0|0)(?:[- ()]{0,2}\d){1,16}", _A)


def _phone_ok(digits: str, international: bool) -> bool:
    if international:
        digits = "0" + digits[2:].removeprefix("0")
    if len(digits) == 11:
        return digits[:3] in ("090", "080", "070", "050") or digits.startswith("0800")
    return len(digits) == 10 and digits[1] != "0"


# 090.1234.5678: three groups joined by dots, nothing dotted on either side (not 1.2.3, 010.123.45.67).
_DOTTED_PHONE = re.compile(r"0(?<![\d.+]0)\d{1,4}\.\d{1,4}\.\d{3,4}(?!\.?\d)", _A)


def _phone(t: _Text) -> Iterator[tuple[int, int]]:
    """Japanese numbers: fixed (03-1234-5678, 03(1234)5678), toll-free/navi 0120/0570/0800, IP 050, mobile
    090/080/070, and +81 forms; hyphens, spaces or parentheses, or none. Not: numbers not starting with 0 or +81,
    or 3 groups joined by dots (090.1234.5678). Not: numbers not starting with 0 or +81, other dotted numbers (1.2.3,
    versions, dates), digit counts other than 10 (11 for mobile/IP/0800), the word 電話."""
    if "." in t.norm:
        for m in _DOTTED_PHONE.finditer(t.norm):
            if _phone_ok(_digits(m.group()), False):
                yield m.span()
    for m in t.numbers(_PHONE_RE, _MIN_DIGITS["phone"]):
        cand = m.group()
        international = cand.startswith("+")
        groups = list(_DIGIT_GROUP.finditer(cand))
        for k in range(min(len(groups), 5), 0, -1):  # the longest prefix of at most 5 digit groups that is valid
            if _phone_ok("".join([g.group() for g in groups[:k]]), international):
                end = groups[k - 1].end()
                start = m.start()
                if cand.startswith("(") and ")" not in cand[:end]:
                    start += 1
                yield start, m.start() + end
                break


_MY_NUMBER_RE = re.compile(_NOT_BEFORE + r"\d{4}([- ]?)\d{4}\1\d{4}" + _NOT_AFTER, _A)
_MY_NUMBER_KW = _kw(r"マイナンバー|個人番号|my\s*number", gap=8)
_DATED_SERIAL = re.compile(r"(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{4}", _A)


def _my_number(t: _Text) -> Iterator[tuple[int, int]]:
    """12 digits (or 4-4-4 with hyphens/spaces) with a valid マイナンバー check digit. Not: invalid check digits,
    12 contiguous digits beginning with a date (処方番号 202404010001) unless マイナンバー / 個人番号 precedes."""
    for m in t.numbers(_MY_NUMBER_RE, _MIN_DIGITS["my_number"]):
        if not my_number_valid(_digits(m.group())):
            continue
        if _DATED_SERIAL.fullmatch(m.group()) and not _preceded(t.norm, m.start(), _MY_NUMBER_KW):
            continue
        yield m.span()


_CORPORATE_RE = re.compile(r"(?<![\dA-Za-z])(?<!\d[- ])T?(?:\d{13}|\d([- ])\d{4}\1\d{4}\1\d{4})" + _NOT_AFTER, _A)


def _corporate_number(t: _Text) -> Iterator[tuple[int, int]]:
    """13 digits (or 1-4-4-4 with hyphens/spaces; optionally the invoice "T" prefix) with a valid 法人番号 check
    digit. Not: invalid check digits, JAN codes (13 digits starting 45/49 rarely pass; those that do are taken)."""
    for m in t.numbers(_CORPORATE_RE, _MIN_DIGITS["corporate_number"]):
        if corporate_number_valid(_digits(m.group())):
            yield m.span()


_INSURER_RE = re.compile(_NOT_BEFORE + r"(\d{8}|\d{6})" + _NOT_AFTER, _A)
_INSURER_KW = _kw(r"保険者番号|保険者No\.?|insurer\s*(?:number|no\.?)", gap=6)
# 法別番号 (first two digits) of health-insurance insurers, for 8-digit numbers seen without a keyword.
_LAW_CODES = frozenset({"01", "02", "03", "04", "06", "07", "31", "32", "33", "34", "39", "63", "72", "73", "74",
                        "75"})


def _insurance_number(t: _Text) -> Iterator[tuple[int, int]]:
    """保険者番号: 8 (or 国保's 6) digits with a valid check digit right after 保険者番号; alone, only 8 digits with
    a valid check digit, a known 法別番号 and a prefecture code 01-47. Not: dates like 20240401, lot numbers."""
    for m in t.numbers(_INSURER_RE, _MIN_DIGITS["insurance_number"]):
        d = m.group()
        if not insurer_number_valid(d):
            continue
        alone = len(d) == 8 and d[:2] in _LAW_CODES and 1 <= int(d[2:4]) <= 47
        if alone or _preceded(t.norm, m.start(), _INSURER_KW):
            yield m.span()


_SYMBOL_VALUE = r"([0-9A-Za-z][0-9A-Za-z\-]{0,11})"
_SYMBOL_KANA = rf"([0-9A-Za-z{_HIRA}\u30a1-\u30fa][0-9A-Za-z{_HIRA}\u30a1-\u30faー\-]{{0,11}})"  # 記号 may be kana: あいう
_SYMBOL_RE = re.compile(
    r"(?:被保険者証)?(?:記号)\s*[:]?\s*" + _SYMBOL_KANA + r"(?:\s*[,、]?\s*番号\s*[:]?\s*" + _SYMBOL_VALUE + r")?"
    + r"|(?:被保険者証|被保険者)の?番号\s*[:]?\s*" + _SYMBOL_VALUE
    + rf"|記号[・･]?番号\s*(?:[:]|が|は)?\s*([0-9A-Za-z{_KANJI}\-]{{1,12}}\s*[・･/ ]\s*[0-9A-Za-z\-]{{1,12}})", _A)


_SYMBOL_START = re.compile("被保険者|記号")  # where every branch of _SYMBOL_RE begins


def _insurance_symbol_number(t: _Text) -> Iterator[tuple[int, int]]:
    """被保険者証の記号・番号: the values after 記号 / 番号 (記号 1234 番号 56, 記号・番号 1234・56, 被保険者番号 12).
    Each value is its own span (labels stay). A value must hold a digit, or be a 記号 followed by a 番号 with one.
    Not: 番号 alone, 記号は○で示す, 第3条, lot numbers."""
    for m in _starting_at(_SYMBOL_RE, _SYMBOL_START, t.norm):
        paired = m.group(2) is not None and _DIGIT_GROUP.search(m.group(2)) is not None
        for g in range(1, 5):
            value = m.group(g)
            if value and (_DIGIT_GROUP.search(value) or (g == 1 and paired)):
                yield m.span(g)


_POSTAL_RE = re.compile(r"〒\s*(\d{3}-?\d{4})(?!\d)|(?<![\d-])(\d{3}-\d{4})(?![\d-])", _A)
_POSTAL_KW = _kw(r"郵便番号|postal\s*code|zip(?:\s*code)?", gap=4)


def _postal_code(t: _Text) -> Iterator[tuple[int, int]]:
    """Postal codes after 〒 (123-4567 or 1234567), or 123-4567 after 郵便番号 / postal code. Span: the digits.
    Not: 123-4567 without the mark or a keyword (lot numbers, part numbers)."""
    for m in _POSTAL_RE.finditer(t.norm) if "〒" in t.norm else t.numbers(_POSTAL_RE, _MIN_DIGITS["postal_code"]):
        if m.group(1):
            yield m.span(1)
        elif _preceded(t.norm, m.start(2), _POSTAL_KW):
            yield m.span(2)


_PREFECTURES = ("北海道|青森県|岩手県|宮城県|秋田県|山形県|福島県|茨城県|栃木県|群馬県|埼玉県|千葉県|東京都|神奈川県|新潟県"
                "|富山県|石川県|福井県|山梨県|長野県|岐阜県|静岡県|愛知県|三重県|滋賀県|京都府|大阪府|兵庫県|奈良県"
                "|和歌山県|鳥取県|島根県|岡山県|広島県|山口県|徳島県|香川県|愛媛県|高知県|福岡県|佐賀県|長崎県|熊本県"
                "|大分県|宮崎県|鹿児島県|沖縄県")
_PLACE = f"[{_KANJI}{_HIRA}{_KATA}]"
_KANJI_NUM = "[一二三四五六七八九十]"
_BLOCK = (r"(?:\d{1,4}|" + _KANJI_NUM + r"{1,3})丁目(?:\s*\d{1,4}\s*(?:番地?|-)\s*(?:\d{1,4}\s*号?)?)?"
          r"|\d{1,4}\s*番地?\s*(?:\d{1,4}\s*号?)?"
          r"|\d{1,4}(?:-\d{1,4}){1,3}")
_MUNICIPALITY = rf"(?:{_PLACE}{{1,8}}?(?:市|区|町|村|郡)){{1,3}}"
_AFTER_MUNICIPALITY = rf"\s*(?:{_PLACE}|\d{{1,3}}条){{0,10}}?\s*(?:{_BLOCK})"
_ADDRESS_RE = re.compile(rf"(?:{_PREFECTURES})\s*{_MUNICIPALITY}{_AFTER_MUNICIPALITY}"
                         rf"|(?:住所|所在地|お住まい)\s*(?:[:]|は)?\s*({_MUNICIPALITY}{_AFTER_MUNICIPALITY})", _A)
_ADDRESS_START = re.compile(f"{_PREFECTURES}|住所|所在地|お住まい")
_PREFECTURE_OR_LABEL = re.compile("[都道府県住所]")  # one of them is in each _ADDRESS_START


def _address(t: _Text) -> Iterator[tuple[int, int]]:
    """Prefecture + municipality (市/区/町/村/郡) + block (1-2-3, 1丁目2番3号, 三丁目, 〇〇町1-2, 北1条西2丁目), one span;
    after 住所 / 所在地 the prefecture may be missing (住所は新宿区西新宿2-8-1).
    Not: addresses without a block number (a city name alone is not redacted), or without a prefecture or label."""
    norm = t.norm
    for m in _starting_at(_ADDRESS_RE, _ADDRESS_START, norm):
        yield m.span(1) if m.group(1) else m.span()


_MONTHS = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
_DATE_RE = re.compile(
    r"(?<!\d)(?:(?:19|20)\d{2}\s*(?:[/\-.]\s*\d{1,2}\s*[/\-.]\s*\d{1,2}|年\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?)"
    r"|(?:明治|大正|昭和|平成|令和)\s*(?:\d{1,2}|元)\s*年(?:\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?)?"
    r"|(?<![A-Za-z])[MTSHR]\s?\d{1,2}[.\-/]\d{1,2}[.\-/]\d{1,2}"
    r"|\d{1,2}[/.\-]\d{1,2}[/.\-](?:19|20)\d{2}"
    rf"|{_MONTHS}\s+\d{{1,2}},?\s+(?:19|20)\d{{2}}|\d{{1,2}}\s+{_MONTHS}\s+(?:19|20)\d{{2}})(?!\d)",
    _A | re.IGNORECASE)
# A question and its answer may sit between the keyword and the date (生年月日をお願いします。—患者: 1980.11.23),
# but not another date's label (生年月日の記載なし。処方日 2024/4/1).
_BIRTH_KW = _kw(r"生年月日|誕生日|生まれ|\bDOB\b|\bD\.O\.B\.?|date\s+of\s+birth|birth\s*date|\bborn(?:\s+on)?\b", gap=24,
                not_in_gap=r"処方|調剤|受付|来局|発行|期限|次回|前回|投与|服用|開始|交付|日付|今日|本日|date|issued")
_BIRTH_AFTER = re.compile(r"\s*[(]?\s*(?:生まれ|生(?![産薬成活存命理]))", _A)  # not 2024年4月1日生産
# Where a birth date can be: within 60 characters after the start of a keyword of _BIRTH_KW (the reach of
# _preceded), each of which is 生年月日 / 誕生日 / 生まれ (found with the honorifics, _Text.marks) or holds one of _BIRTH_EN; or right before 生 (_BIRTH_AFTER).
_BIRTH_EN = re.compile(r"[Dd]\.?[Oo]\.?[Bb]|[Bb][Ii][Rr][Tt][Hh]|[Bb][Oo][Rr][Nn]", _A)
# A character no date holds (nor "(" of _BIRTH_AFTER): no match of _DATE_RE runs across one.
_DATE_CHARS = r"0-9A-Za-z\s/\-.,(年月日明治大正昭和平成令元"
_NOT_DATE = re.compile(rf"[^{_DATE_CHARS}]", _A)
_LAST_NOT_DATE = re.compile(rf"(?s:.*)[^{_DATE_CHARS}]", _A)


def _date_windows(t: _Text) -> list[tuple[int, int]]:
    """Stretches of the text, each beginning and ending at a character no date holds, that hold every date
    `_birth_date` can take."""
    norm = t.norm
    keywords, sei, _ = t.marks
    if "b" in norm or "B" in norm:
        keywords += [m.start() for m in _BIRTH_EN.finditer(norm)]
    windows = []
    for k in keywords:
        after = _NOT_DATE.search(norm, k + 70)
        windows.append((_date_start(norm, k), after.start() if after else len(norm)))
    for a in sei:
        if (lo := _date_start(norm, a)) < a:
            windows.append((lo, a))
    return _merged(windows)


def _date_start(norm: str, end: int) -> int:
    """Where the stretch of characters a date may hold that ends at `end` begins."""
    before = _LAST_NOT_DATE.match(norm, 0, end)
    return before.end() if before else 0


def _birth_date(t: _Text) -> Iterator[tuple[int, int]]:
    """Dates (1985/3/2, 1985年3月2日, 昭和60年3月2日, 平成5年, S60.3.2, March 2, 1985) right after 生年月日 / 誕生日 /
    生まれ / DOB / date of birth (no other number in between), or right before 生まれ / 生.
    Not: any other date (2024年4月1日に処方 is a prescription date)."""
    norm = t.norm
    for lo, hi in _date_windows(t):
        for m in _DATE_RE.finditer(norm, lo, hi):
            if _preceded(norm, m.start(), _BIRTH_KW) or _BIRTH_AFTER.match(norm, m.end()):
                yield m.span()


_EMAIL_RE = re.compile(r"(?<![\w.+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]*@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}",
                       _A)


def _email(t: _Text) -> Iterator[tuple[int, int]]:
    """Email addresses (full-width ＠ and letters fold to ASCII under NFKC). Not: @mentions without a domain."""
    for m in _EMAIL_RE.finditer(t.norm):
        yield m.span()


_CARD_RE = re.compile(_NOT_BEFORE + r"(?:\d{4}([- ])\d{4}\1\d{4}\1\d{1,7}|\d{4}([- ])\d{6}\2\d{4,5}|[2-6]\d{14,15})"
                      + _NOT_AFTER, _A)


def _card(t: _Text) -> Iterator[tuple[int, int]]:
    """Payment cards: 13-19 digits in groups (4-4-4-4, 4-4-4-1..7, Amex 4-6-5) or 15/16 contiguous digits starting
    2-6, with a valid Luhn digit. Not: invalid Luhn, contiguous 13/14-digit codes (法人番号, JAN, GS1 GTIN-14)."""
    for m in t.numbers(_CARD_RE, _MIN_DIGITS["card"]):
        d = _digits(m.group())
        if 13 <= len(d) <= 19 and luhn_valid(d):
            yield m.span()


_ACCOUNT_RE = re.compile(_NOT_BEFORE + r"\d{7}" + _NOT_AFTER, _A)
_ACCOUNT_KW = _kw(r"口座番号|口座|普通預金|当座預金|普通|当座|支店|account\s*(?:number|no\.?)", gap=8)
_BRANCH_RE = re.compile(r"(?:支店番号|店番号|店番|支店コード|支店)\s*[:(]?\s*(\d{3})(?!\d)", _A)


def _bank_account(t: _Text) -> Iterator[tuple[int, int]]:
    """7-digit account numbers shortly after 口座 / 口座番号 / 普通 / 当座 / 支店, and 3-digit branch numbers right
    after 支店 / 支店番号 / 店番. Not: 7-digit numbers elsewhere (lot numbers), doses."""
    for m in t.numbers(_ACCOUNT_RE, _MIN_DIGITS["bank_account"]):
        if _preceded(t.norm, m.start(), _ACCOUNT_KW):
            yield m.span()
    if "店" in t.norm:  # every keyword of _BRANCH_RE holds it
        for m in _BRANCH_RE.finditer(t.norm):
            yield m.span(1)


_HIRA_GIVEN = rf"(?![のはがをにへとでもや])[{_HIRA}]{{2,4}}"  # 長谷川さくら様; not 患者のみなさん
_HONORIFIC_RE = re.compile(
    rf"([{_KANJI}]{{2,6}}|[{_KANJI}]{{1,4}} ?(?:[{_KANJI}]{{1,4}}|{_HIRA_GIVEN}|[{_KATA}]{{2,8}})"
    rf"|[{_KATA}]{{2,12}}(?: [{_KATA}]{{1,12}})?) ?"
    r"(様(?![子式々相態])|さま|さん|殿(?!堂)|先生|くん|ちゃん|と申します)", _A)
# Words that take an honorific but are not names (お客様, 患者さん, 薬剤師さん; 同様 and 仕様 are not honorifics).
_GENERIC = frozenset({"患者", "薬剤師", "看護師", "医師", "医者", "先生", "息子", "娘", "奥", "旦那", "家族", "ご家族", "店員", "業者", "担当",
    "担当者", "利用者", "客", "皆", "母", "父", "兄", "姉", "弟", "妹", "祖父", "祖母", "孫", "主人", "親御", "子供", "子", "神", "王", "殿",
    "貴", "人", "社長", "部長", "課長", "院長", "局長", "理事長", "会長", "先方", "相手", "本人", "ご本人", "依頼者", "皆々", "各位", "方", "ユーザー",
    "オーナー", "ゲスト", "メンバー", "ドクター", "ナース", "スタッフ", "ママ", "パパ",
    "ヘルパー", "ケアマネ", "ケアマネージャー", "ドライバー"})
_LEADING_WORDS = ("本日", "今日", "昨日", "明日", "担当", "患者", "主治医", "薬剤師", "看護師", "医師", "先日", "次回")
_NON_NAME_SUFFIX = ("師", "者", "員", "医", "士", "様", "長", "方")
_SAMA_WORDS = frozenset("同仕模多異両左有各態文神王奥客殿貴皆人")  # 同様, 仕様, 模様, 多様, ... 奥様, 皆様
_KANJI_HEAD = re.compile(rf"[{_KANJI}]+ ?(?=[{_KATA}])")  # 蒼井 of 蒼井ミドリ; 新人 of 新人ヘルパー
# Common one-kanji surnames, taken alone right before さん / さま / 様 / ちゃん (東さん, 堀ちゃん) where no kanji,
# katakana or お / ご comes before (関東さん is two kanji; お東さん and お西さん are temples). Not in the list: words
# that take an honorific (奥様, 母さん, 神様, お宮さん).
_ONE_KANJI_SURNAMES = "東西南北林森原堀関辻岡谷菅泉沢星島畑浜滝坂楠萩桂"
_ONE_KANJI_RE = re.compile(rf"(?<![{_KANJI}{_KATA}おご])[{_ONE_KANJI_SURNAMES}](?=さん|さま|様(?![子式々相態])|ちゃん)")




def _before_honorifics(norm: str, honorifics: list[int]) -> Iterator[re.Match[str]]:
    """_HONORIFIC_RE.finditer(norm): a match begins 2 to 26 characters before an honorific (a name of at most 25
    characters, a space; at most 10 unless the name ends in katakana) and reads at most 33 characters from its
    start."""
    pos = done = 0  # pos: where the last match ended; done: every start below it is tried
    for h in honorifics:
        before = norm[max(0, h - 2):h].rstrip(" ")[-1:]  # the last character of the name (a space may follow)
        back = 26 if before and ("\u30a1" <= before <= "\u30fa" or before in "ー・") else 10  # katakana: up to 25
        lo, hi = max(pos, done, h - back), h - 2
        while lo <= hi:
            m = _HONORIFIC_RE.search(norm, lo, hi + 34)
            if m is None or m.start() > hi:
                break
            yield m
            pos = lo = m.end()
        done = max(done, hi + 1)


def _honorific_name(t: _Text) -> Iterator[tuple[int, int]]:
    """A kanji or katakana name (or kanji + a hiragana or katakana given name: 蒼井ミドリ) followed by 様 / さん / 殿 /
    先生 / くん / ちゃん, or by と申します (the honorific is not in the span); a common one-kanji surname alone before
    さん / さま / 様 / ちゃん (東さん).
    Not: お客様, 皆様, 患者さん, 薬剤師さん, 先生 alone, 同様 / 仕様 / 様子, hiragana words (おばあちゃん)."""
    norm = t.norm
    for m in _before_honorifics(norm, t.marks[2]):
        start, name = m.start(1), m.group(1)
        if name.startswith(_LEADING_WORDS):
            for word in _LEADING_WORDS:  # 本日田中様 -> 田中
                if name.startswith(word) and len(name) > len(word) + 1:
                    start, name = start + len(word), name[len(word):]
                    break
        name = name.strip()
        if m.group(2) == "様" and (name[-1] in _SAMA_WORDS or (name[-1] == "一" and norm[m.end():m.end() + 1] in ("に", "な"))):
            continue  # 同様, 皆様; 一様に / 一様な (but 健一様 is a name)
        head = _KANJI_HEAD.match(name)  # a kanji surname + a katakana given name: the katakana part is no role
        if (name in _GENERIC or (head and name[head.end():] in _GENERIC) or name[-1] in _NON_NAME_SUFFIX
                or name.endswith(("ユーザー", "スタッフ"))):
            continue
        if len(name.replace(" ", "")) < 2:
            continue
        yield start, start + len(name)
    for h in t.marks[2]:
        if h > 0 and _ONE_KANJI_RE.match(norm, h - 1):
            yield h - 1, h


_JA_NAME = (rf"[{_KANJI}]{{1,5}}(?: ?(?:[{_KANJI}]{{1,5}}|{_HIRA_GIVEN}|(?!フリガナ)[{_KATA}]{{2,8}}))?"  # 蒼井ミドリ
            rf"|[{_KATA}]{{2,10}}(?: [{_KATA}]{{1,10}})?"
            rf"|[{_HIRA}]{{2,8}}(?: [{_HIRA}]{{1,8}})?")
_LABEL_RE = re.compile(rf"(?:患者の?(?:氏名|名前|名)|氏名|お名前|(?<![の{_KANJI}])名前|フリガナ|ふりがな|受診者名|口座名義|名義人?)"
                       rf"\s*(?:[:=]|は)?\s*({_JA_NAME})", _A)
_LABEL_START = re.compile("患者|氏名|お名前|名前|フリガナ|ふりがな|受診者名|口座名義|名義")
_TRAILING = ("です", "でした", "さん", "さま", "様", "と", "の", "は", "が", "を", "に")
# Where a following label or honorific begins, the name has ended (氏名 山田太郎 住所 ... -> 山田太郎).
_NAME_STOP = re.compile(r" ?(?:住所|生年月日|電話|年齢|性別|保険|様|殿|先生|さん|さま|くん|ちゃん)")


def _trim_name(name: str) -> str:
    stop = _NAME_STOP.search(name, 1)
    if stop:
        name = name[:stop.start()]
    for t in _TRAILING:
        if name.endswith(t) and len(name) > len(t) + 1:
            name = name[: -len(t)]
            break
    return name.rstrip()


def _labelled_name(norm: str) -> Iterator[tuple[int, int]]:
    """A Japanese name after 患者名 / 氏名 / お名前 / 名前: / フリガナ / 名義. Not: 薬の名前 (a drug follows)."""
    if "名" not in norm and "フリガナ" not in norm and "ふりがな" not in norm:
        return
    for m in _starting_at(_LABEL_RE, _LABEL_START, norm):
        start, name = m.start(1), _trim_name(m.group(1))
        if len(name.replace(" ", "")) >= 2 and name[0] not in "欄等" and name not in _GENERIC:
            yield start, start + len(name)


_EN_NAME = r"[A-Z][a-zA-Z'\-]+(?: [A-Z][a-zA-Z'\-]+){0,3}"
_EN_RE = re.compile(rf"\b(?:Mr|Mrs|Ms|Miss|Dr|Prof)\.? ({_EN_NAME})"
                    rf"|(?i:patient(?:'s)? name|full name|name of patient)\s*:\s*({_EN_NAME})", _A)


_NAME_WORD = re.compile("[Nn][Aa][Mm][Ee]")
_EN_START = re.compile("M[rs]|Miss|Dr|Prof|(?i:patient|full|name)", _A)  # where every branch of _EN_RE begins


_ROMAJI_HONORIFIC = re.compile(r"[A-Z](?<![A-Za-z][A-Z])[a-z]+(?: [A-Z][a-z]+)?(?=-(?:san|sama|sensei|kun|chan)\b)", _A)


def _english_name(norm: str) -> Iterator[tuple[int, int]]:
    """An English name after Mr./Mrs./Ms./Dr./Prof. or "Patient name:", or a romaji name before -san / -sama /
    -sensei / -kun / -chan (Ogawa-san). Not: capitalised words without a title."""
    if "-" in norm:
        for m in _ROMAJI_HONORIFIC.finditer(norm):
            yield m.span()
    if not ("M" in norm or "Dr" in norm or "Prof" in norm or (("e" in norm or "E" in norm) and _NAME_WORD.search(norm))):
        return
    for m in _starting_at(_EN_RE, _EN_START, norm):
        yield m.span(1) if m.group(1) else m.span(2)


def _person_name(t: _Text) -> Iterator[tuple[int, int]]:
    norm = t.norm
    yield from _honorific_name(t)
    yield from _labelled_name(norm)
    yield from _english_name(norm)


def _digits_at_least(n: int) -> Callable[[_Text], bool]:
    return lambda t: t.digits >= n


# kind -> (detector, rank, where it may find something: False only where it finds nothing). On overlap the higher
# rank wins, then the longer span.
_DETECTORS: dict[str, tuple[Callable[[_Text], Iterator[tuple[int, int]]], int, Callable[[_Text], bool]]] = {
    "my_number": (_my_number, 3, _digits_at_least(_MIN_DIGITS["my_number"])),
    "corporate_number": (_corporate_number, 3, _digits_at_least(_MIN_DIGITS["corporate_number"])),
    "card": (_card, 3, _digits_at_least(_MIN_DIGITS["card"])),
    "email": (_email, 3, lambda t: "@" in t.norm),
    "address": (_address, 3, lambda t: _PREFECTURE_OR_LABEL.search(t.norm) is not None),
    "insurance_number": (_insurance_number, 2, lambda t: t.digits >= 6 and _SIX_DIGITS.search(t.norm) is not None),
    "insurance_symbol_number": (_insurance_symbol_number, 2, lambda t: "記号" in t.norm or "被保険者" in t.norm),
    "postal_code": (_postal_code, 2, _digits_at_least(_MIN_DIGITS["postal_code"])),
    "birth_date": (_birth_date, 2, lambda t: "生" in t.norm or "b" in t.norm or "B" in t.norm),
    "bank_account": (_bank_account, 2, lambda t: (t.digits >= 7 and _SEVEN_DIGITS.search(t.norm) is not None)
                     or "店" in t.norm),
    "phone": (_phone, 2, lambda t: t.digits >= _MIN_DIGITS["phone"] or ("." in t.norm and _DOTTED_PHONE.search(t.norm) is not None)),
    "person_name": (_person_name, 1, lambda t: True),
}
_KIND_SET = frozenset(KINDS)
assert set(_DETECTORS) == _KIND_SET
# Without a run of 6 digits, every detector needs one of these characters (in a keyword, label, honorific or a
# dotted phone number), but for a romaji name before -san.
_ANY = re.compile("[@様さ殿先くち申名フふ生BbMmDP記被店都道府県住所〒.]")


def find(text: str, kinds: Iterable[str] | None = None) -> list[Span]:
    """Every detected span, sorted by start, non-overlapping (a longer / more specific span wins)."""
    if kinds is None:
        wanted = KINDS
    else:
        wanted = tuple(kinds)
        unknown = set(wanted) - _KIND_SET
        if unknown:
            raise ValueError(f"unknown redaction kinds: {sorted(unknown)}")
    if text.isascii() and _HEX_ID.fullmatch(text) and not text.replace("-", "").isdigit():
        return []  # a whole hexadecimal id: no number detector counts its digits, every other one needs a letter past f
    norm, origin = _normalise(text)
    t = _Text(norm)
    if not t.runs and not _ANY.search(norm) and not ("-" in norm and _ROMAJI_HONORIFIC.search(norm)):
        return []
    candidates = []
    for kind in wanted:
        detector, rank, may = _DETECTORS[kind]
        if not may(t):
            continue
        for s, e in detector(t):
            if e > s and not (kind in _NUMBER_KINDS and t.in_hex_id(s, e)):
                if origin is not None:
                    s, e = origin[s], source_end(origin, e, len(text))
                candidates.append((rank, e - s, s, e, kind))
    if len(candidates) < 2:
        return [Span(c[2], c[3], c[4]) for c in candidates]
    candidates.sort(key=lambda c: (-c[0], -c[1], c[2]))
    starts: list[int] = []  # of the spans taken so far, sorted; they never overlap, so their ends are sorted too
    taken: list[Span] = []
    for _, _, start, end, kind in candidates:
        i = bisect.bisect_right(starts, start)
        if (i > 0 and taken[i - 1].end > start) or (i < len(taken) and taken[i].start < end):
            continue
        starts.insert(i, start)
        taken.insert(i, Span(start, end, kind))
    return taken
