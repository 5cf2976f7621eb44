"""The request list and detail, for reading (issue 17), in-process on SQLite and PostgreSQL: the
question and answer in the list with the text search's match marked, the column chooser, LLM
output as Markdown with its raw view, and the rendered template's difference marker. The same in
Chromium (layout at 1360 px, the raw toggle in place, hostile Markdown): test_ui_reading_browser.py."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser

from tests.support import publish
from tests.ui_support import log, number_of, rows


def cell(row: str, kind: str) -> str:
    found = re.search(rf'<td class="glance {kind}">(.*?)</td>', row, re.S)
    return found.group(1) if found else ""


def headings(html: str) -> list[str]:
    head = html.split('<table class="requests">', 1)[1].split("</thead>", 1)[0]
    return [re.sub(r"<.*?>", "", h).strip() for h in re.findall(r"<th.*?</th>", head, re.S)]


def test_list_shows_the_last_question_and_the_answer_first_lines(api, ui):
    log(api, input={"messages": [{"role": "system", "content": "You help pharmacists."},
                                 {"role": "user", "content": "最初の質問"}, {"role": "assistant", "content": "前の回答"},
                                 {"role": "user", "content": "<b>ロキソニン</b>の用量は?\n二行目"}]},
        output={"role": "assistant", "content": "# 用量\n\n1回1錠です。"})
    log(api, input="plain prompt text", output={"choices": [{"message": {"role": "assistant", "content": "choice answer"}}]},
        start_time="2026-11-20T00:00:00+00:00")
    html = ui("viewer").get("/ui/requests").text
    first, second = rows(html)
    assert "&lt;b&gt;ロキソニン&lt;/b&gt;の用量は?" in cell(first, "question") and "二行目" not in first
    assert "最初の質問" not in first and "You help" not in first  # the last user message only
    assert "# 用量" in cell(first, "answer") and "1回1錠" not in first  # the first line, as text
    assert "plain prompt text" in cell(second, "question") and "choice answer" in cell(second, "answer")
    assert "<mark>" not in html
    assert headings(html)[:5] == ["Time", "Prompt@version", "Model", "Question", "Answer"]


def test_the_search_match_is_marked_in_the_question_or_answer_by_the_search_rules(api, ui):
    log(api, input={"messages": [{"role": "user", "content": "前置き\n" + "x" * 50 + "服薬の<ＬＯＸ>用量は?"}]},
        output={"role": "assistant", "content": "ｶﾞｲﾄﾞ参照\nLOX"})
    log(api, input={"messages": [{"role": "system", "content": "内部の用量メモ"}, {"role": "user", "content": "質問"}]},
        start_time="2026-11-20T00:00:00+00:00")
    client = ui("viewer")
    page = client.get("/ui/requests", params={"q": 'text ~ "<lox>用量"'}).text
    [row] = rows(page)  # full-width in the text, ASCII lower case in the query: NFKC + case folding
    assert "…" + "x" * 17 + "服薬の<mark>&lt;ＬＯＸ&gt;用量</mark>は?" in cell(row, "question")
    assert "前置き" not in row
    assert "<mark>" not in cell(row, "answer")  # the condition matched the input; the answer has it too but
    # text ~ looks at both: the answer's own line with "lox" is not what matched first
    [row] = rows(client.get("/ui/requests", params={"q": 'output ~ "ガイド"'}).text)
    assert "<mark>ｶﾞｲﾄﾞ</mark>参照" in cell(row, "answer") and "<mark>" not in cell(row, "question")
    assert '<span class="muted">output</span>' in row  # the match column names the field, the text is in the cell
    [row] = rows(client.get("/ui/requests", params={"q": 'input ~ "用量メモ"'}).text)  # only in the system prompt
    assert "<mark>" not in cell(row, "question") and "内部の<mark>用量メモ</mark>" in row  # the match column shows it
    page = client.get("/ui/requests", params={"q": 'text ~ "用量"'}).text
    assert '<p class="matching" id="matching">2 matching</p>' in page


def test_column_chooser_is_remembered_per_user_and_checked(api, ui):
    log(api, metadata={"env": "prod", "ward": "東3"}, scores=[{"name": "accuracy", "value": 80},
                                                           {"name": "kindness", "value": 60},
                                                           {"name": "safety", "value": 90}],
        usage={"input_tokens": 1000, "output_tokens": 500})
    client, other = ui("viewer"), ui("viewer")
    default = client.get("/ui/requests").text
    assert headings(default) == ["Time", "Prompt@version", "Model", "Question", "Answer", "Latency", "Cost",
                                 "accuracy", "kindness", "env", "Tags"]
    form = {"csrf_token": client.csrf, "col": ["tokens", "question", "score:safety", "meta:ward"],
            "next": "/ui/requests?q=model+%3D+%22gpt-4o%22"}
    assert client.post("/ui/requests/columns", data=form | {"csrf_token": "x"}, follow_redirects=False).status_code == 403
    saved = client.post("/ui/requests/columns", data=form, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == form["next"]
    [cookie] = [c.name for c in client.cookies.jar if c.name.startswith("py_cols_")]
    chosen = client.get("/ui/requests").text
    assert headings(chosen) == ["Time", "Question", "Tokens", "safety", "ward"]
    assert ">1500<" in rows(chosen)[0] and "東3" in rows(chosen)[0] and ">90<" in rows(chosen)[0]
    assert 'value="meta:ward" checked' in chosen and 'value="answer" checked' not in chosen
    assert headings(other.get("/ui/requests").text) == headings(default)  # another user keeps the default
    away = client.post("/ui/requests/columns", data=form | {"next": "https://evil.example/"}, follow_redirects=False)
    assert away.headers["location"] == "/ui/requests"
    client.post("/ui/requests/columns", data={"csrf_token": client.csrf, "reset": "1"}, follow_redirects=False)
    assert headings(client.get("/ui/requests").text) == headings(default)
    for crafted in ("%%%", base64.urlsafe_b64encode(b'{"a": 1}').decode(), base64.urlsafe_b64encode(
            b'["<script>", "score:", "meta:' + b"k" * 300 + b'", 7, "cost"]').decode()):
        client.cookies.set(cookie, crafted, path="/ui")
        page = client.get("/ui/requests")
        assert page.status_code == 200 and "<script>" not in page.text.split("<main", 1)[1]
    assert headings(page.text) == ["Time", "Cost"]  # what was valid of the last one


def _tags(html: str) -> list[tuple[str, dict]]:
    found: list[tuple[str, dict]] = []

    class Walk(HTMLParser):
        def handle_starttag(self, tag, attrs):  # noqa: ANN001, ANN202
            found.append((tag, dict(attrs)))

    Walk().feed(html)
    return found


ANSWER = ("## 用量\n\n- 1回1錠\n- 1日3回まで\n\n| 薬 | 量 |\n|---|---|\n| A | `2錠` |\n\n[添付文書](https://www.pmda.go.jp/) "
          "<script>window.__xss=1</script> ![図](https://evil.example/x.png) [bad](javascript:alert(1))")


def test_output_renders_as_markdown_safely_with_a_raw_view(api, ui):
    body = log(api, output={"role": "assistant", "content": ANSWER},
               input={"messages": [{"role": "user", "content": "# not a heading: user text stays text"}]})
    client = ui("viewer")
    ref = number_of(api, body["id"])
    html = client.get(f"/ui/requests/{ref}").text
    out = html.split('class="io-out"', 1)[1].split("</section>", 1)[0]
    tags = _tags(out)
    names = [t for t, _ in tags]
    assert "<h2>用量</h2>" in out and "ul" in names and "table" in names and "code" in names
    assert "img" not in names and "script" not in names
    links = [a for t, a in tags if t == "a" and "href" in a and "md-toggle" not in a.get("class", "")]
    assert [a["href"] for a in links] == ["https://www.pmda.go.jp/", "https://evil.example/x.png"]
    assert all(a["rel"] == "noopener noreferrer" and a["target"] == "_blank" for a in links)
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in out and "[bad](javascript:alert(1))" in out
    assert '<div class="text md-src" hidden>## 用量' in out  # the raw text beside it, for the in-place toggle
    assert f'href="/ui/requests/{ref}?raw=1"' in out
    assert "<h1>" not in html.split('class="io-in"', 1)[1].split("</section>", 1)[0]  # only LLM output is Markdown
    raw = client.get(f"/ui/requests/{ref}", params={"raw": "1"}).text
    raw_out = raw.split('class="io-out"', 1)[1].split("</section>", 1)[0]
    assert "<h2>用量" not in raw_out and '<div class="md">' not in raw_out and "## 用量" in raw_out and 'class="md-pair"' not in raw_out
    assert f'href="/ui/requests/{ref}"' in raw_out
    ja = ui("viewer", lang="ja").get(f"/ui/requests/{ref}").text
    assert "元のテキストを表示" in ja


def test_rendered_template_marks_a_difference_only_when_there_is_one(api, ui):
    publish(api, "p/same", "Answer briefly: {question}")
    same = log(api, prompt={"name": "p/same", "version": 1, "variables": {"question": "用量は?"}},
               input={"messages": [{"role": "system", "content": "Answer briefly: 用量は?"}]})
    edited = log(api, prompt={"name": "p/same", "version": 1, "variables": {"question": "用量は?"}},
                 input={"messages": [{"role": "system", "content": "Answer briefly and kindly: 用量は?"}]})
    client = ui("viewer")
    equal = client.get(f"/ui/requests/{number_of(api, same['id'])}").text
    assert 'id="template-differs"' not in equal and "reads the same as the input sent" in equal
    assert "Final input" not in equal  # one copy of the conversation, not three
    differs = client.get(f"/ui/requests/{number_of(api, edited['id'])}").text
    assert 'id="template-differs"' in differs and 'class="diff template-diff"' in differs
    assert "briefly<ins> and kindly</ins>:" in differs  # the changed characters, domain/diff.py
    ja = ui("viewer", lang="ja").get(f"/ui/requests/{number_of(api, edited['id'])}").text
    assert "送信された入力と異なります" in ja


def test_scoring_panel_comes_right_after_the_conversation(api, ui):
    publish(api, "p/panel", "Answer briefly: {question}")
    body = log(api, prompt={"name": "p/panel", "version": 1, "variables": {"question": "q"}},
               input={"messages": [{"role": "system", "content": "Answer briefly: q"}, {"role": "user", "content": "q"}]},
               scores=[{"name": "accuracy", "value": 70}])
    html = ui("editor").get(f"/ui/requests/{number_of(api, body['id'])}").text
    panel = html.index('class="review-panel"')
    assert html.index('class="io-out"') < html.index('class="rendered"') < panel < html.index('class="score-form')
    assert html.count('class="turns"') <= 3  # input, output, the rendered template (folded under the diff)


def test_a_template_diff_too_long_for_the_page_keeps_only_the_marker(api, ui):
    publish(api, "p/long", "Answer briefly: {question}")
    body = log(api, prompt={"name": "p/long", "version": 1, "variables": {"question": "q"}},
               input={"messages": [{"role": "system", "content": "Answer briefly: q"},
                                   {"role": "user", "content": "ab" * 15_000}]})
    html = ui("viewer").get(f"/ui/requests/{number_of(api, body['id'])}").text
    assert 'id="template-differs"' in html and 'id="template-too-long"' in html and 'class="diff template-diff"' not in html
