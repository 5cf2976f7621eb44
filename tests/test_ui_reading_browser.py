"""The request list and detail for reading, in headless Chromium against a real `promptyard serve`:
hostile Markdown in LLM output never runs and loads nothing remote; the raw toggle works in place
with JavaScript and as a link without; the default list fits 1360 px in English and Japanese; the
scoring panel sits beside the output; the column chooser works without JavaScript."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.browser import MARKDOWN_PAYLOADS, REMOTE, new_page

pytestmark = [pytest.mark.browser, pytest.mark.one_database]

LONG_Q = "ロキソニンを服用中の患者さんから、胃の不快感があると相談されました。用量を減らすべきか、別の薬に替えるべきか教えてください。" * 3
LONG_A = "## 回答\n\n" + "胃腸障害はNSAIDsでよくみられる副作用です。まず服用のタイミング(食後)を確認し、" * 6


def _log(live, **fields) -> int:  # noqa: ANN001, ANN003
    headers = {"Authorization": f"Bearer {live.api_key}"}
    body = {"id": uuid.uuid4().hex, "provider": "openai", "model": "gpt-4o-mini-2024-07-18",
            "input": {"messages": [{"role": "user", "content": "用量は?"}]},
            "output": {"role": "assistant", "content": "1日2回"}} | fields
    answer = httpx.post(live.url + "/api/v1/requests", headers=headers, json=body)
    assert answer.status_code == 200 and answer.json()["accepted"] == 1, answer.text
    return httpx.get(f"{live.url}/api/v1/requests/{body['id']}", headers=headers).json()["number"]


def _watch_requests(page, live) -> list[str]:  # noqa: ANN001
    """Every URL the page asks for that is not our server's (there must be none)."""
    foreign: list[str] = []
    page.on("request", lambda r: foreign.append(r.url) if not r.url.startswith(live.url) else None)
    return foreign


def test_hostile_markdown_never_runs_nor_loads_anything(browser, live):  # noqa: ANN001
    number = _log(live, output={"role": "assistant", "content": "\n\n".join(MARKDOWN_PAYLOADS)},
                  input={"messages": [{"role": "user", "content": MARKDOWN_PAYLOADS[0]},
                                      {"role": "assistant", "content": MARKDOWN_PAYLOADS[4]},
                                      {"role": "user", "content": "続き"}]})
    page = new_page(browser, live, "en", start="/ui/requests")
    foreign = _watch_requests(page, live)
    for path in (f"/ui/requests/{number}", f"/ui/requests/{number}?raw=1", "/ui/requests",
                 "/ui/requests?" + str(httpx.QueryParams({"q": 'text ~ "script"'}))):
        page.goto(live.url + path)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("typeof window.__xss") == "undefined", path
        assert page.locator("main script, main img, main iframe, main svg, main style, main link:not([href^='/ui/static/']), main object").count() == 0, path
        hrefs = page.eval_on_selector_all("main a[href]", "els => els.map(e => e.getAttribute('href'))")
        assert not [h for h in hrefs if h.strip().lower().startswith(("javascript:", "data:", "vbscript:"))], path
        for el in page.query_selector_all("main .md a[href]"):  # every link the Markdown made opens safely
            assert el.get_attribute("rel") == "noopener noreferrer" and el.get_attribute("target") == "_blank"
        page.mouse.move(300, 300)
        page.hover("main h1")
    page.goto(f"{live.url}/ui/requests/{number}")
    assert page.locator("section.io-out .md h1").inner_text() == "用量"  # the Markdown did render
    assert page.locator("section.io-out .md table").count() == 1
    assert page.locator("section.io-out .md a.md-image").first.get_attribute("href") == f"{REMOTE}/image.png"
    assert "<script>window.__xss = 'md-script'" in page.inner_text("section.io-out")  # shown as text
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert foreign == [] and page.dialogs == []
    page.context.close()


def test_raw_toggle_in_place_with_javascript_and_as_a_link_without(browser, live):  # noqa: ANN001
    number = _log(live, output={"role": "assistant", "content": "**太字**の回答\n\n- 一つ目"})
    for js in (True, False):
        page = new_page(browser, live, "ja", js=js, start=f"/ui/requests/{number}")
        out = page.locator("section.io-out")
        assert out.locator(".md strong").inner_text() == "太字" and "**太字**" not in out.inner_text()
        page.click("a.md-toggle")
        if js:
            assert page.url.endswith(f"/ui/requests/{number}")  # no page load: toggled in place
            assert "**太字**の回答" in out.inner_text() and not out.locator(".md").first.is_visible()
            assert page.inner_text("a.md-toggle") == "整形して表示"
            page.click("a.md-toggle")
            assert out.locator(".md strong").is_visible() and "**太字**" not in out.inner_text()
        else:
            page.wait_for_url(f"**/ui/requests/{number}?raw=1")
            assert "**太字**の回答" in out.inner_text() and out.locator(".md").count() == 0
            page.click("a.md-toggle")
            page.wait_for_url(f"**/ui/requests/{number}")
            assert out.locator(".md strong").inner_text() == "太字"
        page.context.close()


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_default_list_fits_1360_px_and_the_panel_sits_beside_the_output(browser, live, lang):  # noqa: ANN001
    for i in range(3):
        number = _log(live, input={"messages": [{"role": "system", "content": "薬剤師を支援します。" * 60},
                                               {"role": "user", "content": LONG_Q}]},
                      output={"role": "assistant", "content": LONG_A},
                      prompt={"name": "薬局/服薬指導の返信案-長い名前-" + "x" * 20, "version": 1},
                      metadata={"department_of_the_hospital": "循環器内科・腎臓内科" * 3, "env": "prod"},
                      tags=["ベータ版の長いタグ名", "pharmacy-review-needed", "x" * 40],
                      scores=[{"name": "medically_correct", "value": 80}, {"name": "follows_the_manual", "value": 65},
                              {"name": "kindness", "value": 90}], usage={"input_tokens": 123456, "output_tokens": 54321})
    page = new_page(browser, live, lang, start="/ui/requests")
    for path in ("/ui/requests", "/ui/requests?" + str(httpx.QueryParams({"q": 'text ~ "副作用"'}))):
        page.goto(live.url + path)
        width = page.evaluate("[document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]")
        assert width[0] <= width[1], (path, width)
        wrap = page.evaluate("(() => { const w = document.querySelector('.table-wrap'); return [w.scrollWidth, w.clientWidth]; })()")
        assert wrap[0] <= wrap[1], (path, wrap)
    assert page.locator("table.requests td.glance.answer mark").first.inner_text() == "副作用"
    page.goto(f"{live.url}/ui/requests/{number}")
    out, panel = page.locator("section.io-out").bounding_box(), page.locator("aside.review-panel").bounding_box()
    assert panel["x"] >= out["x"] + out["width"] - 1  # beside it, to the right
    assert panel["y"] < out["y"] + out["height"]  # and level with it, not below
    assert page.locator("aside.review-panel form.score-form.new").is_visible()
    page.context.close()


def test_column_chooser_without_javascript(browser, live):  # noqa: ANN001
    _log(live, metadata={"ward": "東3"}, scores=[{"name": "accuracy", "value": 70}])
    page = new_page(browser, live, "en", js=False, start="/ui/requests")
    page.click("details.columns summary")
    page.uncheck("details.columns input[value=answer]")
    page.check("details.columns input[value=tokens]")
    page.check("details.columns input[value='meta:ward']")
    page.click("details.columns button.primary")
    page.wait_for_url("**/ui/requests")
    heads = page.eval_on_selector_all("table.requests thead th", "els => els.map(e => e.textContent.trim())")
    assert "Answer" not in heads and "Tokens" in heads and "ward" in heads and "Question" in heads
    page.goto(live.url + "/ui/requests?q=" + "model%20%3D%20%22gpt-4o-mini-2024-07-18%22")
    assert "ward" in page.eval_on_selector_all("table.requests thead th", "els => els.map(e => e.textContent.trim())")
    page.context.close()
