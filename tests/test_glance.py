"""The request list's question and answer lines (web/ui/glance.py, pure): which text is the question
and which the answer across the logged shapes, and where the search's mark falls."""

from __future__ import annotations

import pytest

from promptyard.web.ui import glance, list_columns

pytestmark = pytest.mark.one_database  # no storage involved


@pytest.mark.parametrize("value, question", [
    ({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "一つ目"},
                   {"role": "assistant", "content": "a"}, {"role": "user", "content": "二つ目"}]}, "二つ目"),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": "画像の薬は?"}, {"type": "image"}]}]}, "画像の薬は?"),
    ({"system": "s", "messages": [{"role": "user", "content": "anthropic"}]}, "anthropic"),
    ("a plain prompt", "a plain prompt"), ({"prompt": "completion"}, "completion"), (None, ""), (42, ""),
])
def test_the_question_is_the_last_user_message(value, question):
    assert glance.question_text(value) == question


def test_the_answer_is_the_outputs_text_without_tool_calls():
    out = {"role": "assistant", "content": "見てみます", "tool_calls": [
        {"type": "function", "function": {"name": "lookup", "arguments": "{}"}}]}
    assert glance.answer_text(out) == "見てみます"
    assert glance.answer_text({"choices": [{"message": {"role": "assistant", "content": "c"}}]}) == "c"
    assert glance.answer_text({"role": "assistant", "content": [{"type": "text", "text": "anthropic blocks"},
                                                              {"type": "tool_use", "name": "f", "input": {}}]}) == "anthropic blocks"


def test_first_line_unless_the_search_marks_another():
    text = "\n  最初の行\n二行目の用量\n三行目"
    assert glance.line(text, [], "question") == glance.Line("最初の行")
    hit = glance.line(text, [("text", "ようりょう"), ("input", "用量")], "question")
    assert hit.text[hit.start:hit.end] == "用量" and hit.text == "二行目の用量"
    assert not glance.line(text, [("output", "用量")], "question").marked  # an output condition: not the question
    far = glance.line("x" * 100 + "ＡＢＣ" + "y" * 300, [("text", "abc")], "answer")
    assert far.text.startswith("…" + "x" * glance.LEAD) and far.text[far.start:far.end] == "ＡＢＣ"
    assert glance.line("", [("text", "a")], "answer") is None
    assert len(glance.line("z" * 1000, [], "answer").text) == glance.LINE


def test_columns_default_and_choice():
    items = [{"scores": {"b": 1, "a": 2, "c": 3}, "metadata": {"k2": "v", "k1": "v"}}]
    assert list_columns.shown(None, items) == {"built_in": list(list_columns.DEFAULT), "scores": ["a", "b"],
                                               "metadata": ["k1"]}
    chosen = list_columns.chosen(list_columns.encode(["answer", "score:c", "meta:東", "question", "bogus", "answer"]))
    assert chosen == ["answer", "score:c", "meta:東", "question"]
    assert list_columns.shown(chosen, items) == {"built_in": ["question", "answer"], "scores": ["c"], "metadata": ["東"]}
    assert list_columns.chosen("not base64 !") is None and list_columns.chosen(None) is None
    assert list_columns.is_list_path("/ui/requests?q=x") and not list_columns.is_list_path("//evil.example/ui/requests")
    assert not list_columns.is_list_path("/ui/requestsX") and not list_columns.is_list_path("https://x/ui/requests")
