"""Pure parts of the request pages: filter helpers -> filter text, error placement, and
conversation layout of the many logged shapes."""

from __future__ import annotations

import pytest

from promptyard.domain import query
from promptyard.web.ui import conversation, request_filters


def test_helpers_quote_values_and_keys_so_the_result_parses():
    form = {"h_meta_key": 'odd "key"', "h_meta_value": 'va"l\\ue', "h_tag": "日本語", "h_model": "gpt-4o",
            "h_score_name": "a.b", "h_score_op": "exists", "h_to": "2026-11-20T09:00"}
    parts = request_filters.helper_conditions(form, "Asia/Tokyo")
    assert parts == ['metadata."odd \\"key\\"" = "va\\"l\\\\ue"', "score.\"a.b\" exists", 'tag = "日本語"',
                     'model = "gpt-4o"', 'time < "2026-11-20T09:00:00+09:00"']
    node = query.parse(request_filters.combine("", parts))
    conds = list(query.conditions(node))
    assert conds[0] == query.Cond("metadata", 'odd "key"', "=", 'va"l\\ue')
    assert conds[-1].value.utcoffset().total_seconds() == 9 * 3600


def test_combine_keeps_an_or_whole_and_leaves_and_alone():
    assert request_filters.combine('a = "1"', []) == 'a = "1"'
    assert request_filters.combine('tag = "x" OR tag = "y"', ["status = ok"]) == '(tag = "x" OR tag = "y") AND status = ok'
    assert request_filters.combine('tag = "x" AND tag = "y"', ["status = ok"]) == 'tag = "x" AND tag = "y" AND status = ok'
    assert request_filters.combine("", ["status = ok", "tag = \"a\""]) == 'status = ok AND tag = "a"'


def test_unknown_ops_and_choices_are_not_trusted():
    parts = request_filters.helper_conditions({"h_score_name": "s", "h_score_op": "; DROP", "h_score_value": "5",
                                               "h_status": "maybe", "h_since": "-999d"}, "UTC")
    assert parts == ["score.s >= 5"]
    with pytest.raises(query.FilterSyntaxError):
        request_filters.helper_conditions({"h_from": "yesterday"}, "UTC")
    assert not request_filters.has_helpers({"h_score_op": ">=", "q": "x"})


def test_parse_errors_are_placed_in_the_text():
    node, err = request_filters.parse('metadata.env = "prod" AND', "UTC")
    assert node is None and err.position == 25 and err.before.endswith("AND") and err.at == " "
    node, err = request_filters.parse("score.x < 5", "UTC")
    assert err is None and node == query.Cond("score", "x", "<", 5)


def test_openai_chat_with_tool_calls_and_tool_results():
    turns = conversation.turns({"messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {}}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}]},
        {"role": "tool", "content": "42", "tool_call_id": "x"}], "temperature": 0}, "user")
    assert [t.role for t in turns] == ["system", "user", "assistant", "tool"]
    assert [p.kind for p in turns[1].parts] == ["text", "image"]
    assert turns[2].parts[0] == conversation.Part("tool_call", '{\n  "a": 1\n}', "f")
    assert turns[3].parts[0].kind == "tool_result" and turns[3].parts[0].text == "42"


def test_anthropic_blocks_completion_text_and_unknown_shapes():
    out = conversation.turns({"role": "assistant", "content": [
        {"type": "text", "text": "calling"}, {"type": "tool_use", "name": "lookup", "input": {"q": "x"}}]}, "assistant")
    assert [p.kind for p in out[0].parts] == ["text", "tool_call"] and out[0].parts[1].name == "lookup"
    assert conversation.turns({"system": "sys", "messages": [{"role": "user", "content": "q"}]}, "user")[0].role == "system"
    assert conversation.turns("plain answer", "assistant")[0].parts[0].text == "plain answer"
    assert conversation.turns({"text": "done", "raw": {}}, "assistant")[0].parts[0].text == "done"
    assert conversation.turns({"prompt": "complete me"}, "user")[0].parts[0].text == "complete me"
    assert conversation.turns({"weird": 1}, "user") is None and conversation.turns(None, "user") is None
    assert conversation.turns(7, "user") is None


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

STORABLE = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")  # others are refused
TEXT = st.text(STORABLE, min_size=1, max_size=30).filter(str.strip)


@settings(max_examples=200, deadline=None)
@given(key=TEXT, value=st.text(STORABLE, max_size=30), tag=TEXT, model=TEXT)
def test_any_helper_text_becomes_a_filter_that_means_exactly_it(key, value, tag, model):  # noqa: ANN001
    form = {"h_meta_key": key, "h_meta_value": value, "h_tag": tag, "h_model": model}
    node = query.parse(request_filters.combine("", request_filters.helper_conditions(form, "UTC")))
    conds = list(query.conditions(node))
    assert conds[0] == query.Cond("metadata", key.strip(), "=", value.strip())
    assert conds[1] == query.Cond("tag", None, "=", tag.strip())
    assert conds[2] == query.Cond("model", None, "=", model.strip())
