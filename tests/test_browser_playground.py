"""Chromium against a real `promptyard serve`, in the Japanese UI: from a logged request to the playground, edit
the draft and a second one, run both against the fake provider, see both answers beside the logged one, score
one with a pass/fail score config, save it as a new version and find that version in the registry (the
production label where it was); with JavaScript and without it (plain forms); hostile text in the log never runs."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.browser import PAYLOADS, TEXTS, new_page
from tests.support import log, ours

pytestmark = [pytest.mark.one_database, pytest.mark.browser]


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_open_a_request_in_the_playground_run_two_drafts_score_and_save_in_japanese(browser, live, fake_llm, js):  # noqa: ANN001
    name = f"薬局/プレイグラウンド-{uuid.uuid4().hex[:6]}"
    ours(live, "POST", "/api/v1/publish", json={
        "name": name, "commit_message": "first", "labels": ["production"],
        "messages": [{"role": "system", "content": "薬剤師として {drug} について短く答える。"},
                     {"role": "user", "content": "{question}"}]})
    sent = log(prompt={"name": name, "label": "production", "variables": {"drug": "ロキソニン", "question": "1日何回?"}},
               output={"text": "1日3回までです。" + PAYLOADS[1]})
    ours(live, "POST", "/api/v1/requests", json={"requests": [sent]})
    number = ours(live, "GET", f"/api/v1/requests/{sent['id']}")["number"]
    ours(live, "POST", "/api/v1/providers", json={"name": f"fake-{uuid.uuid4().hex[:6]}", "kind": "openai",
                                                  "base_url": fake_llm.openai_base_url, "secret": "sk-fake",
                                                  "default_model": "gpt-4o-mini"})
    config = f"medically_correct_{uuid.uuid4().hex[:4]}"
    ours(live, "POST", "/api/v1/score-configs", json={"name": config, "type": "boolean"})

    page = new_page(browser, live, "ja", start=f"/ui/requests/{number}", js=js)
    page.click("#open-playground")
    page.wait_for_url(re.compile(rf".*/ui/requests/{number}/playground$"))
    assert page.inner_text("h1").startswith("プレイグラウンド")
    assert page.input_value("textarea[name=var_drug]") == "ロキソニン"
    assert "1日3回までです。" in page.inner_text("#answer-logged")

    page.fill("textarea[name=var_question]", "飲み合わせは?")
    page.fill("textarea[name=a_content_1]", "質問: {question}")
    page.click("#add-draft")
    page.wait_for_selector("#draft-b")
    page.fill("textarea[name=b_content_1]", "確認してから答える: {question}")
    page.click("#run")
    page.wait_for_selector("#output-b")
    assert "echo: 質問: 飲み合わせは?" in page.inner_text("#output-a")
    assert "echo: 確認してから答える: 飲み合わせは?" in page.inner_text("#output-b")
    assert "1日3回までです。" in page.inner_text("#answer-logged")  # beside the new ones
    b_log = page.get_attribute("#log-b", "href").rsplit("/", 1)[1]

    page.locator("#scores-b .pg-score", has_text=config).locator("label.choice.pass input").check()
    page.click("#score-b")
    page.wait_for_selector("#notice-b")
    assert page.inner_text("#notice-b") == TEXTS["ja"]["score_saved"]
    scores = {s["name"]: s["value"] for s in ours(live, "GET", f"/api/v1/requests/{b_log}")["scores"]}
    assert scores == {config: 100}

    page.fill("input[name=b_commit_message]", "質問を確認してから答える")
    page.click("#save-b")
    page.wait_for_url(re.compile(r".*/ui/prompts/\d+\?v=2&notice=version_saved$"))
    assert page.inner_text("p.notice") == TEXTS["ja"]["saved"]
    body = page.inner_text("main") if page.locator("main").count() else page.inner_text("body")
    assert "確認してから答える: {question}" in body and "質問を確認してから答える" in body
    prompt = ours(live, "GET", "/api/v1/prompts", params={"q": name})["items"][0]
    assert {lab["name"]: lab["version"] for lab in prompt["labels"]} == {"production": 1}
    if js:
        assert page.evaluate("window.__xss") is None
    assert page.dialogs == []
    page.context.close()
