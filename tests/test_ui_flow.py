"""The issue's proof, in headless Chromium against a real `promptyard serve`, once in English and
once in Japanese: log in, create a prompt in a folder, edit it to version 2 with a commit
message, view the diff, move a label, log requests through our SDK (a wrapped `openai` client
talking to the fake LLM), find them with a 3-condition filter, open one, score it, and see the
score in the analytics. Plus: the request pages work with JavaScript switched off, and hostile
text stored through the API never runs on them.

Set PROMPTYARD_UI_SCREENSHOTS=docs/screenshots to refresh the request pages' screenshots.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import httpx
import openai
import pytest

from promptyard import Promptyard, wrap
from tests.browser import PAYLOADS, TEXTS, new_page, registry_steps
from tests.servers import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.one_database]

SHOTS = os.environ.get("PROMPTYARD_UI_SCREENSHOTS")


def shot(page, out: Path, name: str, full_page: bool = True) -> None:  # noqa: ANN001
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"requests-{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    assert path.stat().st_size > 10_000, path  # a page was drawn, not a blank


def log_through_the_sdk(live: LiveServer, fake_llm, name: str, tag: str) -> list[str]:  # noqa: ANN001
    """Six wrapped chat calls served by the production label: 4 in env=prod, 2 in env=dev."""
    py = Promptyard(live.url, live.api_key, flush_interval=0.05)
    ids = []
    try:
        client = wrap(openai.OpenAI(base_url=fake_llm.openai_base_url, api_key="x", max_retries=0), py)
        for i in range(6):
            prompt = py.get(name, label="production", variables={"topic": "aspirin", "question": f"用量 {i}?"})
            resp = client.chat.completions.create(model="gpt-4o-mini", **prompt.openai_kwargs(), tags=[tag],
                                                  metadata={"env": "prod" if i < 4 else "dev", "store": f"s{i}"})
            ids.append(resp.promptyard_request_id)
        assert py.flush(10)
    finally:
        py.shutdown(5)
    return ids


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_whole_loop_in_the_browser(browser, live, fake_llm, lang):  # noqa: ANN001
    page = new_page(browser, live, lang, start="/ui/requests")
    assert page.get_attribute("html", "lang") == lang
    name = f"pharmacy-{lang}-{uuid.uuid4().hex[:4]}"
    tag = f"flow-{uuid.uuid4().hex[:6]}"
    registry_steps(page, live, name, lang)
    log_through_the_sdk(live, fake_llm, name, tag)

    # Two conditions typed into the box, the third added by a helper: the box holds all three.
    page.goto(live.url + "/ui/requests")
    assert page.inner_text("h1").startswith(TEXTS[lang]["requests"])
    page.fill("input[name=q]", f'prompt = "{name}" AND metadata.env = "prod"')
    page.click("details.helpers summary")
    page.fill("input[name=h_tag]", tag)
    page.click("button[name=add]")
    page.wait_for_load_state("load")
    box = page.input_value("input[name=q]")
    assert box == f'prompt = "{name}" AND metadata.env = "prod" AND tag = "{tag}"'
    rows = page.locator("table.requests tbody tr")
    assert rows.count() == 4
    assert f"{name}@2" in rows.first.inner_text() and "gpt-4o-mini" in rows.first.inner_text()

    rows.first.locator("td.time a").click()
    page.wait_for_url(re.compile(r".*/ui/requests/\d+$"))
    assert "echo: 用量" in page.inner_text(".io-out")
    assert "You answer questions about aspirin, briefly and kindly." in page.inner_text("section.rendered")
    assert TEXTS[lang]["rendered"] in page.inner_text("section.rendered")
    assert page.get_attribute("a.prompt-link", "href").startswith("/ui/prompts/")
    page.fill("form.score-form.new input[name=name]", "medically_correct")
    page.fill("form.score-form.new input[name=value]", "90")
    page.fill("form.score-form.new input[name=comment]", "正確" if lang == "ja" else "accurate")
    page.click("form.score-form.new button")
    page.wait_for_url(re.compile(r".*notice=requests_score_saved$"))
    assert page.inner_text("p.notice") == TEXTS[lang]["score_saved"]
    assert "medically_correct" in page.inner_text("table.scores-table")
    assert live.admin_email in page.inner_text("table.scores-table")
    detail_url = page.url
    page.click("a.prompt-link")  # the version that produced it, on the registry's page
    page.wait_for_url(re.compile(r".*/ui/prompts/\d+\?v=2$"))
    assert page.inner_text("h1") == name
    page.goto(detail_url)

    page.goto(live.url + "/ui/requests?" + httpx.QueryParams({"q": box}).__str__())
    page.click("p.actions a[href^='/ui/analytics']")
    page.wait_for_url(re.compile(r".*/ui/analytics\?.*"))
    assert page.inner_text("h1").startswith(TEXTS[lang]["analytics"])
    table = page.inner_text("table.stats")
    assert f"{name}@2" in table and "90.0" in table and "n=1" in table
    chart = page.locator("figure[data-chart='score:medically_correct'] svg")
    assert chart.count() == 1 and f"{name}@2" in chart.inner_html()
    assert page.dialogs == []
    page.context.close()


def test_the_request_pages_work_without_javascript(browser, live):  # noqa: ANN001
    headers = {"Authorization": f"Bearer {live.api_key}"}
    tag = f"nojs-{uuid.uuid4().hex[:6]}"
    logs = [{"id": uuid.uuid4().hex, "model": "gpt-4o", "tags": [tag], "metadata": {"env": env},
             "output": {"text": f"answer {i}"}} for i, env in enumerate(("prod", "prod", "dev"))]
    assert httpx.post(live.url + "/api/v1/requests", headers=headers, json={"requests": logs}).status_code == 200
    page = new_page(browser, live, "en", js=False, start="/ui/requests")
    page.goto(live.url + "/ui/requests?" + str(httpx.QueryParams({"q": f'tag = "{tag}"'})))
    page.click("details.helpers summary")
    page.fill("input[name=h_meta_key]", "env")
    page.fill("input[name=h_meta_value]", "prod")
    page.click("button[name=add]")
    page.wait_for_load_state("load")
    assert page.input_value("input[name=q]") == f'tag = "{tag}" AND metadata.env = "prod"'
    assert page.locator("table.requests tbody tr").count() == 2
    page.locator("table.requests td.time a").first.click()
    page.wait_for_url(re.compile(r".*/ui/requests/\d+$"))
    page.fill("form.score-form.new input[name=name]", "follows_manual")
    page.fill("form.score-form.new input[name=value]", "100")
    page.click("form.score-form.new button")
    page.wait_for_url(re.compile(r".*notice=requests_score_saved$"))
    assert "follows_manual" in page.inner_text("table.scores-table")
    page.click("section.io-out details.raw summary")  # raw JSON on demand: <details>, no script
    assert '"text": "answer' in page.inner_text("section.io-out details.raw")
    page.context.close()




def test_hostile_logs_never_run_on_the_request_pages(browser, live):  # noqa: ANN001
    headers = {"Authorization": f"Bearer {live.api_key}"}
    hostile = " ".join(PAYLOADS)
    name = f"evil {PAYLOADS[1]} {uuid.uuid4().hex[:4]}"
    r = httpx.post(live.url + "/api/v1/publish", headers=headers, json={
        "name": name, "messages": [{"role": "system", "content": hostile + " {topic}"}], "commit_message": hostile})
    assert r.status_code in (200, 201), r.text
    log = {"id": uuid.uuid4().hex, "provider": PAYLOADS[0], "model": PAYLOADS[2][:100],
           "input": {"messages": [{"role": "user", "content": hostile}]},
           "output": {"role": "assistant", "content": hostile, "tool_calls": [
               {"type": "function", "function": {"name": PAYLOADS[3], "arguments": PAYLOADS[1]}}]},
           "metadata": {PAYLOADS[0]: PAYLOADS[1], "link": PAYLOADS[3]}, "tags": [PAYLOADS[2], PAYLOADS[3]],
           "status": "error", "error": {"type": PAYLOADS[1], "message": hostile},
           "scores": [{"name": "s", "value": 5, "comment": hostile, "author": PAYLOADS[0]}],
           "prompt": {"name": name, "version": 1, "variables": {"topic": PAYLOADS[1]}}}
    assert httpx.post(live.url + "/api/v1/requests", headers=headers, json=log).json()["accepted"] == 1
    number = httpx.get(f"{live.url}/api/v1/requests/{log['id']}", headers=headers).json()["number"]

    page = new_page(browser, live, "en", start="/ui/requests")
    for path in ("/ui/requests", f"/ui/requests/{number}", "/ui/analytics", "/ui/requests?" + str(httpx.QueryParams(
            {"q": f'tag = "{PAYLOADS[2]}"'})), "/ui/analytics?" + str(httpx.QueryParams({"prompt": name}))):
        page.goto(live.url + path)
        page.wait_for_load_state("load")
        assert page.evaluate("typeof window.__xss") == "undefined", path
        assert PAYLOADS[2] in page.inner_text("main") or PAYLOADS[1] in page.inner_text("main"), path
        assert page.locator("main script, main img, main iframe, main svg:not(.chart)").count() == 0, path
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
        assert not [h for h in hrefs if h.strip().lower().startswith("javascript:")], path
        if "/requests/" in path:
            page.click("details.raw summary >> nth=0")  # raw JSON on demand, still text
            assert PAYLOADS[0] in page.inner_text("details.raw >> nth=0")
            assert page.evaluate("typeof window.__xss") == "undefined", path
    assert page.dialogs == []
    page.context.close()


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_request_pages_with_three_scored_versions(browser, live, lang, tmp_path):  # noqa: ANN001
    """Three versions of a prompt with 90 scored logs: list, detail and analytics draw them all
    (one chart row per version). The pictures go to PROMPTYARD_UI_SCREENSHOTS when set (that is
    how docs/screenshots are refreshed), else to a temporary folder."""
    import random
    from datetime import datetime, timedelta, timezone

    headers = {"Authorization": f"Bearer {live.api_key}"}
    name = f"服薬指導/返信案-{uuid.uuid4().hex[:3]}"
    texts = ("Answer: {question}", "Answer briefly: {question}", "Answer briefly, cite the manual: {question}")
    for text in texts:
        httpx.post(live.url + "/api/v1/publish", headers=headers, json={
            "name": name, "messages": [{"role": "system", "content": text}, {"role": "user", "content": "{question}"}],
            "commit_message": "screenshot data"}).raise_for_status()
    rng, now, logs = random.Random(7), datetime.now(timezone.utc), []
    for i in range(90):
        version, question, start = 1 + i % 3, f"この薬の用量は? ({i})", now - timedelta(minutes=i * 7)
        latency = timedelta(milliseconds=rng.gauss(700 + 150 * version, 120))
        logs.append({
            "id": uuid.uuid4().hex, "provider": "openai", "model": "gpt-4o-mini", "start_time": start.isoformat(),
            "end_time": (start + latency).isoformat(),
            "input": {"messages": [{"role": "system", "content": texts[version - 1].format(question=question)},
                                   {"role": "user", "content": question}]},
            "output": {"role": "assistant", "content": "1日2回、食後に服用してください。添付文書 3.2 を参照。"},
            "usage": {"input_tokens": 120 + i, "output_tokens": 40}, "status": "error" if i % 17 == 0 else "ok",
            "metadata": {"env": "prod", "store": f"s{i % 4}", "role": "staff" if i % 5 == 0 else "customer"},
            "tags": ["pilot"], "prompt": {"name": name, "version": version, "variables": {"question": question}},
            "scores": [{"name": "medically_correct", "value": max(0, min(100, rng.gauss(60 + 12 * version, 12)))},
                       {"name": "follows_manual", "value": 100 if rng.random() < 0.4 + 0.2 * version else 0}]})
    httpx.post(live.url + "/api/v1/requests", headers=headers, json={"requests": logs}).raise_for_status()
    page = new_page(browser, live, lang, start="/ui/requests")
    out = Path(SHOTS) if SHOTS else tmp_path
    suffix = "" if lang == "en" else "-ja"
    q = f'prompt = "{name}" AND score.medically_correct >= 50'
    page.goto(live.url + "/ui/requests?" + str(httpx.QueryParams({"q": q})))
    page.click("details.helpers summary")
    shot(page, out, "list" + suffix, full_page=False)
    page.locator("table.requests td.time a").nth(1).click()
    page.wait_for_load_state("load")
    shot(page, out, "detail" + suffix)
    page.goto(live.url + "/ui/analytics?" + str(httpx.QueryParams({"prompt": name})))
    assert page.locator("table tbody tr").count() == 3 and page.locator("svg.chart").count() >= 3
    shot(page, out, "analytics" + suffix)
    page.context.close()
