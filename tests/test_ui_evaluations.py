"""The evaluation pages: start a run from the form, the run page (and the JSON its script polls), cancel and
resume forms, the comparison with the character diff; English and Japanese; bad input re-renders the form."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select

from promptyard.services import datasets, evaluations, prompts, providers, versions
from promptyard.services.evaluation_runner import Runner
from promptyard.services.render_pool import engine_for
from promptyard.settings import Settings
from promptyard.store.models import EvaluationRun

ENGINE = engine_for(Settings())


def _setup(database, principal, fake_llm):  # noqa: ANN001, ANN202
    with database.write() as s:
        conn = providers.create(s, principal, name=f"c-{uuid.uuid4().hex[:6]}", kind="openai",
                                base_url=fake_llm.openai_base_url, secret="sk", default_model="gpt-4o-mini")
        data = datasets.create(s, principal, name=f"set-{uuid.uuid4().hex[:6]}")
        datasets.add_items(s, principal, data["id"], [
            {"input": {"q": "飲み合わせ <b>"}, "expected": "echo: 飲み合わせ <b>"},
            {"input": {"q": "dose"}, "expected": "echo: dose"}], message="first")
        name = f"ui-{uuid.uuid4().hex[:6]}"
        made = prompts.create(s, principal, name=name)
        for text in ("{q}", "answer: {q}"):
            versions.publish(s, principal, made.id, {"messages": [{"role": "user", "content": text}],
                                                     "commit_message": text}, engine=ENGINE)
    return conn.id, data["id"], name


def test_start_a_run_watch_it_and_compare_its_variants(ui, database, principal, fake_llm):
    conn, data, name = _setup(database, principal, fake_llm)
    client = ui("editor")
    page = client.get("/ui/evaluations")
    assert page.status_code == 200 and 'id="new-run"' in page.text
    r = client.post("/ui/evaluations", data={"csrf_token": client.csrf, "name": "form run", "dataset": str(data),
                                             "provider": str(conn), "variants": f"{name}@1\n{name}@2",
                                             "scorer": ["exact_match", "similarity"]}, follow_redirects=False)
    assert r.status_code == 303, r.text
    run_id = int(re.search(r"/ui/evaluations/(\d+)", r.headers["location"]).group(1))
    running = client.get(f"/ui/evaluations/{run_id}")
    assert running.status_code == 200 and "data-poll=" in running.text and "evaluations.js" in running.text
    assert client.get(f"/ui/evaluations/{run_id}/progress").json()["status"] == "queued"
    Runner(database, ENGINE).run_until_idle()
    state = client.get(f"/ui/evaluations/{run_id}/progress").json()
    assert (state["status"], state["progress"]) == ("done", {"total": 4, "done": 4, "failed": 0, "left": 0})
    done = client.get(f"/ui/evaluations/{run_id}")
    assert "data-poll=" not in done.text and "飲み合わせ" not in done.text  # outputs are on the logs, linked
    compare = client.get("/ui/evaluations/compare", params={"base": run_id, "candidate": run_id,
                                                            "base_variant": f"{_pid(database, run_id)}:v1",
                                                            "candidate_variant": f"{_pid(database, run_id)}:v2"})
    assert compare.status_code == 200, compare.text
    assert "<ins>answer: </ins>" in compare.text  # the characters the candidate added
    assert "飲み合わせ &lt;b&gt;" in compare.text and "<b>" not in compare.text.split("</h1>", 1)[1]  # escaped
    assert "-100.0" in compare.text
    ja = ui("viewer", lang="ja").get("/ui/evaluations/compare", params={
        "base": run_id, "candidate": run_id, "base_variant": f"{_pid(database, run_id)}:v1",
        "candidate_variant": f"{_pid(database, run_id)}:v2"})
    assert "対応のある t" in ja.text and "ベースライン" in ja.text
    resumed = client.post(f"/ui/evaluations/{run_id}/cancel", data={"csrf_token": client.csrf})
    assert resumed.status_code == 409  # a finished run cannot be cancelled


def _pid(database, run_id: int) -> int:  # noqa: ANN001
    with database.read() as s:
        return s.scalar(select(EvaluationRun).where(EvaluationRun.id == run_id)).variants[0]["prompt_id"]


def test_a_bad_form_is_shown_again_with_the_reason_in_the_users_language(ui, database, principal, fake_llm):
    conn, data, name = _setup(database, principal, fake_llm)
    client = ui("editor", lang="ja")
    r = client.post("/ui/evaluations", data={"csrf_token": client.csrf, "dataset": str(data), "provider": str(conn),
                                             "variants": f"{name}@1"})  # no scorer ticked
    assert r.status_code == 422
    assert "スコアラーかジャッジを少なくとも 1 つ指定してください" in r.text and f"{name}@1" in r.text
    no_csrf = client.post("/ui/evaluations", data={"dataset": str(data)})
    assert no_csrf.status_code == 403
    viewer = ui("viewer")
    assert 'id="new-run"' not in viewer.get("/ui/evaluations").text


def test_cancel_and_resume_from_the_run_page(ui, database, principal, fake_llm):
    conn, data, name = _setup(database, principal, fake_llm)
    with database.write() as s:
        run = evaluations.create(s, principal, {"dataset": data, "provider": conn, "variants": [{"prompt": name}],
                                                "scorers": [{"type": "valid_json"}]}, engine=ENGINE)
    client = ui("editor")
    r = client.post(f"/ui/evaluations/{run['id']}/cancel", data={"csrf_token": client.csrf}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get(r.headers["location"])
    assert "Run cancelled." in page.text and "Resume" in page.text
    r = client.post(f"/ui/evaluations/{run['id']}/resume", data={"csrf_token": client.csrf}, follow_redirects=False)
    assert r.status_code == 303
    Runner(database, ENGINE).run_until_idle()
    assert client.get(f"/ui/evaluations/{run['id']}/progress").json()["status"] == "done"


def test_the_run_form_picks_the_dataset_by_name_and_the_dataset_page_links_to_it(ui, database, principal, fake_llm):
    conn, data, name = _setup(database, principal, fake_llm)
    client = ui("editor")
    linked = client.get(f"/ui/datasets/{data}")
    href = re.search(r'href="([^"]+)" id="evaluate"', linked.text).group(1)
    form = client.get(href.split("#")[0]).text.split('id="new-run"')[1]
    assert re.search(rf'<option value="{data}" selected>set-\w+ \(v1, 2 items\)</option>', form), form[:2000]
    assert 'name="dataset" inputmode' not in form  # no id to type
    ja = ui("editor", lang="ja").get("/ui/evaluations").text
    assert "（v1、2 件）" in ja
    assert 'id="evaluate"' not in ui("viewer").get(f"/ui/datasets/{data}").text
