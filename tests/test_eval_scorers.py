"""domain/scorers.py (deterministic scorers) and domain/judges.py (reading an LLM judge's answer)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptyard import catalogue
from promptyard.domain import judges, scorers
from promptyard.domain.judges import JudgeAnswerError
from promptyard.errors import InvalidInput


def one(spec: dict, output: str, expected: str | None = None) -> scorers.Outcome:
    return scorers.parse(spec).score(output, expected)


# --- exact match, contains, normalisation --------------------------------------------------------


@pytest.mark.parametrize("normalize,output,expected,value", [
    (None, "  Tokyo\n", "Tokyo", 100.0),  # trims by default
    (None, "tokyo", "Tokyo", 0.0),
    (["trim", "case"], "TOKYO ", "tokyo", 100.0),
    ([], " Tokyo", "Tokyo", 0.0),
    (["nfkc"], "ＡＢＣ１２３", "ABC123", 100.0),  # full-width Latin and digits
    (["nfkc"], "ｶﾀｶﾅ", "カタカナ", 100.0),  # half-width katakana
    (["nfkc"], "ｶﾞｯｺｳ", "ガッコウ", 100.0),  # with a voiced mark
    ([], "ｶﾀｶﾅ", "カタカナ", 0.0),
    (["whitespace", "trim"], "一日  ３回\n食後", "一日 ３回 食後", 100.0),
    (["nfkc", "case", "trim"], " Ｔｏｋｙｏ ", "tokyo", 100.0),
])
def test_exact_match(normalize, output, expected, value):
    spec = {"type": "exact_match"} if normalize is None else {"type": "exact_match", "normalize": normalize}
    assert one(spec, output, expected).value == value


def test_exact_match_without_expected_output_is_a_recorded_failure():
    got = one({"type": "exact_match", "name": "exact"}, "anything", None)
    assert got.value is None and got.error == "errors.scorers.no_expected"
    assert "exact" in catalogue.translate("en", got.error, **got.params)
    assert "exact" in catalogue.translate("ja", got.error, **got.params)


def test_contains_and_not_contains():
    assert one({"type": "contains", "value": "aspirin"}, "Take aspirin daily").value == 100
    assert one({"type": "contains", "value": ["ibuprofen", "アスピリン"]}, "アスピリンを1錠").value == 100
    assert one({"type": "contains", "value": "ASPIRIN"}, "aspirin").value == 0
    assert one({"type": "contains", "value": "ASPIRIN", "normalize": ["case"]}, "aspirin").value == 100
    assert one({"type": "contains", "value": "１錠", "normalize": ["nfkc"]}, "1錠を服用").value == 100
    assert one({"type": "contains"}, "the answer is 42.", "42").value == 100  # no value: the expected output
    assert one({"type": "contains"}, "x", None).error == "errors.scorers.no_expected"
    assert one({"type": "not_contains", "value": ["I cannot", "申し訳"]}, "Here is the dose").value == 100
    assert one({"type": "not_contains", "value": ["I cannot", "申し訳"]}, "申し訳ありませんが").value == 0


# --- regex ----------------------------------------------------------------------------------------


def test_regex_search_fullmatch_and_flags():
    assert one({"type": "regex", "pattern": r"\d{3}-\d{4}"}, "〒100-0001 東京都").value == 100
    assert one({"type": "regex", "pattern": r"\d{3}-\d{4}", "full": True}, "〒100-0001").value == 0
    assert one({"type": "regex", "pattern": r"^yes$", "flags": "im"}, "Well\nYES\n").value == 100
    assert one({"type": "regex", "pattern": r"^yes$"}, "Well\nYES\n").value == 0


@pytest.mark.parametrize("pattern", [r"(x+x+)+y", r"(\w+\s?)+$", r"(a|aa)+$", r"(.*a){20}"])
def test_hostile_regex_times_out_instead_of_hanging(pattern):
    scorer = scorers.parse({"type": "regex", "pattern": pattern, "name": "rx"})
    started = time.perf_counter()
    got = scorer.score("x" * 5000 + "a" * 5000 + "!")
    assert time.perf_counter() - started < 1.0
    assert got.value in (0.0, 100.0) or got.error == "errors.scorers.regex_timeout"
    if got.error:
        assert got.params == {"scorer": "rx", "seconds": scorers.REGEX_TIMEOUT_S}


def test_regex_that_would_be_slow_to_compile_is_refused():
    started = time.perf_counter()
    with pytest.raises(InvalidInput) as exc:
        scorers.parse({"type": "regex", "pattern": "((a{100}){100}){100}"})
    assert exc.value.key == "errors.scorers.pattern_repeats" and time.perf_counter() - started < 0.2
    with pytest.raises(InvalidInput, match="1-500 characters"):
        scorers.parse({"type": "regex", "pattern": "a" * 501})
    with pytest.raises(InvalidInput, match=r"scorers\[0\]\.pattern: not a valid regular expression"):
        scorers.parse({"type": "regex", "pattern": "(unclosed"})
    with pytest.raises(InvalidInput, match="flags"):
        scorers.parse({"type": "regex", "pattern": "a", "flags": "g"})


# --- JSON -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("output,value", [
    ('{"dose": "5 mg"}', 100), ('  [1, 2]\n', 100), ('```json\n{"a": 1}\n```', 100), ("```\n[]\n```", 100),
    ("Here you go: {\"a\": 1}", 0), ("{'a': 1}", 0), ("", 0), ("[" * 100_000, 0), ("NaN-ish", 0),
])
def test_valid_json(output, value):
    assert one({"type": "valid_json"}, output).value == value


SCHEMA = {"type": "object", "required": ["dose", "unit"],
          "properties": {"dose": {"type": "number", "minimum": 0}, "unit": {"enum": ["mg", "g"]},
                         "code": {"type": "string", "pattern": "^[A-Z]{2}\\d+$"}}}


@pytest.mark.parametrize("output,value", [
    ('{"dose": 5, "unit": "mg"}', 100), ('{"dose": -1, "unit": "mg"}', 0), ('{"dose": 5}', 0),
    ('{"dose": 5, "unit": "mg", "code": "AB12"}', 100), ('{"dose": 5, "unit": "mg", "code": "ab"}', 0),
    ("not json", 0), ('```json\n{"dose": 1, "unit": "g"}\n```', 100),
])
def test_json_schema(output, value):
    got = one({"type": "json_schema", "schema": SCHEMA}, output)
    assert got.value == value
    assert (got.comment is None) == (value == 100)


def test_json_schema_with_hostile_pattern_is_bounded():
    schema = {"type": "object", "properties": {"a": {"type": "string", "pattern": "(x+x+)+y"}}}
    started = time.perf_counter()
    got = one({"type": "json_schema", "schema": schema, "name": "shape"}, '{"a": "' + "x" * 5000 + '"}')
    assert time.perf_counter() - started < 1.0
    assert got.error == "errors.scorers.regex_timeout" or got.value == 0


def test_bad_schemas_are_refused_when_the_run_is_created():
    with pytest.raises(InvalidInput, match=r"scorers\[0\]\.schema: not a valid JSON schema"):
        scorers.parse({"type": "json_schema", "schema": {"type": "nonsense"}})
    with pytest.raises(InvalidInput, match="schema"):
        scorers.parse({"type": "json_schema", "schema": "object"})
    with pytest.raises(InvalidInput) as exc:
        scorers.parse({"type": "json_schema", "schema": {"properties": {"a": {"pattern": "(bad"}}}})
    assert exc.value.key in ("errors.scorers.schema_invalid", "errors.scorers.pattern_invalid")


# --- length and similarity ------------------------------------------------------------------------


def test_length_bounds_count_characters():
    assert one({"type": "length", "min": 3, "max": 5}, "東京都").value == 100  # 3 characters, 9 bytes
    assert one({"type": "length", "max": 5}, "東京都千代田区").value == 0
    assert one({"type": "length", "min": 1}, "").value == 0
    with pytest.raises(InvalidInput, match="min, max or both"):
        scorers.parse({"type": "length"})
    with pytest.raises(InvalidInput, match="min is larger than max"):
        scorers.parse({"type": "length", "min": 5, "max": 2})
    with pytest.raises(InvalidInput, match=r"scorers\[0\]\.min"):
        scorers.parse({"type": "length", "min": -1})
    with pytest.raises(InvalidInput, match=r"scorers\[0\]\.max"):
        scorers.parse({"type": "length", "max": True})


def dp_levenshtein(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcあいう漢字 ", max_size=90), st.text(alphabet="abcあいう漢字 ", max_size=90))
def test_levenshtein_matches_the_textbook_recurrence(a, b):
    assert scorers.levenshtein(a, b) == dp_levenshtein(a, b)


def test_similarity():
    assert scorers.levenshtein("kitten", "sitting") == 3
    assert one({"type": "similarity"}, "sitting", "kitten").value == pytest.approx(100 * (1 - 3 / 7), abs=1e-3)
    assert one({"type": "similarity"}, "東京都", "京都府").value == pytest.approx(100 / 3, abs=1e-3)
    assert one({"type": "similarity"}, "", " ").value == 100  # both empty after trimming
    assert one({"type": "similarity", "normalize": ["nfkc"]}, "ＡＢＣ", "ABC").value == 100
    assert one({"type": "similarity"}, "abc", None).error == "errors.scorers.no_expected"


def test_similarity_of_long_texts_is_fast():
    a, b = "薬を一日三回食後に服用してください。" * 250, "薬を一日二回食前に服用してください。" * 250  # 4,500 characters
    started = time.perf_counter()
    value = one({"type": "similarity"}, a, b).value
    assert time.perf_counter() - started < 1.0
    assert value == pytest.approx(100 * (1 - 500 / 4500), abs=1e-3)


# --- specs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("specs,key,field", [
    ("exact_match", "errors.scorers.not_list", "scorers"),
    ([{"type": "exact_match"}] * 21, "errors.scorers.not_list", "scorers"),
    (["exact_match"], "errors.scorers.not_object", "scorers[0]"),
    ([{"type": "bleu"}], "errors.scorers.unknown_type", "scorers[0].type"),
    ([{}], "errors.scorers.unknown_type", "scorers[0].type"),
    ([{"type": "exact_match", "name": "has space"}], "errors.scorers.name", "scorers[0].name"),
    ([{"type": "exact_match"}, {"type": "exact_match"}], "errors.scorers.name_twice", "scorers[1].name"),
    ([{"type": "exact_match", "pattern": "x"}], "errors.scorers.unknown_option", "scorers[0].pattern"),
    ([{"type": "exact_match", "normalize": ["lower"]}], "errors.scorers.normalize", "scorers[0].normalize"),
    ([{"type": "contains", "value": ""}], "errors.scorers.values", "scorers[0].value"),
    ([{"type": "contains", "value": [1]}], "errors.scorers.values", "scorers[0].value"),
    ([{"type": "regex", "pattern": "a", "full": "yes"}], "errors.scorers.not_bool", "scorers[0].full"),
])
def test_bad_specs_name_the_field(specs, key, field):
    with pytest.raises(InvalidInput) as exc:
        scorers.parse_all(specs)
    assert exc.value.key == key and exc.value.details == {"field": field}
    assert exc.value.message.startswith(field) and exc.value.text("ja").startswith(field)
    assert exc.value.text("ja") != exc.value.message


def test_parse_all_keeps_names_and_specs():
    got = scorers.parse_all([{"type": "exact_match"}, {"type": "contains", "name": "mentions_dose", "value": "mg"}])
    assert [s.name for s in got] == ["exact_match", "mentions_dose"]
    assert got[1].spec == {"type": "contains", "name": "mentions_dose", "value": "mg"}


# --- judges ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("answer,value,reason", [
    ('{"score": 4, "reason": "Correct dose, misses one interaction."}', 75, "Correct dose, misses one interaction."),
    ('```json\n{"score": 5, "reason": "Complete."}\n```', 100, "Complete."),
    ('Here is my evaluation:\n```json\n{\n  "reasoning": "Mostly right",\n  "score": 3\n}\n```\nThanks.',
     50, "Mostly right"),
    ('I looked at it. {"Score": "4/5", "Explanation": "good"} That is all.', 75, "good"),
    ('{"rating": 2.5}', 37.5, None),
    ("The answer is accurate and complete.\nScore: 4/5", 75, "The answer is accurate and complete."),
    ("**Score:** 5\n**Reason:** nothing missing", 100, "nothing missing"),
    ("Rating: 4 out of 5. The answer is helpful.", 75, "The answer is helpful."),
    ("A score of 1 means wrong, 5 means perfect. This answer is mostly right.\nFinal score: 4", 75, None),
    ("スコア：４\n理由：用量は正しいですが、相互作用の説明が不足しています。", 75,
     "用量は正しいですが、相互作用の説明が不足しています。"),
    ("スコア: 5", 100, None),
    ("評価は３です。", 50, None),
    ("5点中4点です。副作用の説明がやや不足しています。", 75, None),
    ('{"スコア": "２", "理由": "誤りがあります"}', 25, "誤りがあります"),
    ("4", 75, None),
    ("４／５", 75, None),
    ("8/10", 80, None),  # a fraction of its own scale
    ("1", 0, None),
])
def test_judge_answers_in_many_shapes(answer, value, reason):
    got = judges.parse_answer(answer, (1, 5))
    assert got.value == pytest.approx(value)
    if reason is not None:
        assert got.reason == reason


def test_judge_scale_maps_to_0_100():
    assert judges.parse_answer("Score: 7", (0, 10)).value == 70
    assert judges.parse_answer('{"score": 85}', (0, 100)).value == 85
    assert judges.parse_answer("Score: 7/10", (0, 10)).value == 70


@pytest.mark.parametrize("answer,key", [
    ("Score: 7", "errors.judges.out_of_range"), ("Score: 0", "errors.judges.out_of_range"),
    ('{"score": -1}', "errors.judges.out_of_range"), ("Score: 6/5", "errors.judges.out_of_range"),
    ("I cannot evaluate this.", "errors.judges.no_score"), ('{"score": true}', "errors.judges.no_score"),
    ('{"score": null, "reason": "unsure"}', "errors.judges.no_score"), ("", "errors.judges.empty_answer"),
    ("   ", "errors.judges.empty_answer"), (None, "errors.judges.empty_answer"),
    ("Score: 4/0", "errors.judges.no_score"),
])
def test_unusable_judge_answers_are_clear_failures(answer, key):
    with pytest.raises(JudgeAnswerError) as exc:
        judges.parse_answer(answer, (1, 5))
    assert exc.value.key == key
    assert exc.value.text("ja") != exc.value.message  # both languages say it


def test_huge_judge_answer_is_read_quickly():
    answer = "blah " * 100_000 + "\nScore: 3"
    started = time.perf_counter()
    assert judges.parse_answer(answer).value == 50
    assert time.perf_counter() - started < 1.0
    assert judges.parse_answer("{" * 50_000 + "\nScore: 2").value == 25


def test_judge_specs():
    spec = judges.parse_spec({"type": "judge", "prompt": "judges/medical", "label": "prod", "name": "medically_correct"})
    assert (spec.prompt, spec.label, spec.version, spec.scale, spec.name) == (
        "judges/medical", "prod", None, (1.0, 5.0), "medically_correct")
    for bad, key in [({"prompt": ""}, "prompt"), ({"prompt": "j", "version": 0}, "version"),
                     ({"prompt": "j", "version": 1, "label": "prod"}, "version_and_label"),
                     ({"prompt": "j", "scale": [5, 1]}, "scale"), ({"prompt": "j", "scale": [1, "5"]}, "scale"),
                     ({"prompt": "j", "label": "bad label"}, "label"), ({"prompt": "j", "rubric": "x"}, "unknown_option")]:
        with pytest.raises(InvalidInput) as exc:
            judges.parse_spec(bad)
        assert exc.value.key == f"errors.judges.{key}"
    assert judges.author("judges/medical", 3, "gpt-4o-mini") == "judge:judges/medical@v3/gpt-4o-mini"
