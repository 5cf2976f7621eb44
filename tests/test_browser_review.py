"""Chromium: a PdM builds a queue in the UI, then a pharmacist reviews ten items with the keyboard
only, in the Japanese UI: scores 1-5 and yes/no by key, a comment (c), save and next (j), one skip
(s) first (passed over: it stays waiting for other reviewers); the page never reloads (the items are swapped in by review.js), the
progress counts up, the output is rendered Markdown, and the scores land as human scores. And a queue
made from a dataset version through the form (its logs; the item without one counted)."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.browser import new_page
from tests.support import cli, log

pytestmark = [pytest.mark.one_database, pytest.mark.browser]

PASSWORD = "a long enough password"


def test_pharmacist_reviews_ten_items_with_the_keyboard_in_japanese(browser, live):  # noqa: ANN001
    batch = uuid.uuid4().hex[:8]
    logs = [log(metadata={"batch": batch}, end_time=None, start_time=f"2026-11-20T10:00:{i:02d}Z",
                input={"messages": [{"role": "user", "content": f"質問 {i}: ロキソニンは1日何回まで?"}]},
                output={"text": f"**用量** {i}\n\n- 1日3回まで\n- 空腹時を避ける"}) for i in range(11)]
    live.http.post("/api/v1/requests", json={"requests": logs}).raise_for_status()
    email = f"pharmacist-{batch}@example.com"
    made = cli("users", "create", "--email", email, "--role", "viewer", "--password", PASSWORD,
               "--data-dir", str(live.data_dir))
    assert made.returncode == 0, made.stderr

    pdm = new_page(browser, live, "en", start="/ui/queues")
    pdm.click("#new-queue")
    pdm.fill("input[name=name]", f"服薬 {batch}")
    pdm.fill("input[name=filter]", f'metadata.batch = "{batch}"')
    pdm.fill("input[name=score_name_0]", "accuracy")
    pdm.fill("textarea[name=score_rubric_0]", "**5** = 正確で十分")
    pdm.fill("input[name=score_name_1]", "safe")
    pdm.select_option("select[name=score_kind_1]", "yes_no")
    pdm.locator("label.check", has_text=email).locator("input").check()
    pdm.click("#queue-create")
    pdm.wait_for_url(re.compile(r".*/ui/queues/\d+\?notice=queue_created$"))
    queue_url = pdm.url.split("?")[0]
    pdm.context.close()

    page = new_page(browser, live, "ja", start="/ui/queues", email=email, password=PASSWORD)
    page.click(f"a[href='{queue_url[len(live.url):]}/review']")
    page.wait_for_selector("#review-form")
    assert page.inner_text("#progress").startswith("1 / 11")
    assert page.locator(".rubric strong").inner_text() == "5"  # the rubric's Markdown
    assert page.locator(".io-out .md strong").first.inner_text() == "用量"
    assert "ご自身の評価を付けるまで表示されません。" in page.inner_text("#others")
    page.evaluate("window.__same_page = true")
    seen = set()
    page.keyboard.press("s")  # pass the first over
    page.wait_for_selector("#progress:has-text('2 / 11')")  # (no wait_for_function: the page's CSP forbids eval)
    for n in range(10):
        item = page.get_attribute("#review-form", "data-item")
        seen.add(item)
        page.keyboard.press(str(1 + n % 5))
        page.keyboard.press("y" if n % 3 else "n")
        if n == 0:
            page.keyboard.press("c")
            page.keyboard.type("副作用の説明が不足")
            page.keyboard.press("Escape")
        page.keyboard.press("j")
        page.wait_for_selector(f"#review-form:not([data-item='{item}']), #queue-finished")
    page.wait_for_selector("#queue-finished")
    assert "ありがとうございました" in page.inner_text("#queue-finished")
    assert page.evaluate("window.__same_page") is True  # never a page load
    assert len(seen) == 10
    page.context.close()

    found = live.http.get("/api/v1/requests", params={"q": f'metadata.batch = "{batch}"', "limit": 50}).json()
    scores = [i["scores"] for i in found["items"]]
    assert len(scores) == 11 and sum(1 for s in scores if s) == 10 and all(set(s) == {"accuracy", "safe"} for s in scores if s)
    scores = [s for s in scores if s]
    assert sorted(s["accuracy"] for s in scores) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert sorted(s["safe"] for s in scores).count(0) == 4


def test_a_pdm_makes_a_queue_from_a_dataset_version_in_japanese(browser, live):  # noqa: ANN001
    batch = uuid.uuid4().hex[:8]
    logs = [log(id=f"{batch}-{i}", end_time=None, start_time=f"2026-11-20T11:00:0{i}Z") for i in range(3)]
    live.http.post("/api/v1/requests", json={"requests": logs}).raise_for_status()
    made = live.http.post("/api/v1/datasets", json={"name": f"服薬-{batch}"}).json()
    live.http.post(f"/api/v1/datasets/{made['id']}/from-log",
                   json={"requests": [f"{batch}-0", f"{batch}-1"]}).raise_for_status()
    live.http.post(f"/api/v1/datasets/{made['id']}/items", json={"items": [{"input": {"q": "手入力"}}]}).raise_for_status()

    pdm = new_page(browser, live, "ja", start="/ui/queues/new")
    pdm.fill("input[name=name]", f"データセット {batch}")
    pdm.check("#source-dataset")
    pdm.select_option("#dataset", str(made["id"]))
    pdm.fill("input[name=score_name_0]", "ok")
    pdm.select_option("select[name=score_kind_0]", "yes_no")
    pdm.click("#queue-create")
    pdm.wait_for_url(re.compile(r".*/ui/queues/\d+\?notice=queue_created$"))
    assert pdm.inner_text("#waiting") == "2"
    assert "リクエストのない 1 項目を除外" in pdm.inner_text("#without-log")
    pdm.context.close()
