"""Issue 17, score configs in the UI without JavaScript: the configs page (create, edit, archive,
delete; viewers read only) and the request page's score form typed by its config (pass/fail radio
buttons, categorical labels with their descriptions, numeric range and step, the rubric as escaped
text), in Japanese and English."""

from __future__ import annotations

import re

from tests.support import ingest, log

CATEGORIES = "1 | 1 | 役に立たない\n2 | 2 | あまり役に立たない\n3 | 3 | 普通\n4 | 4 | 役に立つ\n5 | 5 | とても役に立つ"


def _config_form(client, **fields: str) -> dict:  # noqa: ANN001
    base = {"csrf_token": client.csrf, "name": "有用性", "type": "categorical", "min": "", "max": "", "step": "",
            "categories": CATEGORIES, "rubric": "", "comment_required_below": "3", "sources": ["human", "api"]}
    return base | fields


def test_configs_page_creates_edits_and_refuses_in_japanese(ui, api):  # noqa: ANN001
    editor = ui("editor", lang="ja")
    empty = editor.get("/ui/score-configs")
    assert empty.status_code == 200 and "スコアの設定はまだありません" in empty.text
    made = editor.post("/ui/score-configs", data=_config_form(editor, rubric="<b>太字</b>\n二行目"),
                       follow_redirects=False)
    assert made.status_code == 303, made.text
    page = editor.get(made.headers["location"]).text
    assert "スコアの設定を保存しました。" in page and "有用性" in page and "1, 2, 3, 4, 5" in page
    stored = api.get("/api/v1/score-configs").json()["items"][0]
    assert stored["categories"][4] == {"value": 5, "label": "5", "description": "とても役に立つ"}
    assert stored["sources"] == ["api", "human"] and stored["comment_required_below"] == 3

    bad = editor.post("/ui/score-configs", data=_config_form(editor, name="安全", type="numeric", min="10", max="1"))
    assert bad.status_code == 422
    assert "min は max より小さくしてください" in bad.text and 'value="安全"' in bad.text  # typed values kept
    taken = editor.post("/ui/score-configs", data=_config_form(editor))
    assert taken.status_code == 409 and "すでにあります" in taken.text

    edit = editor.get(f"/ui/score-configs/{stored['id']}").text
    assert "&lt;b&gt;太字&lt;/b&gt;" in edit and "<b>太字" not in edit  # the rubric is text, never HTML
    saved = editor.post(f"/ui/score-configs/{stored['id']}", data=_config_form(
        editor, type="boolean", archived="on", comment_required_below=""), follow_redirects=False)
    assert saved.status_code == 303
    after = api.get(f"/api/v1/score-configs/{stored['id']}").json()
    assert (after["type"], after["archived"], after["name"]) == ("boolean", True, "有用性")

    viewer = ui("viewer", lang="en")
    listed = viewer.get("/ui/score-configs").text
    assert "Score configs" in listed and "archived" in listed and "score-config-form" not in listed
    assert viewer.post("/ui/score-configs", data=_config_form(viewer, name="x")).status_code == 403
    assert editor.post(f"/ui/score-configs/{stored['id']}/delete", data={"csrf_token": editor.csrf},
                       follow_redirects=False).status_code == 303
    assert api.get("/api/v1/score-configs").json()["items"] == []


def test_request_page_scores_by_config(ui, api):  # noqa: ANN001
    for body in ({"name": "有用性", "type": "categorical", "comment_required_below": 3,
                  "rubric": "1: 役に立たない\n5: <script>とても</script>",
                  "categories": [{"value": v, "label": str(v), "description": d} for v, d in
                                 ((1, "役に立たない"), (3, "普通"), (5, "とても役に立つ"))]},
                 {"name": "安全", "type": "boolean"},
                 {"name": "dose", "type": "numeric", "min": 0, "max": 10, "step": 0.25}):
        assert api.post("/api/v1/score-configs", json=body).status_code == 201
    a = log()
    ingest(api, a)
    number = api.get(f"/api/v1/requests/{a['id']}").json()["number"]
    editor = ui("editor", lang="ja")
    page = editor.get(f"/ui/requests/{number}").text
    forms = {m.group(1): m.group(0) for m in re.finditer(
        r'<form[^>]*class="score-form[^"]*">.*?name="name" value="([^"]+)".*?</form>', page, re.S)}
    assert set(forms) >= {"有用性", "安全", "dose"}
    assert forms["安全"].count('type="radio"') == 2 and "合格" in forms["安全"] and "不合格" in forms["安全"]
    assert forms["有用性"].count('type="radio"') == 3 and "とても役に立つ" in forms["有用性"]
    assert "コメント（3 未満では必須）" in forms["有用性"]
    assert "&lt;script&gt;とても&lt;/script&gt;" in forms["有用性"] and "<script>とても" not in page
    assert 'min="0" max="10" step="0.25"' in forms["dose"]

    def post(**fields: str):  # noqa: ANN202
        return editor.post(f"/ui/requests/{number}/scores", data={"csrf_token": editor.csrf, "comment": "", **fields},
                           follow_redirects=False)

    assert post(name="安全", value="0").status_code == 303
    assert post(name="dose", value="2.75").status_code == 303
    refused = post(name="有用性", value="1")
    assert refused.status_code == 422 and "コメントが必要です" in refused.text
    assert post(name="有用性", value="1", comment="用量の誤り").status_code == 303
    assert post(name="dose", value="2.8").status_code == 422
    scores = {s["name"]: (s["value"], s["source"]) for s in api.get(f"/api/v1/requests/{a['id']}").json()["scores"]}
    assert scores == {"安全": (0, "human"), "dose": (2.75, "human"), "有用性": (1, "human")}
    shown = editor.get(f"/ui/requests/{number}").text
    table = shown[shown.index('class="scores-table"'):shown.index("</table>", shown.index('class="scores-table"'))]
    assert "不合格" in table  # a pass/fail score shows as such, not as 0
    checked = re.search(r'value="0" checked', shown)
    assert checked, "the stored pass/fail is the checked radio button"
