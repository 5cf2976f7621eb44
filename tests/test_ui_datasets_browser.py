"""Issue 16, the dataset pages in headless Chromium against a real `promptyard serve`, in Japanese and
without JavaScript: make a dataset from the request list's filter, upload a CSV through the file
form, follow an item's link to its log; hostile text in items never runs (with JavaScript on)."""

from __future__ import annotations

import json
import re
import uuid

import pytest

from tests.browser import PAYLOADS, dataset_from_filter, new_page

pytestmark = pytest.mark.one_database  # the storage is not the subject: SQLite only


def test_dataset_from_the_request_list_then_an_upload_without_javascript(browser, live, tmp_path):  # noqa: ANN001
    mark = uuid.uuid4().hex[:8]
    logs = [{"model": "m", "metadata": {"batch": mark}, "prompt": {"name": "服薬指導", "variables": {"q": f"質問{i}"}},
             "output": {"text": f"回答{i}"}} for i in range(2)]
    assert live.http.post("/api/v1/requests", json={"requests": logs}).json()["accepted"] == 2
    page = new_page(browser, live, "ja", js=False, start="/ui/requests")
    dataset_from_filter(page, live, f'metadata.batch = "{mark}"', f"回帰セット-{mark}")
    assert "データセットの新しいバージョンを保存しました。" in page.inner_text("main")
    assert "質問0" in page.inner_text("#items") and "回答1" in page.inner_text("#items")

    src = tmp_path / "質問.csv"
    src.write_text("q,expected\n授乳中は?,医師に相談してください\n", encoding="utf-8")
    page.set_input_files("#dataset-upload input[type=file]", str(src))
    page.fill("#dataset-upload input[name=message]", "手入力の質問")
    page.click("#dataset-upload button")
    page.wait_for_url(re.compile(r".*notice=dataset_version$"))
    assert "授乳中は?" in page.inner_text("#items") and "手入力の質問" in page.inner_text("#versions")

    page.click("#items a.source >> nth=0")
    page.wait_for_url(re.compile(r".*/ui/requests/\d+$"))
    assert "回答" in page.inner_text("main")
    page.context.close()


def test_hostile_item_text_never_runs(browser, live):  # noqa: ANN001
    made = live.http.post("/api/v1/datasets", json={"name": f"hostile-{uuid.uuid4().hex[:6]}"}).json()
    hostile = " ".join(PAYLOADS)
    items = [{"input": {"q": hostile}, "expected": hostile, "metadata": {"k": hostile[:900]}},
             {"input": [{"role": "user", "content": hostile}]}]
    assert live.http.post(f"/api/v1/datasets/{made['id']}/items", json={"items": items}).status_code == 201
    page = new_page(browser, live, "en", start=f"/ui/datasets/{made['id']}")
    assert "<script>" in page.inner_text("#items")  # shown as text
    assert page.evaluate("window.__xss") is None and page.dialogs == []
    assert json.dumps(page.evaluate("document.querySelectorAll('#items script, #items img, #items svg').length")) == "0"
    page.context.close()
