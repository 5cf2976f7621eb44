"""Release-label routing: validation messages, segment matching, sticky weighted rendezvous
hashing (shares, stickiness, few moves on reweighting) and the shared test vectors that the
SDK, the server and the JS client all replay."""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections import Counter
from pathlib import Path

import pytest

from promptyard.domain import routing
from promptyard.domain.routing import Assignment, assign, matches, validate_policy
from promptyard.errors import InvalidInput

VECTORS = Path(__file__).parent / "vectors" / "routing.json"
UNITS = [f"unit-{i}" for i in range(100_000)]
EXAMPLE = {"sticky_key": "user_id",
           "split": [{"version": 3, "weight": 90}, {"version": 4, "weight": 10}],
           "segments": [
               {"name": "staff", "when": [{"key": "role", "op": "=", "value": "staff"}], "version": 5},
               {"name": "pilot", "when": [{"key": "user_id", "op": "in", "value": ["u1", "u2"]}],
                "split": [{"version": 4, "weight": 50}, {"version": 5, "weight": 50}]}]}


def sticky(*weights: tuple[int, float], salt: str | None = None) -> dict:
    policy = {"sticky_key": "user_id", "split": [{"version": v, "weight": w} for v, w in weights]}
    return {**policy, "salt": salt} if salt else policy


def versions_of(policy: dict, units: list[str], label: str = "production") -> list[int]:
    return [assign(policy, {"user_id": u}, label=label).version for u in units]


# --- independent reference: hashlib by hand, hex digits instead of bytes --------------------

def reference_choice(salt: str, unit: str, split: list[dict]) -> int:
    scores = []
    for s in split:
        h = int(hashlib.sha256(f"{salt}\x1f{unit}\x1f{s['version']}".encode()).hexdigest()[:13], 16)
        scores.append((-math.log((h + 0.5) / 2**52) / s["weight"], s["version"]))
    return min(scores)[1]


# --- shared vectors -------------------------------------------------------------------------

def load_vectors() -> list[dict]:
    return json.loads(VECTORS.read_text(encoding="utf-8"))


def test_vectors_file_is_well_formed_and_covers_the_rules():
    cases = load_vectors()
    assert 35 <= len(cases) <= 60
    rules = {c["expected"]["rule"].split(":")[0] + ("/split" if "/" in c["expected"]["rule"] else "")
             for c in cases}
    assert rules == {"split", "segment", "segment/split"}
    ops = {cond["op"] for c in cases for seg in c["policy"].get("segments", []) for cond in seg["when"]}
    assert ops == set(routing.OPS)
    assert any("患者-001" in c["metadata"].values() for c in cases)
    assert any("salt" in c["policy"] for c in cases)


@pytest.mark.parametrize("case", load_vectors(), ids=lambda c: c["name"])
def test_vectors_replay(case):
    policy = case["policy"]
    versions = {s["version"] for s in policy["split"]}
    for seg in policy.get("segments", []):
        versions |= {seg["version"]} if "version" in seg else {s["version"] for s in seg["split"]}
    assert validate_policy(policy, versions) == policy  # stored in normalised form
    # Deterministic cases only: no rng may be consulted.
    got = assign(policy, case["metadata"], label=case["label"], rng=ExplodingRandom())
    assert {"version": got.version, "rule": got.rule} == case["expected"]


class ExplodingRandom(random.Random):
    def random(self) -> float:
        raise AssertionError("a sticky or single-version case consulted the random generator")


def test_vectors_match_an_independent_computation():
    checked = 0
    for case in load_vectors():
        policy, rule = case["policy"], case["expected"]["rule"]
        if rule != "split":
            continue
        unit = case["metadata"][policy["sticky_key"]]
        salt = policy.get("salt", case["label"])
        assert reference_choice(salt, unit, policy["split"]) == case["expected"]["version"], case["name"]
        checked += 1
    assert checked >= 20


def test_hash_matches_hand_computation_for_a_unicode_unit():
    digest = hashlib.sha256("production\x1f患者-001\x1f3".encode("utf-8")).digest()
    h = int.from_bytes(digest, "big") >> (256 - 52)
    assert routing.rendezvous_u("production", "患者-001", 3) == (h + 0.5) / 2**52


# --- shares, stickiness, moves --------------------------------------------------------------

@pytest.mark.parametrize("weights", [((3, 90), (4, 10)), ((1, 50), (2, 30), (3, 20))])
def test_observed_split_is_within_one_point_of_the_weights(weights):
    counts = Counter(versions_of(sticky(*weights), UNITS))
    for version, weight in weights:
        assert abs(100 * counts[version] / len(UNITS) - weight) < 1.0, (version, counts)


def test_same_unit_gets_the_same_version_every_time():
    policy = sticky((1, 50), (2, 30), (3, 20))
    first = versions_of(policy, UNITS[:2000])
    for _ in range(3):
        assert versions_of(policy, UNITS[:2000]) == first
    assert set(first) == {1, 2, 3}


def test_split_list_order_does_not_matter():
    forward = versions_of(sticky((1, 50), (2, 30), (3, 20)), UNITS[:5000])
    backward = versions_of(sticky((3, 20), (1, 50), (2, 30)), UNITS[:5000])
    assert forward == backward


def test_salt_defaults_to_label_and_reshuffles():
    policy = sticky((1, 50), (2, 50))
    prod = versions_of(policy, UNITS[:2000], label="production")
    assert versions_of(sticky((1, 50), (2, 50), salt="production"), UNITS[:2000], label="other") == prod
    other = versions_of(policy, UNITS[:2000], label="experimental")
    assert 0.4 < sum(a != b for a, b in zip(prod, other)) / 2000 < 0.6  # independent draws


def test_moving_90_10_to_80_20_moves_about_ten_percent_only_from_v3_to_v4():
    before = versions_of(sticky((3, 90), (4, 10)), UNITS)
    after = versions_of(sticky((3, 80), (4, 20)), UNITS)
    moves = Counter((a, b) for a, b in zip(before, after) if a != b)
    assert set(moves) == {(3, 4)}
    assert 0.095 < moves[(3, 4)] / len(UNITS) <= 0.105


def test_removing_a_version_moves_only_its_units():
    before = versions_of(sticky((1, 50), (2, 30), (3, 20)), UNITS)
    after = versions_of(sticky((1, 62.5), (2, 37.5)), UNITS)
    for a, b in zip(before, after):
        if a != 3:
            assert a == b
    moved = Counter(b for a, b in zip(before, after) if a == 3)
    assert abs(moved[1] / sum(moved.values()) - 0.625) < 0.02  # v3's units spread by weight


def test_ties_go_to_the_lower_version(monkeypatch):
    monkeypatch.setattr(routing, "rendezvous_u", lambda salt, unit, version: 0.5)
    assert assign(sticky((9, 50), (2, 50)), {"user_id": "x"}, label="p").version == 2


# --- segments and conditions ----------------------------------------------------------------

def test_segment_rules_win_over_the_split():
    policy = validate_policy(EXAMPLE, {3, 4, 5})
    for u in UNITS[:500]:
        assert assign(policy, {"user_id": u, "role": "staff"}, label="production") == \
            Assignment(5, "segment:staff", u)
    pilot = {assign(policy, {"user_id": u}, label="production") for u in ("u1", "u2")}
    assert {a.rule for a in pilot} == {"segment:pilot/split"}
    assert {a.version for a in pilot} <= {4, 5}


def test_first_matching_segment_wins():
    policy = validate_policy(EXAMPLE, {3, 4, 5})
    assert assign(policy, {"user_id": "u1", "role": "staff"}, label="p").rule == "segment:staff"
    swapped = {**policy, "segments": policy["segments"][::-1]}
    assert assign(swapped, {"user_id": "u1", "role": "staff"}, label="p").rule == "segment:pilot/split"


def test_no_unit_means_random_by_weight_with_the_given_rng():
    policy = validate_policy(EXAMPLE, {3, 4, 5})
    rng = random.Random(7)
    picks = [assign(policy, {"user_id": ""}, label="p", rng=rng) for _ in range(20_000)]
    assert {p.unit for p in picks} == {None} and {p.rule for p in picks} == {"split"}
    share = sum(p.version == 4 for p in picks) / len(picks)
    assert 0.09 < share < 0.11
    again = [assign(policy, {}, label="p", rng=random.Random(7)).version for _ in range(3)]
    assert len(set(again)) == 1  # same seed, same draw


@pytest.mark.parametrize(("op", "value", "metadata", "expected"), [
    ("=", "a", {"k": "a"}, True), ("=", "a", {"k": "b"}, False), ("=", "a", {}, False),
    ("=", "", {"k": ""}, True),
    ("!=", "a", {"k": "b"}, True), ("!=", "a", {"k": "a"}, False), ("!=", "a", {}, True),
    ("in", ["a", "b"], {"k": "b"}, True), ("in", ["a"], {"k": "c"}, False), ("in", ["a"], {}, False),
    ("not_in", ["a"], {"k": "c"}, True), ("not_in", ["a"], {"k": "a"}, False), ("not_in", ["a"], {}, True),
    ("exists", None, {"k": "x"}, True), ("exists", None, {"k": ""}, False), ("exists", None, {}, False),
    ("=", "5", {"k": 5}, True), ("=", "true", {"k": True}, True), ("exists", None, {"k": None}, False),
])
def test_condition_ops(op, value, metadata, expected):
    cond = {"key": "k", "op": op, **({} if value is None else {"value": value})}
    assert matches([cond], metadata) is expected


def test_conditions_are_anded():
    when = [{"key": "a", "op": "=", "value": "1"}, {"key": "b", "op": "exists"}]
    assert matches(when, {"a": "1", "b": "x"})
    assert not matches(when, {"a": "1"})
    assert not matches(when, {"a": "2", "b": "x"})


# --- validation -----------------------------------------------------------------------------

def bad(**changes) -> dict:
    return {**EXAMPLE, **changes}


@pytest.mark.parametrize(("policy", "message"), [
    ("nope", "policy must be an object"),
    (bad(split=[{"version": 3, "weight": 90}, {"version": 4, "weight": 0}]), "split[1].weight must be > 0"),
    (bad(split=[{"version": 3, "weight": 90}, {"version": 4, "weight": -5}]), "split[1].weight must be > 0"),
    (bad(split=[{"version": 3, "weight": 90}, {"version": 4, "weight": "10"}]), "split[1].weight must be a number"),
    (bad(split=[{"version": 3, "weight": 90}, {"version": 4, "weight": float("nan")}]),
     "split[1].weight must be a number"),
    (bad(split=[{"version": 3, "weight": 85}, {"version": 4, "weight": 10}]),
     "split weights must sum to 100 (got 95)"),
    (bad(split=[{"version": 3, "weight": 90}, {"version": 9, "weight": 10}]),
     "split[1].version: version 9 does not exist"),
    (bad(split=[{"version": 3, "weight": 50}, {"version": 3, "weight": 50}]),
     "split[1].version: version 3 appears twice"),
    (bad(split=[{"version": True, "weight": 100}]), "split[0].version must be a version number"),
    (bad(split=[]), "split must be a non-empty list"),
    (bad(split=None), "split must be a non-empty list"),
    (bad(split=[{"version": 3, "wieght": 100}]), "split[0] has unknown key \"wieght\""),
    (bad(segment=[]), "policy has unknown key \"segment\""),
    (bad(segments={"name": "x"}), "segments must be a list"),
    (bad(segments=[{"name": "a", "when": [{"key": "role", "op": "~", "value": "x"}], "version": 3}]),
     "segments[0].when[0].op must be one of =, !=, in, not_in, exists"),
    (bad(segments=[{"name": "a", "when": [], "version": 3}]), "segments[0].when must be a non-empty list"),
    (bad(segments=[{"name": "a", "when": [{"key": "", "value": "x"}], "version": 3}]),
     "segments[0].when[0].key must not be empty"),
    (bad(segments=[{"name": "a", "when": [{"key": "r", "op": "in", "value": "x"}], "version": 3}]),
     "segments[0].when[0].value must be a non-empty list of strings for 'in'"),
    (bad(segments=[{"name": "a", "when": [{"key": "r", "op": "not_in", "value": ["x", 3]}], "version": 3}]),
     "segments[0].when[0].value[1] must be a string"),
    (bad(segments=[{"name": "a", "when": [{"key": "r", "value": 7}], "version": 3}]),
     "segments[0].when[0].value must be a string"),
    (bad(segments=[{"name": "a", "when": [{"key": "r", "value": "a\x00b"}], "version": 3}]),
     "segments[0].when[0].value must not contain NUL"),
    (bad(segments=[{"name": "a", "when": [{"key": "r", "value": "x"}], "version": 3, "split": []}]),
     "segments[0] needs exactly one of version or split"),
    (bad(segments=[{"name": "a", "when": [{"key": "r", "value": "x"}]}]),
     "segments[0] needs exactly one of version or split"),
    (bad(segments=[{"name": "a", "when": [{"key": "r", "value": "x"}], "version": 9}]),
     "segments[0].version: version 9 does not exist"),
    (bad(segments=[{"name": "a", "when": [{"key": "r", "value": "x"}],
                    "split": [{"version": 3, "weight": 60}]}]), "segments[0].split weights must sum to 100 (got 60)"),
    (bad(segments=[{"name": "a", "when": [{"key": "r", "value": "x"}], "version": 3},
                   {"name": "a", "when": [{"key": "r", "value": "y"}], "version": 4}]),
     "segments[1].name: duplicate segment name \"a\""),
    (bad(segments=[{"when": [{"key": "r", "value": "x"}], "version": 3}]), "segments[0].name must be a string"),
    (bad(sticky_key=""), "sticky_key must not be empty"),
    (bad(salt=5), "salt must be a string"),
    (bad(salt="\ud800"), "salt contains an invalid character"),
])
def test_invalid_policies_name_the_json_path(policy, message):
    with pytest.raises(InvalidInput) as err:
        validate_policy(policy, {3, 4, 5})
    assert message in str(err.value)


def test_validate_normalises():
    policy = {"split": [{"version": 1, "weight": 33.3}, {"version": 2, "weight": 33.3},
                        {"version": 3, "weight": 33.4}],
              "sticky_key": "user_id", "salt": None, "segments": []}
    out = validate_policy(policy, {1, 2, 3})
    assert out == {"sticky_key": "user_id", "split": policy["split"]}  # no salt, no empty segments
    seg = validate_policy({**EXAMPLE, "segments": [{"name": "s", "when": [{"key": "r", "value": "x"}],
                                                    "version": 3}]}, {3, 4})
    assert seg["segments"][0]["when"] == [{"key": "r", "op": "=", "value": "x"}]  # explicit default op
