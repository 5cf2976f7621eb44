"""Deterministic scorers of an evaluation run (issue 16): each turns one output (and the item's expected
output) into a named score from 0 to 100; pass/fail scorers give 100 or 0.

A scorer is described by a small dict, checked once by `parse` (every problem is an InvalidInput naming
the field) and then applied to each item by `Scorer.score`, which never raises for a bad *output*: an
output the scorer cannot judge (no expected output to compare with, a regular expression that ran out of
time) gives an `Outcome` with `error` set (a catalogue key and its fields), recorded on the item.

    {"type": "exact_match", "name": "exact", "normalize": ["trim", "case", "nfkc"]}
    {"type": "contains", "value": ["aspirin", "アスピリン"], "normalize": ["nfkc"]}  # any of them
    {"type": "not_contains", "value": "I cannot help"}                                # none of them
    {"type": "regex", "pattern": "^\\d{3}-\\d{4}$", "flags": "i", "full": false}
    {"type": "valid_json"}
    {"type": "json_schema", "schema": {"type": "object", "required": ["dose"]}}
    {"type": "length", "min": 10, "max": 400}
    {"type": "similarity"}     # 100 * (1 - Levenshtein distance / longer length), on characters

Normalisations, in this order: `nfkc` (Unicode NFKC: full-width ＡＢＣ１２３ and half-width ｶﾅ become
ABC123 and カナ), `whitespace` (runs of white space become one space), `trim` (white space at both
ends), `case` (case-insensitive, casefold). Exact match and similarity trim by default.

Regular expressions use the `regex` module (the same engine and bounds as custom redaction patterns,
domain/redaction_policy.py): at most 500 characters, counted repetitions bounded so that compiling
stays fast, and each match limited to REGEX_TIMEOUT_S, so a hostile pattern cannot hang a worker.
JSON-schema `pattern`s run through the same time-limited engine.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from promptyard.domain.logs import SCORE_NAME
from promptyard.domain.redaction_policy import MAX_PATTERN_CHARS
from promptyard.errors import InvalidInput

KINDS = ("exact_match", "contains", "not_contains", "regex", "valid_json", "json_schema", "length", "similarity")
NORMALIZATIONS = ("nfkc", "whitespace", "trim", "case")
MAX_SCORERS = 20
MAX_VALUES = 50  # strings one contains / not_contains scorer looks for
MAX_VALUE_CHARS = 10_000
MAX_SCHEMA_CHARS = 100_000  # a JSON schema, as JSON text
MAX_REPEAT_PRODUCT = 100_000  # counted repetitions {n} multiplied together: compiling costs about that much
REGEX_TIMEOUT_S = 0.1  # per output
REGEX_FLAGS = {"i": "IGNORECASE", "m": "MULTILINE", "s": "DOTALL", "x": "VERBOSE"}
_COUNTS = re.compile(r"(?<!\\)\{(\d*)(?:,(\d*))?\}")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Outcome:
    """One scorer's verdict on one output: a value 0-100, or an error (catalogue key + fields)."""

    name: str
    value: float | None
    error: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    comment: str | None = None


@dataclass(frozen=True)
class Scorer:
    kind: str
    name: str
    spec: dict[str, Any]  # the checked spec, as stored with the run
    _apply: Callable[[str, str | None], Outcome] = field(repr=False, compare=False)

    def score(self, output: str, expected: str | None = None) -> Outcome:
        return self._apply(output if isinstance(output, str) else "" if output is None else str(output), expected)


def _bad(key: str, where: str, **params: Any) -> InvalidInput:
    return InvalidInput(key, details={"field": where}, field=where, **params)


def normalizer(names: Iterable[str]) -> Callable[[str], str]:
    chosen = set(names)

    def norm(text: str) -> str:
        if "nfkc" in chosen:
            text = unicodedata.normalize("NFKC", text)
        if "whitespace" in chosen:
            text = _SPACES.sub(" ", text)
        if "trim" in chosen:
            text = text.strip()
        if "case" in chosen:
            text = text.casefold()
        return text

    return norm


def _normalize_option(spec: dict, where: str, default: tuple[str, ...]) -> list[str]:
    value = spec.get("normalize", list(default))
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad("errors.scorers.normalize", f"{where}.normalize", known=", ".join(NORMALIZATIONS))
    unknown = [v for v in value if v not in NORMALIZATIONS]
    if unknown:
        raise _bad("errors.scorers.normalize", f"{where}.normalize", known=", ".join(NORMALIZATIONS))
    return sorted(set(value), key=NORMALIZATIONS.index)


def _int_option(spec: dict, key: str, where: str) -> int | None:
    value = spec.get(key)
    if value is None:
        return None
    if type(value) is not int or not 0 <= value <= 10_000_000:
        raise _bad("errors.scorers.not_count", f"{where}.{key}")
    return value


def _strings(spec: dict, where: str) -> list[str] | None:
    value = spec.get("value")
    if value is None:
        return None  # compare with the expected output
    values = [value] if isinstance(value, str) else value
    if (not isinstance(values, list) or not 0 < len(values) <= MAX_VALUES
            or not all(isinstance(v, str) and 0 < len(v) <= MAX_VALUE_CHARS for v in values)):
        raise _bad("errors.scorers.values", f"{where}.value", most=MAX_VALUES, chars=MAX_VALUE_CHARS)
    return values


def _pass(name: str, ok: bool) -> Outcome:
    return Outcome(name, 100.0 if ok else 0.0)


def _missing_expected(name: str) -> Outcome:
    return Outcome(name, None, "errors.scorers.no_expected", {"scorer": name})


# --- regular expressions ------------------------------------------------------------------------


def _rx() -> Any:
    import regex  # server extra: time-limited matching

    return regex


def compile_pattern(pattern: Any, flags: str, where: str) -> Any:
    """A compiled `regex` pattern, refused when too long, invalid or too costly to compile."""
    if not isinstance(pattern, str) or not 0 < len(pattern) <= MAX_PATTERN_CHARS:
        raise _bad("errors.scorers.pattern_length", where, most=MAX_PATTERN_CHARS)
    product = 1
    for low, high in _COUNTS.findall(pattern):
        product *= max(int(high or low or 1), 1)
        if product > MAX_REPEAT_PRODUCT:
            raise _bad("errors.scorers.pattern_repeats", where, most=MAX_REPEAT_PRODUCT)
    rx = _rx()
    bits = rx.VERSION0
    for letter in flags:
        bits |= getattr(rx, REGEX_FLAGS[letter])
    try:
        return rx.compile(pattern, bits)
    except (rx.error, ValueError, OverflowError, RecursionError) as exc:
        raise _bad("errors.scorers.pattern_invalid", where, problem=str(exc)[:200]) from None


def _regex(name: str, spec: dict, where: str) -> Callable[[str, str | None], Outcome]:
    flags = spec.get("flags", "")
    if not isinstance(flags, str) or any(c not in REGEX_FLAGS for c in flags):
        raise _bad("errors.scorers.flags", f"{where}.flags", known="".join(REGEX_FLAGS))
    full = spec.get("full", False)
    if not isinstance(full, bool):
        raise _bad("errors.scorers.not_bool", f"{where}.full")
    compiled = compile_pattern(spec.get("pattern"), flags, f"{where}.pattern")
    find = compiled.fullmatch if full else compiled.search

    def apply(output: str, expected: str | None) -> Outcome:
        try:
            return _pass(name, find(output, timeout=REGEX_TIMEOUT_S) is not None)
        except TimeoutError:
            return Outcome(name, None, "errors.scorers.regex_timeout", {"scorer": name, "seconds": REGEX_TIMEOUT_S})

    return apply


# --- JSON ---------------------------------------------------------------------------------------

_FENCE = re.compile(r"^```[A-Za-z]*[ \t]*\n(.*?)\n?```$", re.S)


def parse_json_output(output: str) -> tuple[bool, Any]:
    """(True, value) when the output, trimmed and maybe inside one ``` fence, is JSON."""
    text = output.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    try:
        return True, json.loads(text)
    except (ValueError, RecursionError):
        return False, None


def _schema_validator(schema: Any, where: str) -> Any:
    import jsonschema  # server extra
    from jsonschema import validators

    if not isinstance(schema, (dict, bool)) or len(json.dumps(schema)) > MAX_SCHEMA_CHARS:
        raise _bad("errors.scorers.schema", where, chars=MAX_SCHEMA_CHARS)
    base = validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        base.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise _bad("errors.scorers.schema_invalid", where, problem=exc.message[:300]) from None
    compiled: dict[str, Any] = {}

    def _compiled(pattern: str) -> Any:
        if pattern not in compiled:
            compiled[pattern] = compile_pattern(pattern, "", f"{where} pattern")
        return compiled[pattern]

    def pattern(validator, patrn, instance, schema):  # the time-limited engine instead of `re`
        if validator.is_type(instance, "string") and not _compiled(patrn).search(instance, timeout=REGEX_TIMEOUT_S):
            yield jsonschema.ValidationError(f"{instance[:80]!r} does not match {patrn!r}")

    def pattern_properties(validator, patterns, instance, schema):
        if not validator.is_type(instance, "object"):
            return
        for patrn, subschema in patterns.items():
            for k, v in instance.items():
                if _compiled(patrn).search(k, timeout=REGEX_TIMEOUT_S):
                    yield from validator.descend(v, subschema, path=k, schema_path=patrn)

    for found in _schema_patterns(schema):  # refused now rather than on the first item
        _compiled(found)
    return validators.extend(base, {"pattern": pattern, "patternProperties": pattern_properties})(schema)


def _schema_patterns(schema: Any) -> Iterable[str]:
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                yield node["pattern"]
            if isinstance(node.get("patternProperties"), dict):
                yield from node["patternProperties"]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _json_schema(name: str, spec: dict, where: str) -> Callable[[str, str | None], Outcome]:
    validator = _schema_validator(spec.get("schema"), f"{where}.schema")

    def apply(output: str, expected: str | None) -> Outcome:
        ok, value = parse_json_output(output)
        if not ok:
            return Outcome(name, 0.0, comment="not JSON")
        try:
            problem = next(iter(validator.iter_errors(value)), None)
        except TimeoutError:
            return Outcome(name, None, "errors.scorers.regex_timeout", {"scorer": name, "seconds": REGEX_TIMEOUT_S})
        except RecursionError:
            return Outcome(name, 0.0, comment="too deeply nested")
        return Outcome(name, 0.0 if problem else 100.0, comment=problem.message[:300] if problem else None)

    return apply


# --- edit distance ------------------------------------------------------------------------------


def levenshtein(a: str, b: str) -> int:
    """Edit distance on characters (code points): Myers' bit-parallel algorithm (Hyyrö's form) with
    Python integers as bit vectors, O(len(a) * len(b) / 64) word operations."""
    if len(a) < len(b):
        a, b = b, a
    m = len(b)
    if m == 0:
        return len(a)
    peq: dict[str, int] = {}
    for i, ch in enumerate(b):
        peq[ch] = peq.get(ch, 0) | (1 << i)
    mask, top = (1 << m) - 1, 1 << (m - 1)
    pv, mv, dist = mask, 0, m
    for ch in a:
        eq = peq.get(ch, 0)
        xv = eq | mv
        xh = ((((eq & pv) + pv) & mask) ^ pv) | eq
        ph = mv | (~(xh | pv) & mask)
        mh = pv & xh
        if ph & top:
            dist += 1
        elif mh & top:
            dist -= 1
        ph = ((ph << 1) | 1) & mask
        mh = (mh << 1) & mask
        pv = mh | (~(xv | ph) & mask)
        mv = ph & xv
    return dist


def similarity(a: str, b: str) -> float:
    """100 for equal texts, 0 for texts with nothing in common: 100 * (1 - distance / longer length)."""
    longer = max(len(a), len(b))
    return 100.0 if longer == 0 else 100.0 * (1 - levenshtein(a, b) / longer)


# --- the scorers --------------------------------------------------------------------------------


def _build(kind: str, name: str, spec: dict, where: str) -> Callable[[str, str | None], Outcome]:
    if kind in ("exact_match", "similarity", "contains", "not_contains"):
        default = ("trim",) if kind in ("exact_match", "similarity") else ()
        norm = normalizer(_normalize_option(spec, where, default))
    if kind == "exact_match":
        def exact(output: str, expected: str | None) -> Outcome:
            return _missing_expected(name) if expected is None else _pass(name, norm(output) == norm(expected))
        return exact
    if kind == "similarity":
        def similar(output: str, expected: str | None) -> Outcome:
            return _missing_expected(name) if expected is None else Outcome(
                name, round(similarity(norm(output), norm(expected)), 4))
        return similar
    if kind in ("contains", "not_contains"):
        values = _strings(spec, where)
        wanted = None if values is None else [norm(v) for v in values]
        if wanted is not None and not all(wanted):
            raise _bad("errors.scorers.values", f"{where}.value", most=MAX_VALUES, chars=MAX_VALUE_CHARS)

        def contains(output: str, expected: str | None) -> Outcome:
            looked_for = wanted if wanted is not None else None if expected is None else [norm(expected)]
            if looked_for is None:
                return _missing_expected(name)
            text = norm(output)
            found = any(v in text for v in looked_for)
            return _pass(name, found if kind == "contains" else not found)
        return contains
    if kind == "regex":
        return _regex(name, spec, where)
    if kind == "valid_json":
        return lambda output, expected: _pass(name, parse_json_output(output)[0])
    if kind == "json_schema":
        return _json_schema(name, spec, where)
    # length
    low, high = _int_option(spec, "min", where), _int_option(spec, "max", where)
    if low is None and high is None:
        raise _bad("errors.scorers.length_bounds", where)
    if low is not None and high is not None and low > high:
        raise _bad("errors.scorers.length_order", where)
    return lambda output, expected: _pass(name, (low is None or len(output) >= low)
                                          and (high is None or len(output) <= high))


_OPTIONS = {
    "exact_match": {"normalize"}, "similarity": {"normalize"}, "contains": {"normalize", "value"},
    "not_contains": {"normalize", "value"}, "regex": {"pattern", "flags", "full"}, "valid_json": set(),
    "json_schema": {"schema"}, "length": {"min", "max"},
}


def parse(spec: Any, where: str = "scorers[0]") -> Scorer:
    """One scorer from its spec dict (the score's name defaults to the type)."""
    if not isinstance(spec, dict):
        raise _bad("errors.scorers.not_object", where)
    kind = spec.get("type")
    if kind not in KINDS:
        raise _bad("errors.scorers.unknown_type", f"{where}.type", known=", ".join(KINDS))
    name = spec.get("name", kind)
    if not isinstance(name, str) or not SCORE_NAME.match(name):
        raise _bad("errors.scorers.name", f"{where}.name")
    unknown = sorted(set(spec) - {"type", "name"} - _OPTIONS[kind])
    if unknown:
        raise _bad("errors.scorers.unknown_option", f"{where}.{unknown[0]}", kind=kind,
                   known=", ".join(sorted(_OPTIONS[kind])) or "-")
    checked = {k: v for k, v in spec.items()}
    checked["name"] = name
    return Scorer(kind, name, checked, _build(kind, name, spec, where))


def parse_all(specs: Any, where: str = "scorers") -> list[Scorer]:
    """A run's scorers: a list of specs with distinct names."""
    if not isinstance(specs, list) or len(specs) > MAX_SCORERS:
        raise _bad("errors.scorers.not_list", where, most=MAX_SCORERS)
    out: list[Scorer] = []
    for i, spec in enumerate(specs):
        scorer = parse(spec, f"{where}[{i}]")
        if any(s.name == scorer.name for s in out):
            raise _bad("errors.scorers.name_twice", f"{where}[{i}].name", name=scorer.name)
        out.append(scorer)
    return out
