"""Request log pages in-process, on SQLite and PostgreSQL: the list (filter, helpers, paging,
export), one request (content, score and metadata forms with CSRF and roles), analytics, and
the workspace wall."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from datetime import timedelta

from tests.support import publish
from tests.ui_support import T0, log, number_of, rows


def test_list_shows_columns_in_the_users_time_zone_and_links(api, ui):
    publish(api, "薬局/返信案")
    log(api, prompt={"name": "薬局/返信案", "version": 1, "variables": {"question": "q"}}, metadata={"env": "prod"},
        scores=[{"name": "medically_correct", "value": 80}], usage={"input_tokens": 1000, "output_tokens": 500},
        end_time=(T0 + timedelta(milliseconds=1234)).isoformat(), tags=["beta"])
    client = ui("viewer")
    page = client.get("/ui/requests")
    assert page.status_code == 200
    [row] = rows(page.text)
    assert "2026-11-20 01:00:00 UTC" in row and "薬局/返信案@1" in row and "gpt-4o" in row
    assert "1,234 ms" in row and "$0.0075<" in row  # gpt-4o: 1000 in + 500 out tokens
    assert "80" in row and "prod" in row and "beta" in row
    assert 'href="/ui/requests?prompt=' in row and re.search(r'href="/ui/requests/\d+"', row)
    saved = client.post("/ui/settings", data={"csrf_token": client.csrf, "locale": "", "time_zone": "Asia/Tokyo",
                                              "name": "Viewer"}, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    assert "2026-11-20 10:00:00 JST" in client.get("/ui/requests").text


def test_filter_with_three_conditions_and_scopes(api, ui):
    publish(api, "p/a")
    for i in range(6):
        log(api, prompt={"name": "p/a"}, metadata={"env": "prod" if i % 2 else "dev", "store": f"s{i % 3}"},
            scores=[{"name": "medically_correct", "value": 10 * i}], model="gpt-4o" if i < 4 else "gpt-4o-mini",
            start_time=(T0 + timedelta(minutes=i)).isoformat())
    client = ui("viewer")
    q = 'metadata.env = "prod" AND score.medically_correct >= 20 AND model = "gpt-4o"'
    page = client.get("/ui/requests", params={"q": q})
    assert page.status_code == 200 and len(rows(page.text)) == 1  # i = 3 only
    assert len(rows(client.get("/ui/requests", params={"prompt": "p/a", "version": 1}).text)) == 6
    assert len(rows(client.get("/ui/requests", params={"prompt": "p/other"}).text)) == 0
    assert len(rows(client.get("/ui/requests", params={"prompt": "p/a", "version": 7}).text)) == 0
    log(api, prompt={"name": "p/not-in-the-registry"})  # stored with the name only
    assert len(rows(client.get("/ui/requests", params={"prompt": "p/not-in-the-registry"}).text)) == 1
    assert "value=\"metadata.env = &#34;prod&#34;" in page.text  # the box keeps the filter, escaped


def test_helpers_turn_into_filter_text_in_the_box(api, ui):
    client = ui("viewer")
    r = client.get("/ui/requests", params={"q": 'tag = "a" OR tag = "b"', "h_meta_key": "user id",
                                           "h_meta_value": "7", "h_score_name": "medically_correct",
                                           "h_score_op": "<", "h_score_value": "60", "h_status": "error",
                                           "h_since": "-7d", "h_from": "2026-11-20T09:00"},
                   follow_redirects=False)
    assert r.status_code == 303
    q = dict(re.findall(r"([a-z]+)=([^&]*)", r.headers["location"].split("?", 1)[1]))["q"]
    from urllib.parse import unquote_plus

    assert unquote_plus(q) == ('(tag = "a" OR tag = "b") AND metadata."user id" = "7" AND '
                               'score.medically_correct < 60 AND status = error AND time >= -7d AND '
                               'time >= "2026-11-20T09:00:00+00:00"')
    assert client.get(r.headers["location"]).status_code == 200
    bad = client.get("/ui/requests", params={"h_score_name": "x", "h_score_value": "lots"})
    assert bad.status_code == 422 and "not a number" in bad.text


def test_bad_filter_is_a_422_page_that_shows_the_position(ui):
    client = ui("viewer")
    page = client.get("/ui/requests", params={"q": "metadata.env = prod"})
    assert page.status_code == 422
    assert "at character 15" in page.text and "<mark>p</mark>rod" in page.text
    assert 'value="metadata.env = prod"' in page.text  # still in the box, to fix it
    ja = ui("viewer", lang="ja").get("/ui/requests", params={"q": "metadata.env = prod"})
    assert ja.status_code == 422 and "15 文字目" in ja.text
    assert ui("viewer").get("/ui/analytics", params={"q": "score.x <"}).status_code == 422
    assert client.get("/ui/requests/export", params={"q": "((", "format": "csv"}).status_code == 422


def test_keyset_paging_is_stable_both_ways_while_logs_arrive(api, ui):
    batch = [{"id": f"page-{i:03d}", "model": "m", "start_time": (T0 + timedelta(seconds=i)).isoformat()}
             for i in range(120)]
    assert api.post("/api/v1/requests", json={"requests": batch}).json()["accepted"] == 120
    client = ui("viewer")
    first = client.get("/ui/requests")
    assert len(rows(first.text)) == 50 and 'rel="prev"' not in first.text
    nxt = re.search(r'rel="next" href="([^"]+)"', first.text).group(1).replace("&amp;", "&")
    second = client.get(nxt)
    log(api, model="m", start_time=(T0 + timedelta(hours=1)).isoformat())  # a newer log arrives
    again = client.get(nxt)
    assert rows(second.text) == rows(again.text)  # the page does not shift
    third = client.get(re.search(r'rel="next" href="([^"]+)"', second.text).group(1).replace("&amp;", "&"))
    assert len(rows(third.text)) == 20 and 'rel="next"' not in third.text
    back = client.get(re.search(r'rel="prev" href="([^"]+)"', third.text).group(1).replace("&amp;", "&"))
    assert rows(back.text) == rows(second.text)
    back1 = client.get(re.search(r'rel="prev" href="([^"]+)"', back.text).group(1).replace("&amp;", "&"))
    assert rows(back1.text) == rows(first.text)
    assert 'rel="prev"' in back1.text  # the newer log is one more step back
    assert client.get("/ui/requests", params={"after": "garbage"}).status_code == 422


def test_export_streams_the_current_filter_as_csv_and_jsonl(api, ui):
    publish(api, "p/x")
    log(api, id="exp-1", prompt={"name": "p/x"}, metadata={"env": "prod", "note": "=HYPERLINK(\"x\")"})
    log(api, id="exp-2", metadata={"env": "dev"})
    client = ui("viewer")
    r = client.get("/ui/requests/export", params={"format": "csv", "q": 'metadata.env = "prod"'})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(r.text)))
    assert table[0][0] == "id" and [row[0] for row in table[1:]] == ["exp-1"]
    assert json.loads(table[1][table[0].index("metadata")])["note"] == '=HYPERLINK("x")'
    lines = client.get("/ui/requests/export", params={"format": "jsonl", "prompt": "p/x"}).text.splitlines()
    assert [json.loads(x)["id"] for x in lines] == ["exp-1"]
    assert client.get("/ui/requests/export", params={"format": "xml"}).status_code == 422
    page = client.get("/ui/requests", params={"q": 'metadata.env = "prod"'}).text
    assert "/ui/requests/export?q=metadata.env" in page and "format=jsonl" in page


def test_detail_shows_input_output_tools_template_metadata_and_scores(api, ui):
    publish(api, "p/detail", "You help pharmacists. Question: {question}")
    body = log(api, prompt={"name": "p/detail", "version": 1, "variables": {"question": "副作用は?"}},
               input={"messages": [{"role": "system", "content": "You help pharmacists. Question: 副作用は?"},
                                   {"role": "user", "content": "副作用は?"}], "temperature": 0.2},
               output={"role": "assistant", "content": "眠気が出ることがあります。", "tool_calls": [
                   {"id": "c1", "type": "function", "function": {"name": "lookup_drug", "arguments": '{"name": "x"}'}}]},
               metadata={"env": "prod"}, tags=["beta"],
               scores=[{"name": "follows_manual", "value": 70, "comment": "ok", "author": "ph@example.jp",
                        "source": "human"}])
    client = ui("viewer")
    page = client.get(f"/ui/requests/{number_of(api, body['id'])}")
    assert page.status_code == 200
    html = page.text
    assert html.index('class="io-in"') < html.index("副作用は?") < html.index('class="io-out"')
    assert html.index('class="io-out"') < html.index("眠気が出ることがあります。")
    assert "lookup_drug" in html and "&#34;name&#34;: &#34;x&#34;" in html  # tool call arguments, indented JSON
    assert "<details class=\"raw\"><summary>Raw JSON</summary>" in html
    assert "Rendered template" in html and "You help pharmacists. Question: 副作用は?" in html
    assert "ph@example.jp" in html and ">ok<" in html and "beta" in html and ">prod<" in html
    assert "p/detail@1" in html and re.search(r'class="prompt-link" href="/ui/prompts/\d+\?v=1"', html)
    assert "<form" not in html.split("</header>", 1)[1]  # a viewer gets no forms
    assert client.get(f"/ui/requests/{body['id']}").status_code == 200  # by client id too


def test_editor_scores_and_adds_metadata_with_csrf(api, ui):
    body = log(api, scores=[{"name": "medically_correct", "value": 40}])
    ref = number_of(api, body["id"])
    editor = ui("editor")
    page = editor.get(f"/ui/requests/{ref}").text
    assert f'action="/ui/requests/{ref}/scores"' in page and 'value="medically_correct"' in page
    r = editor.post(f"/ui/requests/{ref}/scores", data={"csrf_token": editor.csrf, "name": "medically_correct",
                                                         "value": "85", "comment": "正しい"}, follow_redirects=False)
    assert r.status_code == 303
    page = editor.get(r.headers["location"]).text
    assert "Score saved." in page
    got = api.get(f"/api/v1/requests/{body['id']}").json()
    assert [(s["name"], s["value"], s["comment"], s["source"], s["author"]) for s in got["scores"]] == [
        ("medically_correct", 85, "正しい", "human", editor.email)]
    r = editor.post(f"/ui/requests/{ref}/metadata", data={"csrf_token": editor.csrf, "key": "reviewer",
                                                           "value": "ph-1"}, follow_redirects=False)
    assert r.status_code == 303 and api.get(f"/api/v1/requests/{body['id']}").json()["metadata"]["reviewer"] == "ph-1"
    bad = editor.post(f"/ui/requests/{ref}/scores", data={"csrf_token": editor.csrf, "name": "x", "value": "150"})
    assert bad.status_code == 422 and "from 0 to 100" in bad.text
    stale = editor.post(f"/ui/requests/{ref}/scores", data={"name": "x", "value": "5"})
    assert stale.status_code == 403
    viewer = ui("viewer")
    denied = viewer.post(f"/ui/requests/{ref}/scores", data={"csrf_token": viewer.csrf, "name": "x", "value": "5"})
    assert denied.status_code == 403
    assert [s["name"] for s in api.get(f"/api/v1/requests/{body['id']}").json()["scores"]] == ["medically_correct"]
    missing = editor.post("/ui/requests/not-a-request/scores", data={"csrf_token": editor.csrf, "name": "x",
                                                                     "value": "5"})
    assert missing.status_code == 404  # never kept as a pending update from the UI


def test_other_workspaces_request_is_404(api, ui, database):
    from promptyard.services import keys, request_ingest

    with database.write() as s:
        ws, _ = keys.ensure_workspace(s, f"other-{uuid.uuid4().hex[:6]}")
        other = keys.system_principal(ws)
        request_ingest.ingest(s, other, [{"id": "theirs", "model": "m"}], max_batch=10)
        theirs = s.scalar(__import__("sqlalchemy").text(
            "SELECT id FROM requests WHERE client_id = 'theirs' AND workspace_id = :w").bindparams(w=ws))
    client = ui("editor")
    assert client.get(f"/ui/requests/{theirs}").status_code == 404
    assert client.get("/ui/requests/theirs").status_code == 404
    r = client.post(f"/ui/requests/{theirs}/scores", data={"csrf_token": client.csrf, "name": "x", "value": "1"})
    assert r.status_code == 404
    assert "theirs" not in client.get("/ui/requests").text


def test_pages_need_a_login(app):
    from fastapi.testclient import TestClient

    anon = TestClient(app)
    for path in ("/ui/requests", "/ui/requests/1", "/ui/analytics", "/ui/requests/export"):
        r = anon.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/ui/login"), path


def test_analytics_per_version_with_confidence_intervals_and_filter(api, ui):
    publish(api, "p/an", "v1 {question}")
    publish(api, "p/an", "v2 {question}")
    for version, values in ((1, [50, 60, 70]), (2, [80, 90, 85, 95])):
        for i, v in enumerate(values):
            log(api, prompt={"name": "p/an", "version": version}, metadata={"env": "prod"},
                scores=[{"name": "medically_correct", "value": v}], status="error" if i == 0 else "ok")
    log(api, metadata={"env": "dev"})
    client = ui("viewer")
    page = client.get("/ui/analytics")
    assert page.status_code == 200
    html = page.text
    assert "p/an@1" in html and "p/an@2" in html and "(no prompt)" in html
    assert html.count('class="chart" role="img"') == 5  # count, errors, latency, cost, one score (trends apart)
    assert 'data-chart="score:medically_correct"' in html and 'class="ci"' in html
    assert "60.0 <small>[" in html  # v1 mean with its interval
    one = client.get("/ui/analytics", params={"prompt": "p/an", "q": 'metadata.env = "prod"'}).text
    assert "(no prompt)" not in one and "p/an@2" in one
    ja = ui("viewer", lang="ja").get("/ui/analytics").text
    assert "バージョン別の分析" in ja and "平均と 95% 信頼区間" in ja


HOSTILE = ['<script>window.__xss=1</script>', '<img src=x onerror="window.__xss=1">', 'javascript:window.__xss=1',
           '"><svg onload=window.__xss=1>', "{{ 7*7 }}{% raw %}"]


def live_markup(html: str) -> list[str]:
    """Tags and attributes in the page that could run code: inline scripts, on* handlers,
    javascript: links. Escaped text is not markup, so it never shows up here."""
    from html.parser import HTMLParser

    found: list[str] = []

    class Walk(HTMLParser):
        def handle_starttag(self, tag, attrs):  # noqa: ANN001, ANN202
            attrs = dict(attrs)
            if tag == "script" and not (attrs.get("src") or "").startswith("/ui/static/"):
                found.append(f"script {attrs}")
            found.extend(f"{tag} {k}" for k in attrs if k.startswith("on"))
            found.extend(f"{tag} {k}={v}" for k, v in attrs.items()
                         if k in ("href", "src", "action", "formaction") and "javascript:" in (v or "").lower())

    Walk().feed(html)
    return found


def test_hostile_text_is_shown_as_text_on_every_page(api, ui):
    name = "xss/" + HOSTILE[0]
    publish(api, name, "Say {question}")
    body = log(api, prompt={"name": name, "version": 1, "variables": {"question": HOSTILE[1]}},
               model=HOSTILE[3][:100], input={"messages": [{"role": HOSTILE[1], "content": HOSTILE[0]}]},
               output={"role": "assistant", "content": HOSTILE[1], "tool_calls": [
                   {"type": "function", "function": {"name": HOSTILE[2], "arguments": HOSTILE[3]}}]},
               metadata={HOSTILE[0]: HOSTILE[1], "link": HOSTILE[2], "tmpl": HOSTILE[4]},
               tags=[HOSTILE[3], HOSTILE[2]], status="error", error={"type": HOSTILE[0], "message": HOSTILE[1]},
               scores=[{"name": "s", "value": 5, "comment": HOSTILE[0], "author": HOSTILE[1]}])
    client = ui("editor")
    ref = number_of(api, body["id"])
    pages = [client.get("/ui/requests").text, client.get(f"/ui/requests/{ref}").text,
             client.get("/ui/analytics").text, client.get("/ui/requests", params={"q": HOSTILE[0]}).text,
             client.get("/ui/analytics", params={"prompt": name}).text]
    for html in pages:
        for payload in (HOSTILE[0], HOSTILE[1], HOSTILE[3]):  # markup never survives as markup
            assert payload not in html
        assert live_markup(html) == []
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in pages[1]
    assert "&lt;img src=x onerror=&#34;window.__xss=1&#34;&gt;" in pages[1]


def test_crafted_cursors_are_a_4xx_never_a_500(ui):
    import base64

    client = ui("viewer")
    for raw in ('["2026-01-01T00:00:00", 5]', '["2026-01-01T00:00:00+09:00", "x"]', '[1, 2]', '{"a": 1}', "[]",
                '["9999-12-31T23:59:59+00:00", 99999999999999999999]'):
        cursor = base64.urlsafe_b64encode(raw.encode()).decode()
        for name in ("after", "before"):
            r = client.get("/ui/requests", params={name: cursor})
            assert r.status_code in (200, 422), (raw, name, r.status_code)


def test_text_filter_highlights_the_match_escaped(api, ui):  # noqa: F811
    log(api, input={"messages": [{"role": "user", "content": "前置き\n<b>服薬</b>の用量は?"}]},
        output={"role": "assistant", "content": "ｶﾞｲﾄﾞ参照"})
    client = ui("viewer")
    [row] = rows(client.get("/ui/requests", params={"q": 'text ~ "用量"'}).text)
    assert "&lt;b&gt;服薬&lt;/b&gt;の<mark>用量</mark>は?" in row and "前置き" not in row  # its line only
    [row] = rows(client.get("/ui/requests", params={"q": 'output ~ "ガイド"'}).text)
    assert "<mark>ｶﾞｲﾄﾞ</mark>参照" in row
    client.post("/ui/language", data={"csrf_token": client.csrf, "lang": "ja", "next": "/ui/requests"})
    page = client.get("/ui/requests", params={"q": 'text ~ "用量"'}).text
    assert "一致箇所" in page and "入力" in rows(page)[0]
    assert "<mark>" not in client.get("/ui/requests").text and "一致箇所" not in client.get("/ui/requests").text
