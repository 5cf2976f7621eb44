"""A workspace's redaction policy and how it rewrites text (issue 13); the detectors are domain/redaction.py.

A policy turns each detector on or off and gives it an operator: a typed placeholder ("[電話番号]"), a mask
(letters and digits become "*", the shape stays), a keyed hash (the same value always gives the same
"[電話番号:1f2e3d4c5b]", so logs can still be grouped by it) or drop. Beside the built-in detectors: the
workspace's term list (names kept only as keyed hashes, matched on the normalised text) and custom regular
expressions (checked when saved and run with a time limit; a pattern that runs out of time redacts the whole
string rather than let it through).

`Redactor.text` / `.value` apply a policy; `.take()` hands over the counts per kind since the last call.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from promptyard.domain import redaction
from promptyard.domain.redaction import Span
from promptyard.errors import InvalidInput

OPERATORS = ("placeholder", "mask", "hash", "drop")
TERM = "term"  # the kind of a term-list match
CUSTOM = "custom:"  # custom patterns count as "custom:<name>"
PLACEHOLDERS = {
    "phone": "[電話番号]", "my_number": "[マイナンバー]", "corporate_number": "[法人番号]",
    "insurance_number": "[保険者番号]", "insurance_symbol_number": "[被保険者記号・番号]", "postal_code": "[郵便番号]",
    "address": "[住所]", "birth_date": "[生年月日]", "email": "[メールアドレス]", "card": "[カード番号]",
    "bank_account": "[口座番号]", "person_name": "[氏名]", TERM: "[氏名]",
}
RULE_KINDS = (*redaction.KINDS, TERM)
MAX_CUSTOM = 20
MAX_PATTERN_CHARS = 500
MAX_PLACEHOLDER_CHARS = 40
MIN_TERM_CHARS, MAX_TERM_CHARS = 2, 100
CUSTOM_NAME = re.compile(r"^[a-z0-9_]{1,40}$")
CUSTOM_TIMEOUT_S = 0.05  # per string, at ingest
_CHECK_TIMEOUT_S = 0.05  # per probe, when a pattern is saved
# Texts on which a slow (backtracking) pattern shows itself when it is saved.
_PROBES = ("a" * 3000 + "!", "1" * 3000 + "x", "あ" * 3000 + "。", ("a1 " * 1000) + "\n", "-" * 3000)
_NUMERIC = frozenset({"phone", "my_number", "corporate_number", "insurance_number", "postal_code", "card",
                      "bank_account"})


class PolicyError(InvalidInput, ValueError):
    """A policy that cannot be saved; the message says which field and why."""


@dataclass(frozen=True)
class Rule:
    on: bool = True
    operator: str = "placeholder"
    placeholder: str = ""  # empty = the kind's default placeholder

    def to_json(self) -> dict[str, Any]:
        return {"on": self.on, "operator": self.operator, "placeholder": self.placeholder}


@dataclass(frozen=True)
class Custom:
    name: str
    pattern: str
    rule: Rule

    @property
    def kind(self) -> str:
        return CUSTOM + self.name

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "pattern": self.pattern, **self.rule.to_json()}


@dataclass(frozen=True)
class Policy:
    enabled: bool = True
    rules: Mapping[str, Rule] = field(default_factory=lambda: {k: Rule() for k in RULE_KINDS})
    custom: tuple[Custom, ...] = ()

    @property
    def detector_kinds(self) -> tuple[str, ...]:
        """The built-in detectors that are on."""
        return tuple(k for k in redaction.KINDS if self.rules[k].on)

    def rule(self, kind: str) -> Rule:
        if kind.startswith(CUSTOM):
            return next(c.rule for c in self.custom if c.kind == kind)
        return self.rules[kind]

    def placeholder(self, kind: str) -> str:
        rule = self.rule(kind)
        return rule.placeholder or PLACEHOLDERS.get(kind) or f"[{kind.removeprefix(CUSTOM)}]"

    def needs_key(self) -> bool:
        return any(r.on and r.operator == "hash" for r in (*self.rules.values(), *(c.rule for c in self.custom)))

    def to_json(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "detectors": {k: r.to_json() for k, r in self.rules.items()},
                "custom": [c.to_json() for c in self.custom]}


def _rule(data: Any, where: str, base: Rule) -> Rule:
    if data is None:
        return base
    if not isinstance(data, dict):
        raise PolicyError("errors.privacy.object_operator_placeholder", where=where)
    unknown = set(data) - {"on", "operator", "placeholder", "name", "pattern"}
    if unknown:
        raise PolicyError("errors.privacy.unknown_field", where=where, unknown=sorted(unknown)[0])
    on, operator = data.get("on", base.on), data.get("operator", base.operator)
    placeholder = data.get("placeholder", base.placeholder)
    if not isinstance(on, bool):
        raise PolicyError("errors.privacy.true_false", where=where)
    if operator not in OPERATORS:
        raise PolicyError("errors.privacy.where_operator_operators", where=where, operators=', '.join(OPERATORS))
    if placeholder is None:
        placeholder = ""
    if not isinstance(placeholder, str) or len(placeholder) > MAX_PLACEHOLDER_CHARS or \
            any(not ch.isprintable() for ch in placeholder):
        raise PolicyError("errors.privacy.placeholder_printable_text_most", where=where,
                          max_placeholder_chars=MAX_PLACEHOLDER_CHARS)
    if placeholder and redaction.find(placeholder):
        raise PolicyError("errors.privacy.placeholder_itself_look_like", where=where)
    return Rule(on, operator, placeholder)


def parse(data: Any, base: Policy | None = None) -> Policy:
    """A policy from its JSON form (None: the default policy, every detector on, typed placeholders).
    Fields left out (or null) keep `base`'s values (or the defaults), so a change may name only what it
    changes; `custom`, when given, replaces the list ([] empties it)."""
    base = base or Policy()
    if data is None:
        return base
    if not isinstance(data, dict):
        raise PolicyError("errors.privacy.redaction_object_enabled_detectors")
    unknown = set(data) - {"enabled", "detectors", "custom"}
    if unknown:
        raise PolicyError("errors.privacy.redaction_unknown_field", unknown=sorted(unknown)[0])
    enabled = base.enabled if data.get("enabled") is None else data["enabled"]
    if not isinstance(enabled, bool):
        raise PolicyError("errors.privacy.enabled_true_false")
    detectors = data.get("detectors") or {}
    if not isinstance(detectors, dict):
        raise PolicyError("errors.privacy.detectors_object_kind_operator")
    unknown = set(detectors) - set(RULE_KINDS)
    if unknown:
        raise PolicyError("errors.privacy.detectors_unknown_kind_known", unknown=sorted(unknown)[0],
                          rule_kinds=', '.join(RULE_KINDS))
    rules = {k: _rule(detectors.get(k), f"detectors.{k}", base.rules[k]) for k in RULE_KINDS}
    custom = base.custom if data.get("custom") is None else _customs(data["custom"])
    return Policy(enabled, rules, custom)


def _customs(data: Any) -> tuple[Custom, ...]:
    if not isinstance(data, list) or len(data) > MAX_CUSTOM:
        raise PolicyError("errors.privacy.custom_list_most_patterns", max_custom=MAX_CUSTOM)
    out: list[Custom] = []
    for i, item in enumerate(data):
        where = f"custom[{i}]"
        if not isinstance(item, dict):
            raise PolicyError("errors.privacy.object_name_pattern_operator", where=where)
        name, pattern = item.get("name"), item.get("pattern")
        if not isinstance(name, str) or not CUSTOM_NAME.match(name):
            raise PolicyError("errors.privacy.name_1_40_z", where=where)
        if any(c.name == name for c in out):
            raise PolicyError("errors.privacy.name_used_twice", where=where, name=name)
        check_pattern(pattern, f"{where}.pattern")
        out.append(Custom(name, pattern, _rule(item, where, Rule())))
    return tuple(out)


def _regex() -> Any:
    import regex  # the `regex` module: time-limited matching; imported only where custom patterns are used

    return regex


def check_pattern(pattern: Any, where: str = "pattern") -> None:
    """A custom pattern that compiles, cannot match the empty string and stays fast on hostile probes."""
    if not isinstance(pattern, str) or not 0 < len(pattern) <= MAX_PATTERN_CHARS:
        raise PolicyError("errors.privacy.regular_expression_1_characters", where=where,
                          max_pattern_chars=MAX_PATTERN_CHARS)
    rx = _regex()
    try:
        compiled = rx.compile(pattern, rx.VERSION0)
    except (rx.error, ValueError, OverflowError, RecursionError) as exc:
        raise PolicyError("errors.privacy.valid_regular_expression", where=where, exc=exc) from None
    try:
        if compiled.fullmatch("", timeout=_CHECK_TIMEOUT_S) is not None:
            raise PolicyError("errors.privacy.matches_empty_string", where=where)
        for probe in _PROBES:
            for _ in compiled.finditer(probe, timeout=_CHECK_TIMEOUT_S):
                pass
    except TimeoutError:
        raise PolicyError("errors.privacy.too_slow_catastrophic_backtracking", where=where) from None


# --- the term list --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TermEntry:
    digest: str
    prefix: str
    length: int


@dataclass(frozen=True)
class Terms:
    """A term list as stored: digests of the normalised terms and of their first two characters."""
    digests: frozenset[str] = frozenset()
    prefixes: frozenset[str] = frozenset()
    lengths: tuple[int, ...] = ()

    @classmethod
    def of(cls, entries: Iterable[TermEntry]) -> "Terms":
        entries = list(entries)
        return cls(frozenset(e.digest for e in entries), frozenset(e.prefix for e in entries),
                   tuple(sorted({e.length for e in entries}, reverse=True)))


def _fold(norm: str) -> str:
    lower = norm.lower()
    return lower if len(lower) == len(norm) else norm  # positions must not move


def _hasher(key: bytes) -> Any:
    return hashlib.blake2b(key=hashlib.sha256(key).digest(), digest_size=16)


def term_entries(key: bytes, term: str) -> list[TermEntry]:
    """What the term list keeps of one term: its digest (and, for a term with spaces, that of the term
    without them too, since texts write 田中 太郎 and 田中太郎). Raises PolicyError for a bad term."""
    norm = _fold(redaction.normalise(term.strip())[0]) if isinstance(term, str) else ""
    forms = {norm, re.sub(r"\s+", "", norm)} if norm else set()
    forms = {f for f in forms if MIN_TERM_CHARS <= len(f) <= MAX_TERM_CHARS}
    if not forms:
        raise PolicyError("errors.privacy.terms_each_term_characters", min_term_chars=MIN_TERM_CHARS,
                          max_term_chars=MAX_TERM_CHARS)
    base = _hasher(key)
    out = []
    for form in sorted(forms):
        whole, start = base.copy(), base.copy()
        whole.update(form.encode())
        start.update(form[:2].encode())
        out.append(TermEntry(whole.hexdigest(), start.hexdigest(), len(form)))
    return out


# --- applying a policy ----------------------------------------------------------------------------------------

class Redactor:
    """Applies one policy (with the workspace's key, term list and custom patterns) to texts; keeps counts."""

    _CACHE = 8192  # texts remembered (a system prompt repeats in every log of a batch, a span's values in its log)

    def __init__(self, policy: Policy, key: bytes = b"", terms: Terms | None = None):
        if policy.needs_key() and not key:
            raise PolicyError("errors.privacy.hash_operator_needs_key")
        self.policy, self.terms = policy, terms or Terms()
        self.counts: Counter[str] = Counter()
        kinds = policy.detector_kinds
        self._kinds = None if kinds == redaction.KINDS else kinds  # None: all, unchecked
        self._hash = _hasher(key) if key else None
        self._use_terms = bool(self.terms.digests) and policy.rules[TERM].on
        rx = _regex() if any(c.rule.on for c in policy.custom) else None
        self._custom = [(c.kind, rx.compile(c.pattern, rx.VERSION0)) for c in policy.custom if c.rule.on]
        self._memo: dict[str, tuple[str, Counter[str]]] = {}

    def take(self) -> dict[str, int]:
        """The counts since the last call (kind -> spans redacted), then zero."""
        out, self.counts = dict(self.counts), Counter()
        return out

    def value(self, value: Any) -> Any:
        """Every string inside a JSON value redacted (object keys are left alone). A value with nothing to
        redact comes back as the same object, so callers can tell (`is`) whether anything changed."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, (dict, list)):
            out: Any = None  # a copy, made at the first change
            for k, v in value.items() if isinstance(value, dict) else enumerate(value):
                new = self.text(v) if isinstance(v, str) else self.value(v) if isinstance(v, (dict, list)) else v
                if new is not v:
                    if out is None:
                        out = value.copy()
                    out[k] = new
            return value if out is None else out
        return value

    def text(self, text: str) -> str:
        """`text` redacted; the same object when there is nothing to redact."""
        if not self.policy.enabled or not text:
            return text
        memo = self._memo.get(text)
        if memo is None:
            counts: Counter[str] = Counter()
            memo = (self._rewrite(text, counts), counts)
            if len(self._memo) >= self._CACHE:
                self._memo.clear()
            self._memo[text] = memo
        if not memo[1]:
            return text
        self.counts.update(memo[1])
        return memo[0]

    def spans(self, text: str) -> list[Span]:
        """The spans this policy redacts in `text`: sorted, overlapping ones merged (the longer one's kind)."""
        found = redaction.find(text, self._kinds) if self._kinds != () else []
        if self._use_terms or self._custom:
            norm, origin = redaction.normalise(text)
            extra = [*self._term_spans(norm), *self._custom_spans(text, norm)]
            found = found + [Span(origin[s], redaction.source_end(origin, e, len(text)), kind)
                             for s, e, kind in extra if e > s]
        return _merge(found)

    def _term_spans(self, norm: str) -> Iterable[tuple[int, int, str]]:
        if not self._use_terms or self._hash is None:
            return
        folded, terms, base = _fold(norm), self.terms, self._hash
        i, n = 0, len(folded)
        while i < n - 1:
            if folded[i].isalpha():
                h = base.copy()
                h.update(folded[i:i + 2].encode())
                if h.hexdigest() in terms.prefixes:
                    end = next((i + length for length in terms.lengths if i + length <= n
                                and _digest(base, folded[i:i + length]) in terms.digests), None)
                    if end is not None:
                        yield i, end, TERM
                        i = end
                        continue
            i += 1

    def _custom_spans(self, text: str, norm: str) -> Iterable[tuple[int, int, str]]:
        for kind, compiled in self._custom:
            try:
                for m in compiled.finditer(norm, timeout=CUSTOM_TIMEOUT_S):
                    yield m.start(), m.end(), kind
            except TimeoutError:  # fail closed: the whole string goes
                yield 0, len(norm), kind

    def _rewrite(self, text: str, counts: Counter[str]) -> str:
        spans = self.spans(text)
        if not spans:
            return text
        out, at = [], 0
        for span in spans:
            out.append(text[at:span.start])
            out.append(self._replacement(span.kind, text[span.start:span.end]))
            counts[span.kind] += 1
            at = span.end
        out.append(text[at:])
        return "".join(out)

    def _replacement(self, kind: str, original: str) -> str:
        operator = self.policy.rule(kind).operator
        if operator == "drop":
            return ""
        if operator == "mask":
            return "".join("*" if ch.isalnum() else ch for ch in original)
        placeholder = self.policy.placeholder(kind)
        if operator == "hash":
            norm = _fold(redaction.normalise(original)[0])
            value = re.sub(r"\D", "", norm) if kind in _NUMERIC else re.sub(r"\s+", "", norm)
            label = placeholder[1:-1] if placeholder.startswith("[") and placeholder.endswith("]") else placeholder
            return f"[{label}:{_digest(self._hash, kind + chr(0) + value)[:10]}]"
        return placeholder


def _digest(base: Any, text: str) -> str:
    h = base.copy()
    h.update(text.encode())
    return h.hexdigest()


def _merge(spans: list[Span]) -> list[Span]:
    spans = sorted(spans, key=lambda s: (s.start, -(s.end - s.start)))
    out: list[Span] = []
    for span in spans:
        if out and span.start < out[-1].end:
            if span.end > out[-1].end:
                out[-1] = replace(out[-1], end=span.end)
            continue
        out.append(span)
    return out
