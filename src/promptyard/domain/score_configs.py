"""Score configs: what a named score may be (issue 17). The ONE home of the rule "is this a valid
score": `check(config, value, comment, source)`, called by every surface that writes scores (through
domain/logs.score). `spec(...)` checks a config as sent.

- numeric: a number in [min, max], on the step grid from min when a step is given;
- boolean: pass/fail, stored as 100 (pass) and 0 (fail), like the evaluation scorers' pass/fail,
  so a version's mean score is its pass rate in percent; `true`/`false` are accepted as well;
- categorical: ordered labels, each with a number (stored) and a description (e.g. 1-5 with Japanese
  descriptions); the value sent may be the number or the label.

A score without a config is numeric 0-100, as before configs existed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from promptyard.errors import InvalidInput

TYPES = ("numeric", "boolean", "categorical")
SOURCES = ("api", "human", "judge", "rule")  # who gives a score: the score's `source`
PASS, FAIL = 100.0, 0.0
MAX_CATEGORIES = 20
MAX_RUBRIC = 20_000
MAX_DESCRIPTION = 1000
LIMIT = 1e9  # bounds of a numeric range and of a category's value


@dataclass(frozen=True)
class Category:
    value: float
    label: str
    description: str = ""


@dataclass(frozen=True)
class ScoreConfig:
    name: str
    type: str
    min_value: float | None = None
    max_value: float | None = None
    step: float | None = None
    categories: tuple[Category, ...] = ()
    rubric: str = ""
    sources: tuple[str, ...] = SOURCES
    comment_required_below: float | None = None
    archived: bool = False
    id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def allowed(self) -> str:
        """The values it takes, for people ("0-100", "1, 2, 3", "true/false (100/0)")."""
        if self.type == "boolean":
            return "true / false (100 / 0)"
        if self.type == "categorical":
            return ", ".join(_num(c.value) + (f" ({c.label})" if c.label != _num(c.value) else "")
                             for c in self.categories)
        grid = f" step {_num(self.step)}" if self.step else ""
        return f"{_num(self.min_value)}-{_num(self.max_value)}{grid}"

    def label_of(self, value: float) -> str | None:
        """The category label (or pass/fail key) a stored value shows as."""
        for c in self.categories:
            if c.value == value:
                return c.label
        return None


DEFAULT = ScoreConfig(name="", type="numeric", min_value=0.0, max_value=100.0)  # a score without a config


class ScoreRejected(InvalidInput):
    """A score its config does not allow; `field` names the part of the input (as logs.LogError)."""

    def __init__(self, field_name: str, key: str, **params: Any):
        super().__init__(key, details={"field": field_name}, field=field_name, **params)
        self.field = field_name


def _num(x: float | None) -> str:
    if x is None:
        return ""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _finite(v: Any) -> bool:
    """A number (not a bool), and not inf/nan; a JSON integer too large for a float is finite too
    (the range checks refuse it, math.isfinite would overflow)."""
    return not isinstance(v, bool) and (isinstance(v, int) or (isinstance(v, float) and math.isfinite(v)))


def check(config: ScoreConfig | None, value: Any, comment: str, source: str, *, field_name: str = "value",
          where: str = "") -> float:
    """The value to store for a score of `config` (None: numeric 0-100), or ScoreRejected naming
    the config, the value and what it allows. `where` prefixes the fields ("scores[2]")."""
    at = f"{where}." if where else ""
    if config is None:
        if not _finite(value) or not 0 <= value <= 100:
            raise ScoreRejected(f"{at}{field_name}", "errors.scores.out_of_default_range", got=repr(value))
        return float(value)
    name = config.name
    if config.archived:
        raise ScoreRejected(f"{at}name", "errors.scores.archived", name=name)
    if source not in config.sources:
        raise ScoreRejected(f"{at}source", "errors.scores.source_not_allowed", name=name, source=source,
                            allowed=", ".join(config.sources))
    stored = _value(config, value, f"{at}{field_name}")
    if config.comment_required_below is not None and stored < config.comment_required_below and not comment.strip():
        raise ScoreRejected(f"{at}comment", "errors.scores.comment_required", name=name,
                            below=_num(config.comment_required_below))
    return stored


def _value(config: ScoreConfig, value: Any, at: str) -> float:
    bad = {"name": config.name, "got": repr(value), "allowed": config.allowed()}
    if config.type == "boolean":
        if value is True or value is False:
            return PASS if value else FAIL
        if _finite(value) and value in (PASS, FAIL):
            return float(value)
        raise ScoreRejected(at, "errors.scores.not_allowed", **bad)
    if config.type == "categorical":
        for c in config.categories:
            if (_finite(value) and value == c.value) or (isinstance(value, str) and value == c.label):
                return c.value
        raise ScoreRejected(at, "errors.scores.not_allowed", **bad)
    if not _finite(value) or not config.min_value <= value <= config.max_value:
        raise ScoreRejected(at, "errors.scores.not_allowed", **bad)
    if config.step:
        steps = (value - config.min_value) / config.step
        if abs(steps - round(steps)) > 1e-9 * max(1.0, abs(steps)):
            raise ScoreRejected(at, "errors.scores.off_step", **bad, step=_num(config.step))
    return float(value)


# --- a config as sent -------------------------------------------------------------------------


def _text(body: dict, key: str, most: int, default: str = "") -> str:
    v = body.get(key)
    if v is None:
        return default
    if not isinstance(v, str) or len(v) > most:
        raise InvalidInput("errors.score_configs.text", field=key, most=f"{most:,}")
    return v


def _number(body: dict, key: str) -> float | None:
    v = body.get(key)
    if v is None:
        return None
    if not _finite(v) or abs(v) > LIMIT:
        raise InvalidInput("errors.score_configs.number", field=key, got=repr(v))
    return float(v)


def spec(body: Any, *, name: str | None = None) -> ScoreConfig:
    """A config as sent ({name, type, min, max, step, categories, rubric, sources,
    comment_required_below, archived}) checked; `name` given = an edit of that config (the name stays)."""
    from promptyard.domain.logs import SCORE_NAME

    if not isinstance(body, dict):
        raise InvalidInput("errors.score_configs.body")
    if name is None:
        name = body.get("name")
        if not isinstance(name, str) or not SCORE_NAME.match(name):
            raise InvalidInput("errors.score_configs.name", got=repr(name))
    elif body.get("name") is not None and body.get("name") != name:
        raise InvalidInput("errors.score_configs.rename", name=name)
    kind = body.get("type")
    if kind not in TYPES:
        raise InvalidInput("errors.score_configs.type", got=repr(kind), allowed=", ".join(TYPES))
    for key, only in (("min", "numeric"), ("max", "numeric"), ("step", "numeric"), ("categories", "categorical")):
        if body.get(key) is not None and kind != only:
            raise InvalidInput("errors.score_configs.not_for_type", field=key, only=only, type=kind)
    sources = body.get("sources")
    if sources is None:
        sources = list(SOURCES)
    if not isinstance(sources, list) or not sources or any(s not in SOURCES for s in sources):
        raise InvalidInput("errors.score_configs.sources", got=repr(sources), allowed=", ".join(SOURCES))
    archived = body.get("archived", False)
    if not isinstance(archived, bool):
        raise InvalidInput("errors.score_configs.archived")
    config = ScoreConfig(name=name, type=kind, rubric=_text(body, "rubric", MAX_RUBRIC),
                         sources=tuple(s for s in SOURCES if s in sources),
                         comment_required_below=_number(body, "comment_required_below"), archived=archived)
    if kind == "numeric":
        lo, hi, step = _number(body, "min"), _number(body, "max"), _number(body, "step")
        lo, hi = (0.0 if lo is None else lo), (100.0 if hi is None else hi)
        if not lo < hi:
            raise InvalidInput("errors.score_configs.range", min=_num(lo), max=_num(hi))
        if step is not None and not 0 < step <= hi - lo:
            raise InvalidInput("errors.score_configs.step", step=_num(step), width=_num(hi - lo))
        return replace(config, min_value=lo, max_value=hi, step=step)
    if kind == "categorical":
        return replace(config, categories=_categories(body.get("categories")))
    return config


def _categories(raw: Any) -> tuple[Category, ...]:
    if not isinstance(raw, list) or not 2 <= len(raw) <= MAX_CATEGORIES:
        raise InvalidInput("errors.score_configs.categories", most=MAX_CATEGORIES)
    out: list[Category] = []
    for i, c in enumerate(raw):
        if not isinstance(c, dict):
            raise InvalidInput("errors.score_configs.category", index=i)
        value, label = c.get("value"), c.get("label")
        if not _finite(value) or abs(value) > LIMIT:
            raise InvalidInput("errors.score_configs.category_value", index=i, got=repr(value))
        if not isinstance(label, str) or not 0 < len(label.strip()) <= 100:
            raise InvalidInput("errors.score_configs.category_label", index=i)
        description = c.get("description") or ""
        if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
            raise InvalidInput("errors.score_configs.category_description", index=i, most=f"{MAX_DESCRIPTION:,}")
        out.append(Category(float(value), label.strip(), description))
    values = [c.value for c in out]
    if values != sorted(values) or len(set(values)) != len(values):
        raise InvalidInput("errors.score_configs.category_order")
    if len({c.label for c in out}) != len(out):
        raise InvalidInput("errors.score_configs.category_labels")
    return tuple(out)


def as_body(config: ScoreConfig) -> dict[str, Any]:
    """A config as the API shows it (and `spec` takes it back)."""
    body: dict[str, Any] = {"id": config.id, "name": config.name, "type": config.type, "rubric": config.rubric,
                            "sources": list(config.sources), "comment_required_below": config.comment_required_below,
                            "archived": config.archived}
    if config.type == "numeric":
        body |= {"min": config.min_value, "max": config.max_value, "step": config.step}
    if config.type == "categorical":
        body["categories"] = [{"value": c.value, "label": c.label, "description": c.description}
                              for c in config.categories]
    return body


def combined(values: list[float], config: ScoreConfig | None) -> float:
    """A request's score from its reviewers' values (an annotation queue's item): the mean; for a score config whose values are
    a set (boolean, categorical, numeric on a step grid) the lower median, a value it allows (a tie
    of pass and fail is a fail)."""
    if config is None or (config.type == "numeric" and not config.step):
        return sum(values) / len(values)
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2]
