"""The new-queue form's sources without JavaScript (ui fixture) on both databases: an editor makes a
queue from an evaluation run (some versions, a score compared with the run's judge) and from a
dataset version; the overview shows where the items came from, the skipped items and, once reviewed,
the judge-vs-human agreement; an unknown run or a score named like the judge re-render the form in
the user's language."""

from __future__ import annotations

import re
import uuid

from promptyard.services import datasets
from promptyard.services.evaluation_runner import Runner
from tests.eval_support import ENGINE, connection, create, dataset, prompt
from tests.support import ingest, log


def _run(database, principal, fake_llm) -> dict:  # noqa: ANN001
    conn = connection(database, principal, fake_llm)
    data = dataset(database, principal, [{"input": {"q": "Score: 5"}}, {"input": {"q": "Score: 1"}}])
    name, judge = f"qa-{uuid.uuid4().hex[:6]}", f"j-{uuid.uuid4().hex[:6]}"
    prompt(database, principal, name, "{q}", "Answer: {q}")
    prompt(database, principal, judge, "{output}")
    run = create(database, principal, {"dataset": data, "provider": conn, "name": "服薬 評価",
                                       "judges": [{"prompt": judge, "name": "correct"}],
                                       "variants": [{"prompt": name, "version": 1}, {"prompt": name, "version": 2}]})
    Runner(database, ENGINE).run_until_idle()
    return run


def _form(editor, **fields) -> dict:  # noqa: ANN001
    return {"csrf_token": editor.csrf, "name": f"q-{uuid.uuid4().hex[:6]}", "score_name_0": "correct_human",
            "score_kind_0": "yes_no", "reviews_per_item": "1"} | fields


def test_a_queue_from_a_run_made_in_the_form(ui, database, principal, fake_llm):
    run = _run(database, principal, fake_llm)
    editor = ui("admin", lang="ja")
    page = editor.get("/ui/queues/new")
    assert page.status_code == 200 and 'id="source-evaluation"' in page.text and "評価実行: その出力" in page.text
    assert f'<option value="{run["id"]}">#{run["id"]} 服薬 評価' in page.text
    assert '<option value="correct">' in page.text  # the runs' judges offered for the comparison
    answer = editor.post("/ui/queues/new", data=_form(editor, source="evaluation", run=str(run["id"]), variants="2",
                                                      score_judge_0="correct"), follow_redirects=False)
    assert answer.status_code == 303, answer.text
    qid = int(re.search(r"/ui/queues/(\d+)", answer.headers["location"]).group(1))
    over = editor.get(f"/ui/queues/{qid}")
    assert f'href="/ui/evaluations/{run["id"]}"' in over.text and run["variants"][1]["key"] in over.text
    assert re.search(r'id="waiting">2<', over.text) and "両方が評価したリクエストが足りません" in over.text
    for _ in range(2):  # the admin reviews: yes where the judge said 5, no where it said 1
        page = editor.get(f"/ui/queues/{qid}/review")
        item = re.search(r'name="item" value="(\d+)"', page.text).group(1)
        answer = "100" if "Score: 5" in page.text else "0"
        editor.post(f"/ui/queues/{qid}/review", data={"csrf_token": editor.csrf, "item": item,
                                                      "score_correct_human": answer})
    over = editor.get(f"/ui/queues/{qid}")
    assert 'id="judge-agreement"' in over.text and "ジャッジとレビュアーの一致度" in over.text
    table = over.text.split('id="judge-agreement"')[1].split("</table>")[0]
    assert "correct_human" in table and "<td>correct</td>" in table and "100.0%" in table and "<td class=\"num\">2</td>" in table


def test_a_queue_from_a_dataset_made_in_the_form(api, ui, database, principal):
    batch = uuid.uuid4().hex[:8]
    ingest(api, *[log(id=f"{batch}-{i}", end_time=None, start_time=f"2026-11-20T10:00:0{i}Z") for i in range(2)])
    with database.write() as s:
        made = datasets.create(s, principal, name=f"服薬-{batch}")
        datasets.from_requests(s, principal, made["id"], [f"{batch}-0", f"{batch}-1"])
        datasets.add_items(s, principal, made["id"], [{"input": {"q": "手入力"}}])
    editor = ui("editor")
    assert f"服薬-{batch} (3 items, v2)" in editor.get("/ui/queues/new").text
    answer = editor.post("/ui/queues/new", data=_form(editor, source="dataset", dataset=str(made["id"]),
                                                      score_name_0="ok"), follow_redirects=False)
    assert answer.status_code == 303, answer.text
    over = editor.get(answer.headers["location"])
    assert re.search(r'id="waiting">2<', over.text) and f'href="/ui/datasets/{made["id"]}"' in over.text
    assert "1 items without a request skipped" in over.text


def test_the_form_names_a_bad_source_in_the_users_language(ui, database, principal, fake_llm):
    run = _run(database, principal, fake_llm)
    editor = ui("editor", lang="ja")
    answer = editor.post("/ui/queues/new", data=_form(editor, source="evaluation", run="999999"))
    assert answer.status_code == 404 and 'role="alert"' in answer.text and "999999" in answer.text
    assert 'value="evaluation" id="source-evaluation" checked' in answer.text  # the choice is kept
    answer = editor.post("/ui/queues/new", data=_form(editor, source="evaluation", run=str(run["id"]),
                                                      score_name_0="correct"))
    assert answer.status_code == 422 and "correct_human" in answer.text and "judge: correct" in answer.text
    answer = editor.post("/ui/queues/new", data=_form(editor, source="dataset"))
    assert answer.status_code == 422 and "source.dataset" in answer.text
