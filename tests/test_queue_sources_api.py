"""/api/v1/annotation-queues made from an evaluation run or a dataset version, on both databases:
the run's outputs arrive as it runs, an admin key reviews for a member, the overview shows the
judge-vs-human agreement and the comparison the human score; unknown or foreign sources are 404,
bad ones 422 naming the field."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from promptyard.services import keys
from promptyard.services.evaluation_runner import Runner
from tests.conftest import make_key
from tests.eval_support import ENGINE, connection, dataset, prompt
from tests.support import ingest, log
from tests.ui_support import make_user

QUEUES = "/api/v1/annotation-queues"


def _member(database, principal) -> int:  # noqa: ANN001
    from promptyard.services import members

    email = make_user(database, principal, "viewer")
    with database.read() as s:
        return next(m.user_id for m in members.list_members(s, principal) if m.email == email)


def _run(api, database, fake_llm) -> dict:  # noqa: ANN001
    p = api.principal
    conn = connection(database, p, fake_llm)
    data = dataset(database, p, [{"input": {"q": "Score: 5"}}, {"input": {"q": "Score: 1"}}])
    name, judge = f"qa-{uuid.uuid4().hex[:6]}", f"j-{uuid.uuid4().hex[:6]}"
    prompt(database, p, name, "{q}", "Answer: {q}")
    prompt(database, p, judge, "{output}")
    r = api.post("/api/v1/evaluations", json={"dataset": data, "provider": conn,
                                              "judges": [{"prompt": judge, "name": "correct"}],
                                              "variants": [{"prompt": name, "version": 1}, {"prompt": name, "version": 2}]})
    assert r.status_code == 201, r.text
    return r.json()


def test_a_queue_from_a_run_through_the_api(api, database, fake_llm):
    run = _run(api, database, fake_llm)
    reviewer = _member(database, api.principal)
    r = api.post(QUEUES, json={"name": f"q-{uuid.uuid4().hex[:6]}", "reviewers": [reviewer],
                               "source": {"kind": "evaluation", "run": run["id"]},
                               "scores": [{"name": "correct_human", "kind": "yes_no", "judge": "correct"}]})
    assert r.status_code == 201, r.text
    q = r.json()
    assert q["items"] == 0 and q["source"]["run"] == run["id"] and q["source"]["variants"] == []
    Runner(database, ENGINE).run_until_idle()
    base = f"{QUEUES}/{q['id']}"
    assert api.get(base).json()["counts"] == {"waiting": 4, "done": 0}
    while (item := api.get(f"{base}/next", params={"reviewer": reviewer}).json()["item"]) is not None:
        said_five = "Score: 5" in item["request"]["input"]["messages"][0]["content"]
        r = api.post(f"{base}/items/{item['id']}/reviews", json={"values": {"correct_human": "y" if said_five else "n"},
                                                                  "reviewer": reviewer})
        assert r.status_code == 200, r.text
    over = api.get(base).json()
    # The judge's 100 / 0 (5 and 1 on 1-5) against the reviewer's yes / no: full agreement on 4 outputs.
    assert over["judge_agreement"] == [{"name": "correct_human", "judge": "correct", "level": "nominal", "alpha": 1.0,
                                        "observed": 1.0, "items": 4, "judged": 4, "reason": None}]
    v1, v2 = (v["key"] for v in run["variants"])
    r = api.get("/api/v1/evaluations/compare", params={"base": run["id"], "candidate": run["id"],
                                                       "base_variant": v1, "candidate_variant": v2})
    assert r.status_code == 200, r.text
    assert r.json()["scores"]["correct_human"]["source"] == "human" and r.json()["scores"]["correct_human"]["n"] == 2


def test_a_queue_from_a_dataset_version_through_the_api(api, database):
    batch = uuid.uuid4().hex[:8]
    ingest(api, *[log(id=f"{batch}-{i}", end_time=None, start_time=f"2026-11-20T10:00:0{i}Z") for i in range(2)])
    made = api.post("/api/v1/datasets", json={"name": f"set-{batch}"}).json()
    r = api.post(f"/api/v1/datasets/{made['id']}/from-log", json={"requests": [f"{batch}-0", f"{batch}-1"]})
    assert r.status_code in (200, 201), r.text
    r = api.post(QUEUES, json={"name": f"q-{batch}", "source": {"kind": "dataset", "dataset": made["id"], "version": 1},
                               "scores": [{"name": "ok", "kind": "yes_no"}]})
    assert r.status_code == 201, r.text
    assert r.json()["items"] == 2 and r.json()["source"]["without_log"] == 0


def test_unknown_and_foreign_sources_are_404_and_bad_ones_422(api, app, database, fake_llm):
    run = _run(api, database, fake_llm)
    with database.write() as s:
        other_ws, _ = keys.ensure_workspace(s, f"ws-{uuid.uuid4().hex[:10]}")
    other = TestClient(app, raise_server_exceptions=False)
    other.headers["Authorization"] = f"Bearer {make_key(database, keys.system_principal(other_ws, actor='x'))}"
    body = {"name": "x", "scores": [{"name": "ok", "kind": "yes_no"}]}
    for client, source, status, key in [
            (other, {"kind": "evaluation", "run": run["id"]}, 404, "errors.evaluations.not_found"),
            (other, {"kind": "dataset", "dataset": run["dataset"]}, 404, "errors.datasets.not_found"),
            (api, {"kind": "evaluation", "run": 999_999_999}, 404, "errors.evaluations.not_found"),
            (api, {"kind": "dataset", "dataset": run["dataset"], "version": 5}, 404, "errors.datasets.no_such_version"),
            (api, {"kind": "evaluation", "run": run["id"], "variants": ["nope"]}, 422, "errors.queues.variant"),
            (api, {"kind": "evaluation"}, 422, "errors.queues.source_id")]:
        r = client.post(QUEUES, json=body | {"source": source})
        assert (r.status_code, r.json()["error"]["key"]) == (status, key), (source, r.text)
    r = api.post(QUEUES, json=body | {"source": {"kind": "evaluation", "run": "7"}})
    assert r.status_code == 422  # a strict id
    r = api.post(QUEUES, json=body | {"source": {"kind": "evaluation", "run": run["id"]},
                                      "scores": [{"name": "correct"}]}, headers={"Accept-Language": "ja"})
    assert r.status_code == 422 and r.json()["error"]["key"] == "errors.queues.score_of_run"
    assert "correct_human" in r.json()["error"]["message"] and "ログ" in r.json()["error"]["message"]
