"""LLM-as-judge (issue 16): the judge spec of a run and the parsing of a judge's answer into a score.

A judge is a registry prompt (name and version or label) whose template gets the variables `input`,
`output` and `expected`; its rubric asks for a score on a scale (default 1-5) and a reason:

    {"type": "judge", "name": "medically_correct", "prompt": "judges/medical", "label": "prod",
     "scale": [1, 5], "model": "gpt-4o-mini"}

Judges answer in many shapes; `parse_answer` reads, in this order:
1. a JSON object with a score key (score, rating, grade, スコア, 評価, 点数) and maybe a reason key
   (reason, reasoning, explanation, rationale, comment, 理由, 根拠), alone, in a ``` fence or inside
   prose; the last such object counts;
2. a labelled score in prose: "Score: 4/5", "**Rating:** 4 out of 5", "スコア：４", "評価は4です",
   "5点中4点"; the last one counts (judges reason first and conclude);
3. an answer that is only a number or a fraction ("4", "4/5").
The text is NFKC-normalised first, so full-width digits and punctuation (４／５、：) read as ASCII.

A fraction whose denominator is not the scale's top ("8/10" on a 1-5 scale) is read as a share of its
own denominator. The score is mapped to 0-100: (raw - low) / (high - low) * 100. An answer with no score,
or one outside the scale, is a `JudgeAnswerError` (a catalogue key and fields) that the run records on the
item as that score's failure; it never stops the run. The failure quotes nothing of the answer: the item's
error must not keep a copy of an output (which erasure reaches only on its request log).
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from promptyard.domain.logs import SCORE_NAME
from promptyard.domain.names import LABEL_RE
from promptyard.errors import InvalidInput

DEFAULT_SCALE = (1.0, 5.0)
MAX_REASON_CHARS = 2000
MAX_ANSWER_CHARS = 100_000  # longer answers are read from their first and last 50,000 characters
SCORE_KEYS = ("score", "rating", "grade", "スコア", "評価", "点数", "得点")
REASON_KEYS = ("reason", "reasoning", "explanation", "rationale", "comment", "justification", "理由", "根拠", "説明")
_NUMBER = r"[-+]?\d+(?:\.\d+)?"
_LABEL = r"(?:final\s+|overall\s+|total\s+)?(?:score|rating|grade|スコア|評価|点数|得点)"
_LABELLED = re.compile(
    rf"{_LABEL}[\s*_\"']*(?:[:=]|\bis\b|は|が)?[\s*_\"']*(?:\(\s*)?({_NUMBER})(?!\.\d)[\s*]*"
    rf"(?:(?:/|\bout\s+of\b|\bof\b)\s*({_NUMBER}))?", re.I)
_OUT_OF_JA = re.compile(rf"({_NUMBER})\s*点(?:満点)?中\s*({_NUMBER})\s*点?")  # 5点中4点: the total comes first
_ALONE = re.compile(rf"^[\s*]*({_NUMBER})\s*(?:(?:/|\bout\s+of\b)\s*({_NUMBER}))?\s*(?:点|points?)?[\s.。]*$", re.I)
_REASON_LABEL = re.compile(r"(?:reason(?:ing)?|explanation|rationale|理由|根拠)[\s*_]*[:：][\s*_]*(.+)", re.I | re.S)
_FILLER = re.compile(r"[\W_]|です|でした|ます")


class JudgeAnswerError(InvalidInput):
    """The judge's answer holds no usable score (recorded on the item, not raised to the caller)."""


@dataclass(frozen=True)
class Verdict:
    value: float  # 0-100
    raw: float  # as the judge wrote it
    out_of: float | None  # the denominator the judge wrote, if any
    reason: str | None


@dataclass(frozen=True)
class JudgeSpec:
    name: str  # the score's name
    prompt: str
    version: int | None
    label: str | None
    scale: tuple[float, float]
    model: str | None


def _bad(key: str, where: str, **params: Any) -> InvalidInput:
    return InvalidInput(key, details={"field": where}, field=where, **params)


def parse_spec(spec: Any, where: str = "judges[0]") -> JudgeSpec:
    if not isinstance(spec, dict):
        raise _bad("errors.judges.not_object", where)
    unknown = sorted(set(spec) - {"type", "name", "prompt", "version", "label", "scale", "model"})
    if unknown:
        raise _bad("errors.judges.unknown_option", f"{where}.{unknown[0]}")
    prompt = spec.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip() or len(prompt) > 500:
        raise _bad("errors.judges.prompt", f"{where}.prompt")
    version, label = spec.get("version"), spec.get("label")
    if version is not None and (type(version) is not int or version < 1):
        raise _bad("errors.judges.version", f"{where}.version")
    if label is not None and (not isinstance(label, str) or not LABEL_RE.fullmatch(label)):
        raise _bad("errors.judges.label", f"{where}.label")
    if version is not None and label is not None:
        raise _bad("errors.judges.version_and_label", where)
    name = spec.get("name", "judge")
    if not isinstance(name, str) or not SCORE_NAME.match(name):
        raise _bad("errors.judges.name", f"{where}.name")
    scale = spec.get("scale", list(DEFAULT_SCALE))
    if (not isinstance(scale, list) or len(scale) != 2
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in scale)
            or scale[0] >= scale[1]):
        raise _bad("errors.judges.scale", f"{where}.scale")
    model = spec.get("model")
    if model is not None and (not isinstance(model, str) or not 0 < len(model) <= 200):
        raise _bad("errors.judges.model", f"{where}.model")
    return JudgeSpec(name, prompt.strip(), version, label, (float(scale[0]), float(scale[1])), model)


def _number(value: Any) -> tuple[float, float | None] | None:
    """A score value from JSON: a number, or a text holding one ("4", "4/5", "4 out of 5")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value), None
    if isinstance(value, str):
        found = _ALONE.match(value) or _LABELLED.search(value)
        if found:
            return float(found.group(1)), float(found.group(2)) if found.group(2) else None
    return None


def _json_objects(text: str) -> list[dict]:
    """Every JSON object in the text (decoded from each '{' that starts one), outermost first."""
    decoder, found, i = json.JSONDecoder(), [], text.find("{")
    while i != -1:
        try:
            value, end = decoder.raw_decode(text, i)
        except (ValueError, RecursionError):
            i = text.find("{", i + 1)
            continue
        if isinstance(value, dict):
            found.append(value)
        i = text.find("{", end)
    return found


def _key(obj: dict, keys: tuple[str, ...]) -> Any:
    lowered = {k.strip().lower(): v for k, v in obj.items() if isinstance(k, str)}
    return next((lowered[k] for k in keys if k in lowered), None)


def _from_json(text: str) -> tuple[float, float | None, str | None] | None:
    best = None
    for obj in _json_objects(text):
        score = _number(_key(obj, SCORE_KEYS))
        if score is not None:
            reason = _key(obj, REASON_KEYS)
            best = (*score, reason if isinstance(reason, str) else None if reason is None else json.dumps(
                reason, ensure_ascii=False))
    return best


def _from_prose(text: str) -> tuple[float, float | None, tuple[int, int]] | None:
    hits = []
    for found in _LABELLED.finditer(text):
        hits.append((found.start(), float(found.group(1)), float(found.group(2)) if found.group(2) else None,
                     found.span()))
    for found in _OUT_OF_JA.finditer(text):
        hits.append((found.start(), float(found.group(2)), float(found.group(1)), found.span()))
    if not hits:
        alone = _ALONE.match(text)
        if not alone:
            return None
        return float(alone.group(1)), float(alone.group(2)) if alone.group(2) else None, alone.span()
    _, raw, out_of, span = max(hits, key=lambda h: h[0])
    return raw, out_of, span


def _reason(text: str, span: tuple[int, int] | None) -> str | None:
    labelled = _REASON_LABEL.search(text)
    if labelled:
        reason = labelled.group(1)
    elif span is not None:
        reason = text[: span[0]] + text[span[1]:]
    else:
        reason = text
    reason = reason.strip().lstrip(" \t\n*_.,:;。、").rstrip(" \t\n*_")
    if len(_FILLER.sub("", reason)) < 5:  # "です。" left over from "評価は3です。"
        return None
    return reason[:MAX_REASON_CHARS]


def parse_answer(answer: Any, scale: tuple[float, float] = DEFAULT_SCALE) -> Verdict:
    """The judge's answer as a 0-100 score and a reason; JudgeAnswerError when there is no usable score."""
    low, high = scale
    if not isinstance(answer, str) or not answer.strip():
        raise JudgeAnswerError("errors.judges.empty_answer")
    if len(answer) > MAX_ANSWER_CHARS:
        half = MAX_ANSWER_CHARS // 2
        answer = answer[:half] + "\n" + answer[-half:]
    text = unicodedata.normalize("NFKC", answer)
    found_json = _from_json(text)
    if found_json is not None:
        raw, out_of, reason = found_json
        reason = reason.strip()[:MAX_REASON_CHARS] if reason else None
    else:
        prose = _from_prose(text)
        if prose is None:
            raise JudgeAnswerError("errors.judges.no_score")
        raw, out_of, span = prose
        reason = _reason(text, span)
    if not math.isfinite(raw) or (out_of is not None and (not math.isfinite(out_of) or out_of <= 0)):
        raise JudgeAnswerError("errors.judges.no_score")
    if out_of is not None and out_of != high:
        if not 0 <= raw <= out_of:
            raise JudgeAnswerError("errors.judges.out_of_range", value=f"{raw:g}/{out_of:g}", low=f"{low:g}",
                                   high=f"{high:g}")
        return Verdict(round(100.0 * raw / out_of, 4), raw, out_of, reason)
    if not low <= raw <= high:
        raise JudgeAnswerError("errors.judges.out_of_range", value=f"{raw:g}", low=f"{low:g}", high=f"{high:g}")
    return Verdict(round(100.0 * (raw - low) / (high - low), 4), raw, out_of, reason)


def author(prompt: str, version: int, model: str) -> str:
    """Who a judge's score is recorded as: judge:<prompt>@v<version>/<model>."""
    return f"judge:{prompt}@v{version}/{model}"
