"""Issue 16, the dataset pages on SQLite and PostgreSQL without JavaScript: make a dataset from the
request list's filter, add one log from its page, upload a file (a bad row is named in the reader's
language and nothing is stored), page through items with links to their logs, remove an item
(a new version), export; viewers read only; English and Japanese."""

from __future__ import annotations

import re
import uuid

from promptyard.services import request_ingest, request_reads
from tests.erasure_support import log


def _store(database, principal, *logs):  # noqa: ANN001
    with database.write() as s:
        assert not request_ingest.ingest(s, principal, list(logs), max_batch=100)["errors"]


def _number(database, principal, ref):  # noqa: ANN001, ANN202
    with database.read() as s:
        return request_reads.find(s, principal, ref)


def _dataset_id(location: str) -> int:
    return int(re.search(r"/ui/datasets/(\d+)", location).group(1))


def test_dataset_from_the_list_filter_then_a_log_then_an_upload(ui, database, principal):
    editor = ui("editor")
    mark = uuid.uuid4().hex[:8]
    logs = [log(metadata={"batch": mark}, prompt={"name": "服薬指導", "variables": {"question": f"質問{i}"}},
                output={"text": f"回答{i}"}) for i in range(3)]
    other = log(metadata={"batch": "other"}, output={"text": "別の回答"})
    _store(database, principal, *logs, other)
    q = f'metadata.batch = "{mark}"'
    listing = editor.get("/ui/requests", params={"q": q})
    assert 'id="dataset-from-filter"' in listing.text
    form = editor.get("/ui/datasets-from-log", params={"q": q})
    assert form.status_code == 200 and mark in form.text
    name = f"回帰セット-{mark}"
    made = editor.post("/ui/datasets-from-log", data={"csrf_token": editor.csrf, "q": q, "name": name,
                                                      "max_items": "100", "expected": "1", "message": "低スコア"},
                       follow_redirects=False)
    assert made.status_code == 303, made.text
    ds = _dataset_id(made.headers["location"])
    page = editor.get(f"/ui/datasets/{ds}")
    assert page.status_code == 200 and name in page.text and "質問2" in page.text and "回答0" in page.text
    numbers = [_number(database, principal, x["id"]) for x in logs]
    for n in numbers:
        assert f'href="/ui/requests/{n}"' in page.text  # source links
    assert "別の回答" not in page.text

    # "Add to dataset" from a log's page: a second version.
    n_other = _number(database, principal, other["id"])
    detail = editor.get(f"/ui/requests/{n_other}")
    assert 'id="add-to-dataset"' in detail.text
    added = editor.post("/ui/datasets-from-log", data={"csrf_token": editor.csrf, "request": str(n_other),
                                                       "dataset": str(ds), "expected": "1"}, follow_redirects=False)
    assert added.status_code == 303
    page = editor.get(f"/ui/datasets/{ds}")
    assert "別の回答" in page.text and ">v2<" in page.text

    # Upload: a bad row re-renders the page with its line and column, in Japanese for a Japanese reader.
    ja = ui("editor", lang="ja")
    bad = ja.post(f"/ui/datasets/{ds}/upload", data={"csrf_token": ja.csrf},
                  files={"file": ("q.csv", "question,expected\n良い,はい\n悪い,はい,余分\n".encode())})
    assert bad.status_code == 422 and "3 行目 3 列目" in bad.text, bad.text
    good = editor.post(f"/ui/datasets/{ds}/upload", data={"csrf_token": editor.csrf, "message": "手入力"},
                       files={"file": ("q.csv", "question,expected\n授乳中は?,医師に相談\n".encode())},
                       follow_redirects=False)
    assert good.status_code == 303, good.text
    page = editor.get(f"/ui/datasets/{ds}")
    assert "授乳中は?" in page.text and ">v3<" in page.text and ">v4<" not in page.text  # the bad upload made none

    # Remove an item: a new version; the old one still has it.
    item_id = re.search(r'action="/ui/datasets/\d+/items/(\d+)/delete"', page.text).group(1)
    no_token = editor.post(f"/ui/datasets/{ds}/items/{item_id}/delete", data={})
    assert no_token.status_code == 403
    removed = editor.post(f"/ui/datasets/{ds}/items/{item_id}/delete", data={"csrf_token": editor.csrf},
                          follow_redirects=False)
    assert removed.status_code == 303
    assert editor.get(f"/ui/datasets/{ds}", params={"version": 4}).text.count('class="source"') == 3
    assert editor.get(f"/ui/datasets/{ds}", params={"version": 3}).text.count('class="source"') == 4

    csv = editor.get(f"/ui/datasets/{ds}/export", params={"format": "csv", "bom": "true", "version": 3})
    assert csv.status_code == 200 and csv.content.startswith(b"\xef\xbb\xbf") and "授乳中は?" in csv.text
    listed = editor.get("/ui/datasets")
    assert name in listed.text and 'id="dataset-create"' in listed.text


def test_paging_viewers_and_japanese_pages(ui, database, principal):
    editor, viewer, ja = ui("editor"), ui("viewer"), ui("viewer", lang="ja")
    made = editor.post("/ui/datasets", data={"csrf_token": editor.csrf, "name": f"ページ-{uuid.uuid4().hex[:6]}"},
                       follow_redirects=False)
    assert made.status_code == 303
    ds = _dataset_id(made.headers["location"])
    rows = "".join(f'{{"input": {{"q": "項目{i:03d}"}}}}\n' for i in range(60))
    up = editor.post(f"/ui/datasets/{ds}/upload", data={"csrf_token": editor.csrf},
                     files={"file": ("rows.jsonl", rows.encode())}, follow_redirects=False)
    assert up.status_code == 303
    first = viewer.get(f"/ui/datasets/{ds}")
    assert "項目000" in first.text and "項目059" not in first.text and 'id="next-page"' in first.text
    nxt = re.search(r'id="next-page" href="([^"]+)"', first.text).group(1).replace("&amp;", "&")
    second = viewer.get(nxt)
    assert "項目059" in second.text and "項目000" not in second.text
    assert 'id="dataset-upload"' not in first.text and "/delete" not in first.text  # viewers read only
    refused = viewer.post(f"/ui/datasets/{ds}/upload", data={"csrf_token": viewer.csrf},
                          files={"file": ("rows.jsonl", rows.encode())})
    assert refused.status_code == 403
    assert viewer.get("/ui/datasets-from-log").status_code == 403
    page = ja.get(f"/ui/datasets/{ds}")
    assert "バージョン 1 の項目" in page.text and "データセット" in page.text
    dup = editor.post("/ui/datasets", data={"csrf_token": editor.csrf, "name": "a/b"})
    assert dup.status_code == 422 and "/" in dup.text
