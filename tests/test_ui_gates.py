"""A label's gate on the prompt's Labels page (web/ui/label_pages.py): set in a form (bad input is the form
again with the reason, in the user's language), a refused move shown on the move form with the gate's
reason (not an error page) while the label stays, a passing move listed under the gate decisions with its
runs and a working comparison link; only those who may move the label set or remove its gate."""

from __future__ import annotations

import re
import uuid

import pytest

from promptyard.services import datasets, evaluations, prompts, providers, versions
from promptyard.services.evaluation_runner import Runner
from promptyard.services.render_pool import engine_for
from promptyard.settings import Settings

pytestmark = pytest.mark.one_database  # the pages are the subject; tests/test_evaluations.py runs gates on both

ENGINE = engine_for(Settings())


@pytest.fixture()
def gated(database, principal, fake_llm):  # noqa: ANN001, ANN201
    """A prompt whose v1 (on production) and v3 answer right and whose v2 answers wrong, run on 4 items."""
    with database.write() as s:
        conn = providers.create(s, principal, name=f"c-{uuid.uuid4().hex[:6]}", kind="openai",
                                base_url=fake_llm.openai_base_url, secret="sk", default_model="gpt-4o-mini")
        data = datasets.create(s, principal, name=f"回帰-{uuid.uuid4().hex[:6]}")
        datasets.add_items(s, principal, data["id"], [{"input": {"q": f"q{i}"}, "expected": f"echo: q{i}"}
                                                      for i in range(4)], message="first")
        made = prompts.create(s, principal, name=f"gated-{uuid.uuid4().hex[:6]}")
        for i, text in enumerate(("{q}", "wrong {q}", "{q}")):
            versions.publish(s, principal, made.id, {"messages": [{"role": "user", "content": text}],
                                                     "commit_message": f"v{i + 1}"},
                             ["production"] if i == 0 else None, engine=ENGINE)
        run = evaluations.create(s, principal, {"dataset": data["id"], "provider": conn.id,
                                                "scorers": [{"type": "exact_match"}],
                                                "variants": [{"prompt": made.name, "version": n} for n in (1, 2, 3)]},
                                 engine=ENGINE)
    Runner(database, ENGINE).run_until_idle()
    return {"prompt": made.id, "dataset": data, "run": run["id"]}


def _gate(client, prompt_id: int, **fields: str):  # noqa: ANN001, ANN202
    return client.post(f"/ui/prompts/{prompt_id}/gates", data={"csrf_token": client.csrf, "label": "production",
                                                               "score": "exact_match", "max_drop": "2"} | fields,
                       follow_redirects=False)


def _move(client, prompt_id: int, version: int):  # noqa: ANN001, ANN202
    return client.post(f"/ui/prompts/{prompt_id}/labels", data={
        "csrf_token": client.csrf, "label": "production", "version": str(version), "reason": "try it"},
        follow_redirects=False)


def test_gate_form_refusal_on_the_move_form_and_the_recorded_decision(ui, gated):  # noqa: ANN001
    admin, pid, data = ui("admin", lang="ja"), gated["prompt"], gated["dataset"]
    page = admin.get(f"/ui/prompts/{pid}/labels")
    assert 'id="gate-form"' in page.text and "ゲートを通過した移動はまだありません。" in page.text
    for fields, text in (({"max_drop": "lots"}, "0〜100 の数で"), ({"score": ""}, "比較するスコアの名前"),
                         ({"dataset": "x"}, "データセットの ID"), ({"max_drop": "101"}, "0〜100 の数で")):
        bad = _gate(admin, pid, **({"dataset": str(data["id"])} | fields))
        assert bad.status_code == 422 and text in bad.text and 'id="gate-error"' in bad.text, re.findall(r"role=.alert.[^>]*>([^<]*)", bad.text)
    missing = _gate(admin, pid, dataset="999999999")
    assert missing.status_code == 404 and 'id="gate-error"' in missing.text  # the form again, naming the dataset
    saved = _gate(admin, pid, dataset=str(data["id"]))
    assert saved.status_code == 303 and saved.headers["location"].endswith("notice=gate_saved")
    page = admin.get(saved.headers["location"])
    assert data["name"] in page.text.split('id="gates"')[1].split("</table>")[0]

    refused = _move(admin, pid, 2)
    assert refused.status_code == 409 and 'id="form-error"' in refused.text
    assert "「production」ラベルのゲートにより拒否されました。" in refused.text and "最大 100.0 ポイント" in refused.text
    assert ">v1</a>" in refused.text.split("<table>")[1].split("</table>")[0]  # production stays on v1
    moved = _move(admin, pid, 3)
    assert moved.status_code == 303, moved.text
    page = admin.get(f"/ui/prompts/{pid}/labels").text
    decision = page.split('id="gate-decisions"')[1].split("</table>")[0]
    assert f"#{gated['run']}" in decision and "v1" in decision and "v3" in decision and "+0.0" in decision
    link = re.search(r'href="(/ui/evaluations/compare\?[^"]+)"', decision).group(1).replace("&amp;", "&")
    assert admin.get(link).status_code == 200 and "variant=" in link

    removed = admin.post(f"/ui/prompts/{pid}/gates/remove", data={"csrf_token": admin.csrf, "label": "production"},
                         follow_redirects=False)
    assert removed.status_code == 303 and removed.headers["location"].endswith("notice=gate_removed")
    assert "このプロンプトのラベルにはゲートがありません。" in admin.get(removed.headers["location"]).text


def test_only_those_who_may_move_a_label_set_its_gate(ui, gated):  # noqa: ANN001
    pid, data = gated["prompt"], gated["dataset"]
    editor = ui("editor")
    refused = _gate(editor, pid, dataset=str(data["id"]))
    assert refused.status_code == 403 and "needs the rights to move it" in refused.text
    assert _gate(editor, pid, dataset=str(data["id"]), label="staging").status_code == 303
    viewer = ui("viewer")
    page = viewer.get(f"/ui/prompts/{pid}/labels").text
    assert 'id="gate-form"' not in page and "staging" in page and "Remove the gate" not in page
    assert viewer.post(f"/ui/prompts/{pid}/gates", data={"csrf_token": viewer.csrf}).status_code == 403
