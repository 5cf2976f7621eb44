"""The queue pages without JavaScript (plain forms, ui fixture) on both databases: an editor builds
a queue from a filter, a pharmacist reviews (each answer a redirect to the next item), blind until
they gave their own, errors re-render in the user's language, the overview shows progress and
disagreements, a member not named on the queue cannot review."""

from __future__ import annotations

import re
import uuid

from promptyard.services import members
from tests.support import ingest, log

RUBRIC = "5 = <b>correct</b> and complete"


def _uid(database, principal, email: str) -> int:  # noqa: ANN001
    with database.read() as s:
        return next(m.user_id for m in members.list_members(s, principal) if m.email == email)


def _make(api, ui, database, principal, *reviewers, per_item: int = 1) -> tuple:  # noqa: ANN001
    batch = uuid.uuid4().hex[:8]
    ingest(api, *[log(metadata={"batch": batch}, end_time=None, start_time=f"2026-11-20T10:00:0{i}Z",
                      input={"messages": [{"role": "user", "content": f"質問 {i}: ロキソニンの用量は?"}]},
                      output={"text": f"回答 {i}: 1回1錠です。"}) for i in range(3)])
    editor = ui("editor")
    page = editor.get("/ui/queues/new")
    assert page.status_code == 200
    answer = editor.post("/ui/queues/new", data={
        "csrf_token": editor.csrf, "name": f"服薬 {batch}", "filter": f'metadata.batch = "{batch}"',
        "score_name_0": "accuracy", "score_kind_0": "scale5", "score_rubric_0": RUBRIC,
        "score_name_1": "safe", "score_kind_1": "yes_no", "reviews_per_item": str(per_item),
        "reviewers": [str(_uid(database, principal, r.email)) for r in reviewers]}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return editor, int(re.search(r"/ui/queues/(\d+)", answer.headers["location"]).group(1))


def test_a_pharmacist_reviews_without_javascript(api, ui, database, principal):
    a, b = ui("viewer", lang="ja"), ui("viewer")
    editor, qid = _make(api, ui, database, principal, a, b, per_item=2)
    page = a.get(f"/ui/queues/{qid}/review")
    assert page.status_code == 200
    assert "1 / 3" in page.text and "回答 2: 1回1錠です。" in page.text and "質問 2" in page.text
    assert "5 = &lt;b&gt;correct&lt;/b&gt;" in page.text and "<b>correct" not in page.text
    assert "ご自身の評価を付けるまで表示されません。" in page.text
    item = re.search(r'name="item" value="(\d+)"', page.text).group(1)
    number = re.search(r'href="/ui/requests/(\d+)"', page.text).group(1)
    bad = a.post(f"/ui/queues/{qid}/review", data={"csrf_token": a.csrf, "item": item, "score_accuracy": "9",
                                                   "score_safe": "1"})
    assert bad.status_code == 422 and "accuracy: 1〜5 の整数で評価してください。" in bad.text
    assert 'value="9"' not in bad.text  # the bad value is not a choice; the others are kept
    saved = a.post(f"/ui/queues/{qid}/review", data={"csrf_token": a.csrf, "item": item, "score_accuracy": "2",
                                                     "score_safe": "100", "comment": "用量の根拠が弱い"},
                   follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"].startswith(f"/ui/queues/{qid}/review")
    nxt = a.get(saved.headers["location"])
    assert "2 / 3" in nxt.text and "保存しました。" in nxt.text
    assert re.search(r'name="item" value="(\d+)"', nxt.text).group(1) != item
    # b: blind before giving theirs, then sees a's values.
    before = b.get(f"/ui/queues/{qid}/review?item={item}")
    assert "Hidden until you give your own scores." in before.text and "用量の根拠が弱い" not in before.text
    b.post(f"/ui/queues/{qid}/review", data={"csrf_token": b.csrf, "item": item, "score_accuracy": "5",
                                             "score_safe": "0"})
    after = b.get(f"/ui/queues/{qid}/review?item={item}")
    assert "用量の根拠が弱い" in after.text and "accuracy: 2" in after.text
    skipped = b.post(f"/ui/queues/{qid}/review", data={"csrf_token": b.csrf, "item": item, "action": "skip"},
                     follow_redirects=False)
    assert skipped.status_code == 303
    over = editor.get(f"/ui/queues/{qid}")
    assert over.status_code == 200 and 'id="disagreements"' in over.text and "用量の根拠が弱い" in over.text
    assert 'id="agreement"' in over.text
    assert re.search(r"<td class=\"num\">1</td><td class=\"num\">0</td>", over.text)
    scores = api.get(f"/api/v1/requests/{number}").json()["scores"]
    assert {s["name"]: s["value"] for s in scores} == {"accuracy": 3.5, "safe": 50}
    assert "服薬" in editor.get("/ui/queues").text


def test_only_reviewers_review_and_forms_need_csrf(api, ui, database, principal):
    a, outsider = ui("viewer"), ui("viewer")
    _, qid = _make(api, ui, database, principal, a)
    assert outsider.get(f"/ui/queues/{qid}/review").status_code == 403
    assert outsider.get(f"/ui/queues/{qid}").status_code == 200
    page = a.get(f"/ui/queues/{qid}/review")
    item = re.search(r'name="item" value="(\d+)"', page.text).group(1)
    assert a.post(f"/ui/queues/{qid}/review", data={"item": item, "score_accuracy": "3", "score_safe": "1"}
                  ).status_code == 403
    assert a.get("/ui/queues/new").status_code == 403  # viewers do not build queues
    assert a.get("/ui/queues/999999/review").status_code == 404


def test_new_queue_form_names_the_problem(ui):
    editor = ui("editor", lang="ja")
    answer = editor.post("/ui/queues/new", data={"csrf_token": editor.csrf, "name": "x", "score_name_0": "a b",
                                                 "score_kind_0": "scale5", "reviews_per_item": "1"})
    assert answer.status_code == 422 and "scores[0].name" in answer.text
    answer = editor.post("/ui/queues/new", data={"csrf_token": editor.csrf, "name": "x", "score_name_0": "ok",
                                                 "score_kind_0": "scale5", "rate": "abc"})
    assert answer.status_code == 422 and "sampling.rate" in answer.text
