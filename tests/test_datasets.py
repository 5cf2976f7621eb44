"""Issue 16, datasets: versions are immutable, a dataset made from a filter holds exactly the filter's
matches, uploads name the line and column of a bad row and store nothing, erasing a request erases
the items made from it in every version, uploaded items are redacted like ingest; on both databases
through the API (services/datasets.py, services/dataset_files.py, web/api/datasets.py)."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from promptyard.store.models import DatasetItem
from tests.conftest import make_key
from tests.support import ingest, log, unique

EMAIL = "taro.yamada@example.com"


def new(api, name: str | None = None) -> int:  # noqa: ANN001
    r = api.post("/api/v1/datasets", json={"name": name or unique("回帰セット"), "description": "薬の質問"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def all_items(api, ds: int, version: int | None = None, limit: int = 2) -> list[dict]:  # noqa: ANN001
    """Every item of a version, through the pages (small pages: the paging is under test too)."""
    out, after = [], 0
    while True:
        params = {"after": after, "limit": limit} | ({"version": version} if version else {})
        r = api.get(f"/api/v1/datasets/{ds}/items", params=params)
        assert r.status_code == 200, r.text
        out += r.json()["items"]
        if r.json()["next"] is None:
            return out
        after = r.json()["next"]


def upload(api, ds: int, text: str, name: str = "items.jsonl", **data: str):  # noqa: ANN001, ANN201
    return api.post(f"/api/v1/datasets/{ds}/upload", files={"file": (name, text.encode())}, data=data)


def test_each_change_makes_a_version_and_old_versions_never_change(api):  # noqa: ANN001
    ds = new(api)
    r = api.post(f"/api/v1/datasets/{ds}/items", json={"message": "first", "items": [
        {"input": {"question": "この薬の用量は?"}, "expected": "1日2回です。", "metadata": {"topic": "dose", "n": 3}},
        {"input": [{"role": "user", "content": "飲み忘れたら?"}]},
        {"input": {"question": "副作用は?"}}]})
    assert r.status_code == 201, r.text
    assert (r.json()["number"], r.json()["item_count"]) == (1, 3)
    v1 = all_items(api, ds)
    assert [i["input"] for i in v1] == [{"question": "この薬の用量は?"}, [{"role": "user", "content": "飲み忘れたら?"}],
                                        {"question": "副作用は?"}]
    assert v1[0]["metadata"] == {"topic": "dose", "n": "3"}

    edited = api.patch(f"/api/v1/datasets/{ds}/items/{v1[0]['id']}", json={"expected": "1日3回です。", "message": "fix"})
    assert edited.status_code == 200, edited.text
    assert (edited.json()["number"], edited.json()["item_count"]) == (2, 3)
    gone = api.post(f"/api/v1/datasets/{ds}/items/delete", json={"ids": [v1[1]["id"]]})
    assert (gone.json()["number"], gone.json()["item_count"]) == (3, 2)
    added = api.post(f"/api/v1/datasets/{ds}/items", json={"items": [{"input": {"question": "妊娠中でも?"}}]})
    assert added.json()["number"] == 4

    assert all_items(api, ds, version=1) == v1  # unchanged, ids and all
    v2 = all_items(api, ds, version=2)
    assert [i["expected"] for i in v2] == ["1日3回です。", None, None]
    assert v2[0]["position"] == v1[0]["position"] and v2[0]["id"] != v1[0]["id"]
    assert [i["input"] for i in all_items(api, ds)] == [{"question": "この薬の用量は?"}, {"question": "副作用は?"},
                                                         {"question": "妊娠中でも?"}]
    got = api.get(f"/api/v1/datasets/{ds}").json()
    assert [(v["number"], v["item_count"]) for v in got["versions"]] == [(4, 3), (3, 2), (2, 3), (1, 3)]
    assert got["latest_version"] == 4 and got["versions"][-1]["message"] == "first"

    # An item of an older version cannot be edited; the version that does not exist is a 404.
    stale = api.patch(f"/api/v1/datasets/{ds}/items/{v1[1]['id']}", json={"expected": "x"})
    assert stale.status_code == 404 and str(v1[1]["id"]) in stale.json()["error"]["message"]
    assert api.get(f"/api/v1/datasets/{ds}/items", params={"version": 5}).status_code == 404
    assert api.get(f"/api/v1/datasets/{ds}").json()["latest_version"] == 4  # refused changes made no version


def test_names_rights_and_bad_items(api, app, database, principal):  # noqa: ANN001
    from fastapi.testclient import TestClient

    name = unique("服薬指導の回帰セット")
    ds = new(api, name)
    assert api.post("/api/v1/datasets", json={"name": name}).status_code == 409
    for bad in ("a/b", " lead", "zero\u200bwidth"):
        r = api.post("/api/v1/datasets", json={"name": bad})
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_input", (bad, r.text)
    found = api.get("/api/v1/datasets", params={"name": name}).json()["items"]
    assert [d["id"] for d in found] == [ds]

    r = api.post(f"/api/v1/datasets/{ds}/items", json={"items": [{"input": {"q": "a"}}, {"input": []}]})
    assert r.status_code == 422 and r.json()["error"]["details"]["index"] == 1, r.text
    assert api.get(f"/api/v1/datasets/{ds}").json()["latest_version"] == 0  # nothing stored

    viewer = TestClient(app, raise_server_exceptions=False)
    viewer.headers["Authorization"] = f"Bearer {make_key(database, principal, scopes=('read',))}"
    assert viewer.get(f"/api/v1/datasets/{ds}").status_code == 200
    r = viewer.post(f"/api/v1/datasets/{ds}/items", json={"items": [{"input": {"q": "a"}}]})
    assert r.status_code == 403
    assert viewer.post("/api/v1/datasets", json={"name": unique("x")}).status_code == 403


def test_a_dataset_from_a_filter_holds_exactly_the_filters_matches(api):  # noqa: ANN001
    mark = unique("m")
    logs = [log(metadata={"batch": mark, "env": "prod" if i % 3 else "test"}, scores=[{"name": "medically_correct",
                                                                                       "value": 30 + 10 * i}],
                prompt={"name": "服薬指導", "variables": {"question": f"質問{i}"}},
                output={"text": f"回答{i}"}, start_time=f"2026-11-20T10:00:0{i}Z", end_time=None) for i in range(8)]
    logs.append(log(metadata={"batch": mark, "env": "prod"}, input={"messages": [{"role": "user", "content": "変数なし"}]},
                    output={"text": "メッセージのみ"}, start_time="2026-11-20T10:00:09Z", end_time=None))
    assert ingest(api, *logs)["accepted"] == 9
    flt = f'metadata.batch = "{mark}" and metadata.env = "prod"'
    matches = api.get("/api/v1/requests", params={"filter": flt, "limit": 100}).json()["items"]
    ds = new(api)
    r = api.post(f"/api/v1/datasets/{ds}/from-log", json={"filter": flt, "message": "prod logs"})
    assert r.status_code == 201, r.text
    assert (r.json()["item_count"], r.json()["truncated"]) == (len(matches), False)
    items = all_items(api, ds, limit=3)
    assert [i["source_request"] for i in items] == [m["number"] for m in matches]  # newest first, every match
    by_request = {i["source_request"]: i for i in items}
    newest = by_request[matches[0]["number"]]
    assert newest["input"] == [{"role": "user", "content": "変数なし"}] and newest["expected"] == "メッセージのみ"
    other = by_request[matches[1]["number"]]
    assert other["input"] == {"question": "質問7"} and other["expected"] == "回答7"
    assert other["metadata"]["batch"] == mark

    # Bounded: the newest max_items, and the answer says more matched; without the outputs on request.
    capped = api.post(f"/api/v1/datasets/{ds}/from-log", json={"filter": flt, "max_items": 2, "expected": False})
    assert (capped.json()["added"], capped.json()["truncated"]) == (2, True)
    assert [i["expected"] for i in all_items(api, ds)[-2:]] == [None, None]
    # By the requests picked in the UI.
    picked = api.post(f"/api/v1/datasets/{ds}/from-log", json={"requests": [matches[2]["id"], matches[3]["number"]]})
    assert picked.status_code == 201, picked.text
    assert [i["source_request"] for i in all_items(api, ds)[-2:]] == [matches[2]["number"], matches[3]["number"]]
    none = api.post(f"/api/v1/datasets/{ds}/from-log", json={"filter": f'metadata.batch = "{mark}-none"'})
    assert none.status_code == 422
    both = api.post(f"/api/v1/datasets/{ds}/from-log", json={"filter": flt, "requests": [1]})
    assert both.status_code == 422
    missing = api.post(f"/api/v1/datasets/{ds}/from-log", json={"requests": ["no-such-request"]})
    assert missing.status_code == 404 and "no-such-request" in missing.json()["error"]["message"]


def test_upload_jsonl_and_csv_with_japanese_text_and_export_them_back(api):  # noqa: ANN001
    ds = new(api)
    rows = [{"input": {"question": "授乳中でも飲めますか?", "patient": "成人"}, "expected": "はい。", "metadata": {"src": "手入力"}},
            {"input": [{"role": "system", "content": "薬剤師として"}, {"role": "user", "content": "眠くなりますか"}]}]
    text = "\ufeff" + "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n\n"
    r = upload(api, ds, text, message="jsonl")
    assert r.status_code == 201, r.text
    assert r.json()["item_count"] == 2
    csv_text = "question,patient,expected,metadata.src\r\n\"=1+1\",小児,\"複数行の\n回答\",CSV\r\n"
    r = upload(api, ds, csv_text, name="more.csv")
    assert r.status_code == 201, r.text
    items = all_items(api, ds)
    assert [i["input"] for i in items] == [rows[0]["input"], rows[1]["input"], {"question": "=1+1", "patient": "小児"}]
    assert items[2]["expected"] == "複数行の\n回答" and items[2]["metadata"] == {"src": "CSV"}

    exported = api.get(f"/api/v1/datasets/{ds}/export", params={"version": 1})
    assert exported.status_code == 200 and "dataset-" in exported.headers["content-disposition"]
    lines = [json.loads(line) for line in exported.text.splitlines()]
    assert [{k: v for k, v in line.items() if k in ("input", "expected")} for line in lines] == [
        {"input": rows[0]["input"], "expected": "はい。"}, {"input": rows[1]["input"], "expected": None}]
    again = new(api)
    assert upload(api, again, exported.text).status_code == 201  # an export uploads as it was
    assert [i["input"] for i in all_items(api, again)] == [rows[0]["input"], rows[1]["input"]]

    as_csv = api.get(f"/api/v1/datasets/{ds}/export", params={"format": "csv", "bom": True})
    assert as_csv.text.startswith("\ufeffpatient,question,messages,expected,metadata.src")
    assert "'=1+1" in as_csv.text  # a formula is never handed to a spreadsheet
    assert api.get(f"/api/v1/datasets/{ds}/export", params={"version": 9}).status_code == 404


def test_a_bad_row_names_its_line_and_column_and_nothing_is_stored(api, database):  # noqa: ANN001
    ds = new(api)
    good = json.dumps({"input": {"q": "良い行"}}, ensure_ascii=False)
    cases = [
        ("items.jsonl", "\n".join([good] * 3 + ['{"input": {"q": "x"},, }']), 4, 22),
        ("items.jsonl", "\n".join([good, '{"input": "text", "expected": "x"}']), 2, 2),
        ("items.jsonl", "\n".join([good, '{"input": {"q": "x"}, "expected": 5}']), 2, 23),
        ("items.csv", "q,expected\n良い,x\n悪い,x,extra\n", 3, 3),
        ("items.csv", "q,messages\na,\nb,[{\"content\": 1}]\n", 3, 2),
        ("items.csv", "q,q\na,b\n", 1, 2),
        ("items.jsonl", (good + "\n" + '{"input": {"q": "').encode() + b"\xff" + b'"}}', 2, 18),
    ]
    for name, text, line, column in cases:
        body = text if isinstance(text, bytes) else text.encode()
        r = api.post(f"/api/v1/datasets/{ds}/upload", files={"file": (name, body)})
        assert r.status_code == 422, (name, text, r.text)
        details = r.json()["error"]["details"]
        assert (details["line"], details["column"]) == (line, column), (text, r.json())
        assert f"Line {line}, column {column}: " in r.json()["error"]["message"]
    many = "\n".join([good] * 1200 + ["not json"])  # past the first insert batches: still nothing stored
    r = upload(api, ds, many)
    assert r.status_code == 422 and r.json()["error"]["details"]["line"] == 1201
    assert api.get(f"/api/v1/datasets/{ds}").json()["latest_version"] == 0
    with database.read() as s:
        assert s.scalar(select(func.count()).select_from(DatasetItem).where(DatasetItem.dataset_id == ds)) == 0
    assert upload(api, ds, "", name="empty.csv").status_code == 422
    assert upload(api, ds, "x", name="items.txt").status_code == 422


def test_bad_row_in_japanese(api):  # noqa: ANN001
    from promptyard.domain import datasets as dd
    from promptyard.errors import InvalidInput

    exc = dd.Located(InvalidInput("errors.datasets.expected_type", field="expected"), "errors.datasets.at_row",
                     line=3, column=2)
    assert exc.text("ja") == "3 行目 2 列目: 期待される出力は文字列にしてください。"
    assert exc.message == "Line 3, column 2: the expected output must be text."


def test_uploaded_and_added_items_are_redacted_like_ingest_and_log_items_copy_the_stored_text(api):  # noqa: ANN001
    ds = new(api)
    r = upload(api, ds, f"question,expected,metadata.contact\n{EMAIL} に連絡,{EMAIL},{EMAIL}\n", name="a.csv")
    assert r.status_code == 201, r.text
    api.post(f"/api/v1/datasets/{ds}/items", json={"items": [{"input": [{"role": "user", "content": EMAIL}]}]})
    mark = unique("red")
    ingest(api, log(metadata={"batch": mark}, prompt={"name": "p", "variables": {"question": f"{EMAIL} です"}},
                    output={"text": f"返信先 {EMAIL}"}))
    assert api.post(f"/api/v1/datasets/{ds}/from-log", json={"filter": f'metadata.batch = "{mark}"'}).status_code == 201
    items = all_items(api, ds)
    blob = json.dumps(items, ensure_ascii=False)
    assert EMAIL not in blob and "[メールアドレス]" in blob
    assert items[0]["input"] == {"question": "[メールアドレス] に連絡"}
    assert items[2]["input"] == {"question": "[メールアドレス] です"}  # as the log stores it


def test_erasing_a_request_erases_its_items_in_every_version(api, database):  # noqa: ANN001
    mark = unique("erase")
    ingest(api, *[log(metadata={"batch": mark, "patient_id": f"p{i}"}, output={"text": f"患者{i}への回答"},
                      prompt={"name": "p", "variables": {"question": f"患者{i}の質問"}}) for i in range(3)])
    ds = new(api)
    api.post(f"/api/v1/datasets/{ds}/from-log", json={"filter": f'metadata.batch = "{mark}"'})  # v1: 3 items
    api.post(f"/api/v1/datasets/{ds}/items", json={"items": [{"input": {"question": "手入力"}}]})  # v2: 4
    first = all_items(api, ds, version=1)
    victim = next(i for i in first if i["metadata"]["patient_id"] == "p1")
    api.post(f"/api/v1/datasets/{ds}/items/delete", json={"ids": [first[0]["id"]]})  # v3
    exported = api.get(f"/api/v1/datasets/{ds}/export", params={"version": 1}).text
    assert "患者1の質問" in exported

    r = api.post("/api/v1/requests/erase", json={"metadata_key": "patient_id", "metadata_value": "p1"})
    assert r.status_code == 200 and r.json()["count"] == 1, r.text
    for version in (1, 2, 3):
        items = all_items(api, ds, version=version)
        assert victim["source_request"] not in [i["source_request"] for i in items]
        assert "患者1" not in api.get(f"/api/v1/datasets/{ds}/export", params={"version": version}).text
    counts = {v["number"]: v["item_count"] for v in api.get(f"/api/v1/datasets/{ds}").json()["versions"]}
    assert counts == {1: 2, 2: 3, 3: 2 if first[0]["id"] != victim["id"] else 3}
    assert {v: len(all_items(api, ds, version=v)) for v in counts} == counts
    with database.read() as s:
        assert s.scalar(select(func.count()).select_from(DatasetItem)
                        .where(DatasetItem.source_request_id == victim["source_request"])) == 0
