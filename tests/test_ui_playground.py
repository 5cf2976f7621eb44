"""The playground in-process, on SQLite and PostgreSQL, against the fake provider: a logged request opened as a
draft with its variables, two drafts run side by side, the answers stored as playground logs (tagged, never
linked to the version nor counted in an experiment), scored with a score config, a draft saved as a new
version (labels stay); viewers may look but not run or save; bad input re-renders the page with the reason."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select

from promptyard.services import playground, providers, score_configs
from promptyard.store.models import Request
from tests.support import publish
from tests.ui_support import form_fields, log, number_of

SYSTEM = "You answer pharmacists briefly about {drug}."


def _setup(api, database, principal, fake_llm, *, model: str = "gpt-4o-mini"):  # noqa: ANN001, ANN202
    name = f"薬局/返信案-{uuid.uuid4().hex[:6]}"
    publish(api, name, messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": "{question}"}],
            labels=["production"])
    sent = log(api, prompt={"name": name, "label": "production", "variables": {"drug": "ロキソニン",
                                                                              "question": "1日何回?"}},
               output={"role": "assistant", "content": "1日3回までです。"})
    with database.write() as s:
        conn = providers.create(s, principal, name=f"fake-{uuid.uuid4().hex[:6]}", kind="openai",
                                base_url=fake_llm.openai_base_url, secret="sk-test", default_model=model)
        score_configs.create(s, principal, {"name": "medically_correct", "type": "boolean"})
    return name, number_of(api, sent["id"]), conn.id


def _post(client, html: str, **changes: str):  # noqa: ANN001, ANN202
    """The playground form as the page shows it, with `changes` typed in and a button (also a change)."""
    fields = form_fields(html, "playground") | changes
    ref = re.search(r'action="/ui/requests/(\d+)/playground"', html).group(1)
    return client.post(f"/ui/requests/{ref}/playground", data=fields, follow_redirects=False)


def test_a_request_opens_as_drafts_that_run_score_and_save(api, ui, database, principal, fake_llm):
    name, number, conn = _setup(api, database, principal, fake_llm)
    client = ui("editor", lang="ja")
    detail = client.get(f"/ui/requests/{number}")
    assert f'href="/ui/requests/{number}/playground"' in detail.text and "プレイグラウンドで開く" in detail.text
    page = client.get(f"/ui/requests/{number}/playground")
    assert page.status_code == 200, page.text
    fields = form_fields(page.text, "playground")
    assert fields["var_drug"] == "ロキソニン" and fields["var_question"] == "1日何回?"
    assert fields["a_content_0"] == SYSTEM and fields["a_content_1"] == "{question}"
    assert "1日3回までです。" in page.text and "まだ実行していません" in page.text  # the logged answer beside
    assert fields["connection"] == str(conn)

    two = _post(client, page.text, add_draft="1")
    assert two.status_code == 200 and "下書き B" in two.text
    assert form_fields(two.text, "playground")["b_content_0"] == SYSTEM
    ran = _post(client, two.text, run="1", var_question="飲み合わせは?", b_content_1="確認: {question}",
                a_parameters='{"temperature": 0}')
    assert ran.status_code == 200, ran.text
    assert "echo: 飲み合わせは?" in ran.text and "echo: 確認: 飲み合わせは?" in ran.text
    assert "1日3回までです。" in ran.text  # still beside them
    after = form_fields(ran.text, "playground")
    a_log, b_log = int(after["a_output"]), int(after["b_output"])
    with database.read() as s:
        stored = {r.id: r for r in s.scalars(select(Request).where(Request.id.in_([a_log, b_log])))}
    for rid, column in ((a_log, "A"), (b_log, "B")):
        r = stored[rid]
        assert (r.source, r.tags, r.prompt_id, r.prompt_version_id, r.experiment_id) == (
            "playground", ["playground"], None, None, None)
        meta = api.get(f"/api/v1/requests/{rid}").json()["metadata"]
        assert meta == {"promptyard.source": "playground", "promptyard.playground_from": str(number),
                        "promptyard.playground_draft": column, "promptyard.playground_prompt": name,
                        "promptyard.playground_version": "1"}
    assert stored[a_log].parameters == {"temperature": 0}
    found = api.get("/api/v1/requests", params={"filter": 'tag = "playground"'}).json()
    assert {i["number"] for i in found["items"]} == {a_log, b_log}

    scored = _post(client, ran.text, score="b", s_b_0="100", s_b_new="簡潔さ", s_b_new_v="80",
                   s_b_new_v_c="短い")
    assert scored.status_code == 200 and "スコアを保存しました。" in scored.text
    scores = {s["name"]: s for s in api.get(f"/api/v1/requests/{b_log}").json()["scores"]}
    assert scores["medically_correct"]["value"] == 100 and scores["簡潔さ"]["value"] == 80
    assert scores["簡潔さ"]["comment"] == "短い" and scores["簡潔さ"]["source"] == "human"
    assert 'value="100" checked' in scored.text  # shown as saved

    saved = _post(client, scored.text, save="b", b_commit_message="質問を確認してから答える")
    assert saved.status_code == 303, saved.text
    assert re.search(r"/ui/prompts/\d+\?v=2&notice=version_saved$", saved.headers["location"])
    prompt = api.get("/api/v1/prompts", params={"q": name}).json()["items"][0]
    v2 = api.get(f"/api/v1/prompts/{prompt['id']}/versions/2").json()
    assert v2["commit_message"] == "質問を確認してから答える"
    assert [m["content"] for m in v2["messages"]] == [SYSTEM, "確認: {question}"], v2
    labels = {lab["name"]: lab["version"] for lab in api.get(f"/api/v1/prompts/{prompt['id']}").json()["labels"]}
    assert labels == {"production": 1}  # a saved draft moves no label

    again = _post(client, scored.text, save="b", b_commit_message="もう一度")
    assert again.status_code == 409 and "バージョン 2" in again.text


def test_viewers_may_look_but_not_run_or_save(api, ui, database, principal, fake_llm):
    _, number, conn = _setup(api, database, principal, fake_llm)
    viewer = ui("viewer")
    page = viewer.get(f"/ui/requests/{number}/playground")
    assert page.status_code == 200 and 'id="read-only"' in page.text
    assert 'name="run"' not in page.text and 'name="save"' not in page.text
    fields = form_fields(page.text, "playground")
    assert _post(viewer, page.text, add_draft="1").status_code == 200  # changing a draft costs nothing
    for button in ({"run": "1", "connection": str(conn)}, {"save": "a", "a_commit_message": "x"}):
        r = viewer.post(f"/ui/requests/{number}/playground", data=fields | button)
        assert r.status_code == 403, r.text
    with database.read() as s:
        assert s.scalar(select(Request.id).where(Request.workspace_id == principal.workspace_id,
                                                 Request.source == "playground")) is None
    no_csrf = ui("editor").post(f"/ui/requests/{number}/playground", data={k: v for k, v in fields.items()
                                                                           if k != "csrf_token"} | {"run": "1"})
    assert no_csrf.status_code == 403


def test_bad_input_is_shown_in_the_drafts_column_in_the_users_language(api, ui, database, principal, fake_llm):
    _, number, _ = _setup(api, database, principal, fake_llm)
    client = ui("editor", lang="ja")
    page = client.get(f"/ui/requests/{number}/playground").text
    missing = _post(client, page, run="1", a_content_1="{question} {extra}")
    assert missing.status_code == 422 and 'id="error-a"' in missing.text and "extra" in missing.text
    assert 'name="var_extra"' in missing.text  # the new variable gets a field
    bad_json = _post(client, page, run="1", a_parameters="{temperature")
    assert bad_json.status_code == 422 and "parameters" in bad_json.text
    reserved = _post(client, page, run="1", a_parameters='{"stream": true}')
    assert reserved.status_code == 422 and "stream" in reserved.text
    no_conn = _post(client, page, run="1", connection="")
    assert no_conn.status_code == 422 and "プロバイダー接続を選んでください" in no_conn.text
    two = _post(client, page, add_draft="1").text
    failing = _post(client, two, run="1", a_model="fail-500")  # one draft fails, the other still answers
    assert failing.status_code == 502 and "プロバイダーがエラーを返しました（500）" in failing.text
    after = form_fields(failing.text, "playground")
    assert after["a_output"] == "" and after["b_output"] and 'id="output-b"' in failing.text
    no_scores = _post(client, page, score="a")
    assert no_scores.status_code == 422 and "スコアを 1 つ以上" in no_scores.text
    no_message = _post(client, page, save="a")
    assert no_message.status_code == 422
    assert client.get("/ui/requests/999999999/playground").status_code == 404
    assert client.get("/ui/requests/" + "x" * 65 + "/playground").status_code in (404, 422)


def test_a_log_without_a_prompt_opens_its_messages_as_they_were(api, ui, database, principal, fake_llm):
    sent = log(api, input={"messages": [{"role": "system", "content": 'Answer in JSON: {"dose": n}'},
                                        {"role": "user", "content": [{"type": "text", "text": "用量は?"}]}],
                           "parameters": {"temperature": 0.3}})
    number = number_of(api, sent["id"])
    with database.write() as s:
        providers.create(s, principal, name=f"fake-{uuid.uuid4().hex[:6]}", kind="openai",
                         base_url=fake_llm.openai_base_url, default_model="gpt-4o-mini")
    client = ui("editor")
    page = client.get(f"/ui/requests/{number}/playground")
    fields = form_fields(page.text, "playground")
    assert fields["a_content_0"] == 'Answer in JSON: {{"dose": n}}' and fields["a_content_1"] == "用量は?"
    assert 'name="save"' not in page.text and "linked to no prompt" in page.text
    ran = _post(client, page.text, run="1")
    assert ran.status_code == 200 and "echo: 用量は?" in ran.text
    out = int(form_fields(ran.text, "playground")["a_output"])
    sent_messages = api.get(f"/api/v1/requests/{out}").json()["input"]["messages"]
    assert sent_messages[0] == {"role": "system", "content": 'Answer in JSON: {"dose": n}'}  # as it was logged
    assert "playground.no_prompt" not in ran.text
    refused = _post(client, ran.text, save="a", a_commit_message="x")
    assert refused.status_code == 422


def test_variables_typed_as_json_arrays_or_objects_are_sent_as_values():
    assert playground.values({"a": "text", "b": "[1, 2]", "c": '{"k": 1}', "d": "[not json"}) == {
        "a": "text", "b": [1, 2], "c": {"k": 1}, "d": "[not json"}
