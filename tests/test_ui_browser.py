"""The registry UI in headless Chromium against a real `promptyard serve`: log in, create a prompt
in a folder, edit it to version 2 with a commit message, preview, view the diff, move a label -
in English and in Japanese (the steps are tests/browser.py's, which the whole-loop proof in
test_ui_flow.py shares); hostile text stored through the API never runs."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from tests.browser import PAYLOADS, TEXTS, new_page, registry_steps

pytestmark = pytest.mark.one_database  # the storage is not the subject: SQLite only


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_registry_flow_in_the_browser(browser, live, lang):  # noqa: ANN001
    page = new_page(browser, live, lang)
    assert page.get_attribute("html", "lang") == lang
    assert page.locator("nav.main a").first.inner_text() == TEXTS[lang]["nav"]
    name = f"pharmacy-answer-{lang}-{uuid.uuid4().hex[:4]}"
    registry_steps(page, live, name, lang)

    page.goto(live.url + "/ui/prompts?folder=experimental")
    assert name in page.inner_text("table") and "production → v2" in page.inner_text("table")
    assert page.dialogs == []
    page.context.close()


def test_hostile_text_never_runs(browser, live):  # noqa: ANN001
    hostile = " ".join(PAYLOADS)
    headers = {"Authorization": f"Bearer {live.api_key}"}
    body = {"name": f"evil <img src=x onerror=alert(1)> {uuid.uuid4().hex[:4]}", "folder": "x<img src=x onerror=alert(2)>",
            "description": hostile, "tags": [PAYLOADS[2]], "commit_message": hostile,
            "messages": [{"role": "system", "content": hostile + " {topic}"}],
            "model": {"provider": PAYLOADS[1], "name": PAYLOADS[0], "parameters": {PAYLOADS[2]: PAYLOADS[0]}}}
    first = httpx.post(live.url + "/api/v1/publish", json=body, headers=headers)
    assert first.status_code == 201, first.text
    pid = first.json()["prompt_id"]
    second = httpx.post(live.url + "/api/v1/publish", json=body | {"messages": [{"role": "user", "content": hostile}]},
                        headers=headers)
    assert second.status_code == 201, second.text
    moved = httpx.put(f"{live.url}/api/v1/prompts/{pid}/labels/production", json={"version": 2, "reason": hostile},
                      headers=headers)
    assert moved.status_code == 200, moved.text

    page = new_page(browser, live, "en")
    for path in ("/ui/prompts", f"/ui/prompts/{pid}", f"/ui/prompts/{pid}?v=1", f"/ui/prompts/{pid}/diff",
                 f"/ui/prompts/{pid}/labels", f"/ui/prompts/{pid}/edit?base=1"):
        page.goto(live.url + path)
        page.wait_for_load_state("load")
        assert page.evaluate("typeof window.__xss") == "undefined", path
        shown = page.input_value("textarea[name=content_0]") if "/edit" in path else page.inner_text("body")
        assert PAYLOADS[0] in shown, path  # shown as text
        assert page.locator("main script, main img, main svg").count() == 0, path
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
        assert not [h for h in hrefs if h.lower().startswith("javascript:")], path
    page.fill("textarea[name=var_topic]", PAYLOADS[1])
    page.click("button[name=preview]")
    assert PAYLOADS[1] in page.inner_text("#preview")
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.dialogs == []
    page.context.close()


def test_editor_works_without_javascript(browser, live):  # noqa: ANN001
    page = new_page(browser, live, "en", js=False)
    page.click("a[href^='/ui/prompts/new']")
    page.fill("input[name=name]", f"nojs-{uuid.uuid4().hex[:4]}")
    page.fill("textarea[name=content_0]", "Hello {who}")
    page.fill("textarea[name=content_1]", "Say hi")
    page.fill("input[name=commit_message]", "first")
    page.click("button[name=save]")
    page.click("a[href*='/edit']")
    page.click("button[name=add_message]")
    page.fill("textarea[name=content_2]", "a third message")
    page.fill("textarea[name=var_who]", "world")
    page.click("button[name=preview]")
    assert "Hello world" in page.inner_text("#preview") and "a third message" in page.inner_text("#preview")
    page.fill("input[name=commit_message]", "three messages")
    page.click("button[name=save]")
    assert "three messages" in page.inner_text("table")
    page.click("form.lang-switch button[value=ja]")
    assert page.get_attribute("html", "lang") == "ja"
    page.click("form.lang-switch button[value=en]")
    page.context.close()


def test_admin_creates_a_key_and_invites_an_editor(browser, live):  # noqa: ANN001
    page = new_page(browser, live, "en")
    page.goto(live.url + "/ui/keys")
    page.fill("input[name=name]", "browser-made")
    page.click("form[action='/ui/keys'] button.primary")
    raw = page.inner_text("#new-key-value").strip()
    assert httpx.get(live.url + "/api/v1/prompts", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    page.goto(live.url + "/ui/keys")
    assert raw not in page.content() and raw[:10] in page.content()  # listed by its prefix only
    email = f"pharmacist-{uuid.uuid4().hex[:4]}@example.com"
    page.goto(live.url + "/ui/members")
    page.fill("form[action='/ui/invitations'] input[name=email]", email)
    page.select_option("form[action='/ui/invitations'] select[name=role]", "editor")
    page.click("form[action='/ui/invitations'] button.primary")
    link = page.inner_text("#invite-link").strip()
    page.context.close()
    guest = browser.new_context(locale="ja-JP").new_page()
    guest.goto(link)
    guest.fill("input[name=name]", "薬剤師")
    guest.fill("input[name=password]", "a long enough password")
    guest.click("button.primary")
    guest.wait_for_url(re.compile(r".*/ui/prompts$"))
    assert "薬剤師" in guest.inner_text("header") and "編集者" in guest.inner_text("header")
    guest.context.close()
