"""Release-label routing policies: which prompt version a request gets (pure, no I/O).

A label either points at one version or carries a policy::

    {"salt": "...",                 # optional; defaults to the label name
     "sticky_key": "user_id",       # optional; metadata key that names the unit (user, session ...)
     "split": [{"version": 3, "weight": 90}, {"version": 4, "weight": 10}],
     "segments": [{"name": "staff", "when": [{"key": "role", "op": "=", "value": "staff"}],
                   "version": 5}]}

Segments are tried in list order; the first whose conditions all match (AND) decides, either
with one version or with a split of its own. Otherwise the default split decides.

A split is sticky when the request metadata carries a non-empty value for `sticky_key` (the
*unit*), by **weighted rendezvous hashing** (highest-random-weight): every version v gets
``h = first 52 bits of SHA-256(f"{salt}\\x1f{unit}\\x1f{v}")``, ``u = (h + 0.5) / 2**52`` and
``score = -ln(u) / weight``; the smallest score wins (ties: the lower version). Because
``-ln(u)`` is an Exp(1) variable and the minimum of independent Exp(w_i) variables is version i
with probability ``w_i / sum(w)``, each version gets exactly its weight's share of units. The
choice depends only on (salt, unit, version, weight), so the order of the split list does not
matter, and changing weights moves few units: raising v4 from 10 to 20 (v3 90 -> 80) only moves
units from v3 to v4 (1 - 80/90 of v3's units, 10% of all), and removing a version only
moves that version's units. The same salt keeps a unit on the same version across labels'
edits; a new salt reshuffles everyone. The JS client and the SDK reproduce this byte for byte
(tests/vectors/routing.json).

Without a unit the choice is random per request (weights as probabilities, list order).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import dataclass
from typing import Any

from promptyard.errors import InvalidInput

OPS = ("=", "!=", "in", "not_in", "exists")
DEFAULT_RULE = "split"
POLICY_KEYS = ("salt", "sticky_key", "split", "segments")
SEGMENT_KEYS = ("name", "when", "version", "split")
# Generous caps so a stored policy stays small and cheap to evaluate on every fetch.
MAX_SPLIT = 100
MAX_SEGMENTS = 100
MAX_CONDITIONS = 50
MAX_VALUES = 1000
MAX_TEXT = 1000
MAX_SEGMENT_NAME = 200  # it names the rule experiments are broken down by (an indexed column)


@dataclass(frozen=True)
class Assignment:
    """The version a request gets, the rule that chose it, and the sticky unit (None = random)."""

    version: int
    rule: str
    unit: str | None


# --- validation -------------------------------------------------------------------------------

def _text(value: Any, path: str, *, empty_ok: bool = False) -> str:
    """A string both databases store as-is (PostgreSQL rejects NUL and lone surrogates)."""
    if not isinstance(value, str):
        raise InvalidInput("errors.policies.string_got", path=path, value=_show(value))
    if not value and not empty_ok:
        raise InvalidInput("errors.policies.path_empty", path=path)
    if len(value) > MAX_TEXT:
        raise InvalidInput("errors.policies.too_long_characters_most", path=path, n=len(value), max_text=MAX_TEXT)
    if "\x00" in value:
        raise InvalidInput("errors.policies.contain_nul_characters", path=path)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("errors.policies.contains_invalid_character_lone", path=path) from None
    return value


def _show(value: Any) -> str:
    try:
        shown = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _only_keys(obj: dict[str, Any], allowed: tuple[str, ...], path: str) -> None:
    # Reject typos ("segment", "weigth") instead of silently ignoring them.
    for key in obj:
        if key not in allowed:
            where = path or "policy"
            raise InvalidInput("errors.policies.unknown_key_allowed", where=where, key=_show(key),
                               allowed=', '.join(allowed))


def _version(value: Any, path: str, existing: set[int]) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput("errors.policies.version_number_got", path=path, value=_show(value))
    if value not in existing:
        known = ", ".join(str(v) for v in sorted(existing)) or "none"
        raise InvalidInput("errors.policies.version_does_exist_existing", path=path, value=value, known=known)
    return value


def _weight(value: Any, path: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInput("errors.policies.number_got", path=path, value=_show(value))
    if not value > 0:
        raise InvalidInput("errors.policies.must_be_positive", path=path)
    return value


def _split(split: Any, path: str, existing: set[int]) -> list[dict[str, Any]]:
    if not isinstance(split, list) or not split:
        raise InvalidInput("errors.policies.non_empty_list_version", path=path)
    if len(split) > MAX_SPLIT:
        raise InvalidInput("errors.policies.has_entries_most", path=path, n=len(split), max_split=MAX_SPLIT)
    out: list[dict[str, Any]] = []
    seen: set[int] = set()
    for i, item in enumerate(split):
        if not isinstance(item, dict):
            raise InvalidInput("errors.policies.object_version_weight", path=path, i=i)
        _only_keys(item, ("version", "weight"), f"{path}[{i}]")
        v = _version(item.get("version"), f"{path}[{i}].version", existing)
        if v in seen:
            raise InvalidInput("errors.policies.version_version_appears_twice", path=path, i=i, v=v)
        seen.add(v)
        out.append({"version": v, "weight": _weight(item.get("weight"), f"{path}[{i}].weight")})
    total = math.fsum(s["weight"] for s in out)
    if abs(total - 100) > 1e-9:
        raise InvalidInput("errors.policies.weights_sum_100_got", path=path, total=total)
    return out


def _condition(c: Any, path: str) -> dict[str, Any]:
    if not isinstance(c, dict):
        raise InvalidInput("errors.policies.object_key_op_value", path=path)
    _only_keys(c, ("key", "op", "value"), path)
    key = _text(c.get("key"), f"{path}.key")
    op = c.get("op", "=")
    if op not in OPS:
        raise InvalidInput("errors.policies.op_got", path=path, ops=', '.join(OPS), op=_show(op))
    if op == "exists":
        return {"key": key, "op": op}
    value = c.get("value")
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise InvalidInput("errors.policies.value_non_empty_list", path=path, op=op)
        if len(value) > MAX_VALUES:
            raise InvalidInput("errors.policies.value_has_items_most", path=path, n=len(value), max_values=MAX_VALUES)
        return {"key": key, "op": op,
                "value": [_text(v, f"{path}.value[{j}]", empty_ok=True) for j, v in enumerate(value)]}
    return {"key": key, "op": op, "value": _text(value, f"{path}.value", empty_ok=True)}


def _when(when: Any, path: str) -> list[dict[str, Any]]:
    if not isinstance(when, list) or not when:
        raise InvalidInput("errors.policies.non_empty_list_conditions", path=path)
    if len(when) > MAX_CONDITIONS:
        raise InvalidInput("errors.policies.has_conditions_most", path=path, n=len(when), max_conditions=MAX_CONDITIONS)
    return [_condition(c, f"{path}[{i}]") for i, c in enumerate(when)]


def _segment(seg: Any, path: str, existing: set[int]) -> dict[str, Any]:
    if not isinstance(seg, dict):
        raise InvalidInput("errors.policies.object_name_when_version", path=path)
    _only_keys(seg, SEGMENT_KEYS, path)
    name = _text(seg.get("name"), f"{path}.name")
    if len(name) > MAX_SEGMENT_NAME:
        raise InvalidInput("errors.policies.name_too_long_characters", path=path, n=len(name),
                           max_segment_name=MAX_SEGMENT_NAME)
    out: dict[str, Any] = {"name": name,
                           "when": _when(seg.get("when"), f"{path}.when")}
    if ("version" in seg) == ("split" in seg):
        raise InvalidInput("errors.policies.needs_exactly_version_split", path=path)
    if "version" in seg:
        out["version"] = _version(seg["version"], f"{path}.version", existing)
    else:
        out["split"] = _split(seg["split"], f"{path}.split", existing)
    return out


def validate_policy(policy: dict[str, Any], existing_versions: set[int]) -> dict[str, Any]:
    """The normalised policy (explicit ops, known keys only), or InvalidInput naming the JSON path."""
    if not isinstance(policy, dict):
        raise InvalidInput("errors.policies.policy_object_split_segments")
    _only_keys(policy, POLICY_KEYS, "")
    out: dict[str, Any] = {}
    for key in ("salt", "sticky_key"):
        if policy.get(key) is not None:
            out[key] = _text(policy[key], key)
    out["split"] = _split(policy.get("split"), "split", existing_versions)
    segments = policy.get("segments")
    if segments is None:
        return out
    if not isinstance(segments, list):
        raise InvalidInput("errors.policies.segments_list_name_when")
    if len(segments) > MAX_SEGMENTS:
        raise InvalidInput("errors.policies.segments_has_entries_most", n=len(segments), max_segments=MAX_SEGMENTS)
    names: dict[str, int] = {}
    out_segments = []
    for i, seg in enumerate(segments):
        item = _segment(seg, f"segments[{i}]", existing_versions)
        if item["name"] in names:
            raise InvalidInput("errors.policies.segments_name_duplicate_segment", i=i, item=_show(item['name']),
                               names=names[item['name']])
        names[item["name"]] = i
        out_segments.append(item)
    if out_segments:
        out["segments"] = out_segments
    return out


# --- evaluation -------------------------------------------------------------------------------

def _meta(metadata: dict[str, Any], key: str) -> str | None:
    """A metadata value as text; None when absent. Non-strings are written as JSON would
    (true, 5), so a server that got them from JSON and a JS client agree."""
    value = metadata.get(key)
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _holds(c: dict[str, Any], value: str | None) -> bool:
    op = c.get("op", "=")
    # A missing key never equals anything, so "!=" and "not_in" include requests without it.
    if op == "=":
        return value is not None and value == c["value"]
    if op == "!=":
        return value != c["value"]
    if op == "in":
        return value is not None and value in c["value"]
    if op == "not_in":
        return value is None or value not in c["value"]
    if op == "exists":
        return bool(value)  # present and non-empty, like the sticky unit
    raise InvalidInput("errors.policies.unknown_condition_op", op=_show(op), ops=', '.join(OPS))


def matches(when: list[dict[str, Any]], metadata: dict[str, Any]) -> bool:
    """True when every condition holds for this request metadata (AND)."""
    return all(_holds(c, _meta(metadata, c["key"])) for c in when)


def rendezvous_u(salt: str, unit: str, version: int) -> float:
    """The uniform (0, 1) draw of one (salt, unit, version): first 52 bits of SHA-256, centred."""
    digest = hashlib.sha256(f"{salt}\x1f{unit}\x1f{version}".encode("utf-8")).digest()
    h = int.from_bytes(digest[:7], "big") >> 4  # 56 bits -> the first 52
    return (h + 0.5) / 2**52


def choose(split: list[dict[str, Any]], unit: str | None, salt: str,
           rng: random.Random | None = None) -> int:
    """One version of a split: sticky for a unit (rendezvous), else random by weight."""
    if unit is None:
        r = (rng or random).random() * math.fsum(s["weight"] for s in split)
        for s in split:
            r -= s["weight"]
            if r < 0:
                return s["version"]
        return split[-1]["version"]  # float round-off at the very top
    best = min(split, key=lambda s: (-math.log(rendezvous_u(salt, unit, s["version"])) / s["weight"],
                                     s["version"]))
    return best["version"]


def assign(policy: dict[str, Any], metadata: dict[str, Any], *, label: str,
           rng: random.Random | None = None) -> Assignment:
    """The version this request gets under a (validated) policy: first matching segment, else
    the default split; sticky on metadata[sticky_key] when present and non-empty."""
    sticky = policy.get("sticky_key")
    unit = (_meta(metadata, sticky) if sticky else None) or None
    salt = policy.get("salt") or label
    for seg in policy.get("segments") or []:
        if matches(seg["when"], metadata):
            if "version" in seg:
                return Assignment(seg["version"], rule_name(seg), unit)
            return Assignment(choose(seg["split"], unit, salt, rng), rule_name(seg), unit)
    return Assignment(choose(policy["split"], unit, salt, rng), DEFAULT_RULE, unit)


def rule_name(segment: dict[str, Any] | None) -> str:
    """The name a request's routing records for the rule that chose its version: 'split' (the
    default split), 'segment:NAME/split' (a segment's own split) or 'segment:NAME' (one version)."""
    if segment is None:
        return DEFAULT_RULE
    return f"segment:{segment['name']}" + ("" if "version" in segment else "/split")


def rules(policy: dict[str, Any]) -> dict[str, dict[int, float]]:
    """Every rule of a (validated) policy with the versions it serves and their weights. A rule
    with two or more versions is randomised (`is_randomised`); a one-version segment is not."""
    out = {rule_name(seg): ({seg["version"]: 100.0} if "version" in seg
                            else {s["version"]: float(s["weight"]) for s in seg["split"]})
           for seg in policy.get("segments") or []}
    out[DEFAULT_RULE] = {s["version"]: float(s["weight"]) for s in policy["split"]}
    return out


def served_versions(policy: dict[str, Any]) -> set[int]:
    """Every version a (validated) policy can serve, by any of its rules."""
    return {number for weights in rules(policy).values() for number in weights}


def is_randomised(weights: dict[int, float]) -> bool:
    return sum(1 for w in weights.values() if w > 0) >= 2
