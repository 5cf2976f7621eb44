"""Issue 17, score configs: /api/v1/score-configs (editors write, viewers read, audited) and the one
check every score write makes against them — the one-request route, bulk POST /api/v1/scores,
PromptLayer's track-score, scores inline in ingested logs — on SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient

from promptyard.services import audit
from tests.conftest import make_key
from tests.support import ingest, log

HELPFUL = {"name": "有用性", "type": "categorical", "rubric": "# 有用性\n薬剤師として役に立つか。",
           "sources": ["human", "api"], "comment_required_below": 3,
           "categories": [{"value": v, "label": str(v), "description": d} for v, d in
                          ((1, "役に立たない"), (2, "あまり役に立たない"), (3, "普通"), (4, "役に立つ"), (5, "とても役に立つ"))]}


def scores_of(api, ref: str) -> dict:  # noqa: ANN001
    return {s["name"]: s["value"] for s in api.get(f"/api/v1/requests/{ref}").json()["scores"]}


def test_crud_with_rights_and_audit(api, app, database, principal):  # noqa: ANN001
    r = api.post("/api/v1/score-configs", json=HELPFUL)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["name"] == "有用性" and [c["value"] for c in made["categories"]] == [1, 2, 3, 4, 5]
    assert made["sources"] == ["api", "human"] and made["categories"][4]["description"] == "とても役に立つ"
    assert api.post("/api/v1/score-configs", json=HELPFUL).status_code == 409
    numeric = api.post("/api/v1/score-configs", json={"name": "latency_ok", "type": "numeric", "min": 1, "max": 10,
                                                      "step": 0.5}).json()
    assert (numeric["min"], numeric["max"], numeric["step"], numeric["sources"]) == (1, 10, 0.5,
                                                                                      ["api", "human", "judge", "rule"])
    listed = api.get("/api/v1/score-configs").json()["items"]
    assert [c["name"] for c in listed] == sorted(["有用性", "latency_ok"])
    edited = api.put(f"/api/v1/score-configs/{numeric['id']}", json={"type": "boolean", "archived": True})
    assert edited.status_code == 200, edited.text
    assert (edited.json()["type"], edited.json()["archived"], edited.json()["name"]) == ("boolean", True, "latency_ok")
    assert [c["name"] for c in api.get("/api/v1/score-configs", params={"archived": "false"}).json()["items"]] == [
        "有用性"]

    viewer = TestClient(app, raise_server_exceptions=False)
    viewer.headers["Authorization"] = f"Bearer {make_key(database, principal, scopes=('read',))}"
    assert viewer.get(f"/api/v1/score-configs/{made['id']}").json()["rubric"] == HELPFUL["rubric"]
    assert viewer.post("/api/v1/score-configs", json=HELPFUL | {"name": "x"}).status_code == 403
    assert viewer.delete(f"/api/v1/score-configs/{made['id']}").status_code == 403

    assert api.delete(f"/api/v1/score-configs/{numeric['id']}").status_code == 204
    assert api.get(f"/api/v1/score-configs/{numeric['id']}").status_code == 404
    with database.read() as s:
        events = audit.list_events(s, principal, object_type="score_config")
    assert [e.action for e in events] == ["score_config.delete", "score_config.update", "score_config.create",
                                          "score_config.create"]
    assert events[1].details["type"] == {"from": "numeric", "to": "boolean"} and events[0].actor.startswith("key:")


def test_bad_configs_are_refused_naming_the_field(api):  # noqa: ANN001
    cases = {
        "type": ({"name": "a", "type": "stars"}, "type"),
        "range": ({"name": "a", "type": "numeric", "min": 5, "max": 5}, "min and max"),
        "step": ({"name": "a", "type": "numeric", "step": 0}, "step"),
        "one category": ({"name": "a", "type": "categorical", "categories": [{"value": 1, "label": "x"}]}, "categories"),
        "order": ({"name": "a", "type": "categorical", "categories": [{"value": 2, "label": "b"},
                                                                       {"value": 1, "label": "a"}]}, "categories"),
        "sources": ({"name": "a", "type": "boolean", "sources": ["robot"]}, "sources"),
        "name": ({"name": "two words", "type": "boolean"}, "name"),
        "not an object": ([1, 2], "score config"),
        "nan": ({"name": "a", "type": "numeric", "max": "ten"}, "max"),
    }
    for case, (body, word) in cases.items():
        r = api.post("/api/v1/score-configs", json=body)
        assert r.status_code == 422, (case, r.text)
        assert word in r.json()["error"]["message"], (case, r.json())
    ja = api.post("/api/v1/score-configs", json={"name": "a", "type": "stars"})
    assert ja.json()["error"]["code"] == "invalid_input"
    assert api.get("/api/v1/score-configs").json()["items"] == []


def test_every_surface_checks_scores_against_their_config(api):  # noqa: ANN001
    api.post("/api/v1/score-configs", json=HELPFUL)
    api.post("/api/v1/score-configs", json={"name": "safe", "type": "boolean"})
    api.post("/api/v1/score-configs", json={"name": "dose", "type": "numeric", "min": 0, "max": 10, "step": 0.5})
    a, b = log(), log()
    ingest(api, a, b)

    # one request's route: the label or the value of a category, true/false for a boolean
    ok = api.post(f"/api/v1/requests/{a['id']}/scores", json=[
        {"name": "有用性", "value": "4", "source": "human"}, {"name": "safe", "value": True},
        {"name": "dose", "value": 7.5}, {"name": "free", "value": 42}])
    assert ok.status_code < 300, ok.text
    assert scores_of(api, a["id"]) == {"有用性": 4, "safe": 100, "dose": 7.5, "free": 42}
    refused = {
        "category": ({"name": "有用性", "value": 7}, "scores[0].value", "1, 2, 3, 4, 5"),
        "comment below 3": ({"name": "有用性", "value": 2}, "scores[0].comment", "comment"),
        "source": ({"name": "有用性", "value": 5, "source": "rule"}, "scores[0].source", "api, human"),
        "boolean": ({"name": "safe", "value": 50}, "scores[0].value", "true / false"),
        "step": ({"name": "dose", "value": 7.3}, "scores[0].value", "steps of 0.5"),
        "range": ({"name": "dose", "value": 11}, "scores[0].value", "0-10"),
        "free": ({"name": "free", "value": 101}, "scores[0].value", "0 to 100"),
    }
    for case, (score, field, words) in refused.items():
        r = api.post(f"/api/v1/requests/{a['id']}/scores", json=score)
        assert r.status_code == 422, (case, r.text)
        error = r.json()["error"]
        assert error["details"]["field"] == field and words in error["message"], (case, error)
    assert scores_of(api, a["id"])["有用性"] == 4  # nothing half-written
    assert api.post(f"/api/v1/requests/{a['id']}/scores", json={"name": "有用性", "value": 2,
                                                               "comment": "用量が不正確"}).status_code < 300

    # bulk: refused entries by index, the others stored
    bulk = api.post("/api/v1/scores", json={"scores": [
        {"request": b["id"], "name": "safe", "value": False},
        {"request": b["id"], "name": "有用性", "value": 9},
        {"request": b["id"], "name": "dose", "value": 0.5}]}).json()
    assert bulk["accepted"] == 2 and [(e["index"], e["field"]) for e in bulk["errors"]] == [(1, "scores[1].value")]
    assert "有用性" in bulk["errors"][0]["message"]
    assert scores_of(api, b["id"]) == {"safe": 0, "dose": 0.5}

    # PromptLayer's track-score
    number = api.get(f"/api/v1/requests/{b['id']}").json()["number"]
    pl = api.post("/library-track-score", json={"request_id": number, "score": 3, "name": "safe"})
    assert pl.status_code == 400 and pl.json()["success"] is False and "safe" in pl.json()["message"]
    assert api.post("/library-track-score", json={"request_id": number, "score": 100, "name": "safe"}).status_code == 200

    # ingest with scores inline: a log with a refused score is refused whole, by index
    c, d = log(scores=[{"name": "有用性", "value": 5}]), log(scores=[{"name": "有用性", "value": 0}])
    out = api.post("/api/v1/requests", json={"requests": [c, d]}).json()
    assert out["accepted"] == 1 and [(e["index"], e["field"]) for e in out["errors"]] == [(1, "scores[0].value")]
    assert api.get(f"/api/v1/requests/{d['id']}").status_code == 404


def test_archived_config_takes_no_new_scores_and_deleting_frees_the_name(api):  # noqa: ANN001
    made = api.post("/api/v1/score-configs", json={"name": "old", "type": "boolean"}).json()
    a = log()
    ingest(api, a)
    api.put(f"/api/v1/score-configs/{made['id']}", json={"type": "boolean", "archived": True})
    r = api.post(f"/api/v1/requests/{a['id']}/scores", json={"name": "old", "value": True})
    assert r.status_code == 422 and "archived" in r.json()["error"]["message"]
    api.delete(f"/api/v1/score-configs/{made['id']}")
    assert api.post(f"/api/v1/requests/{a['id']}/scores", json={"name": "old", "value": 55}).status_code < 300


def test_errors_in_japanese():
    from promptyard.domain import score_configs as sc
    from promptyard.errors import InvalidInput

    config = sc.spec(HELPFUL)
    try:
        sc.check(config, 9, "", "human", where="scores[0]")
    except InvalidInput as exc:
        assert exc.text("ja") == "scores[0].value: スコア「有用性」に指定できる値は 1, 2, 3, 4, 5 です（指定値: 9）"
        assert exc.message == 'scores[0].value: the score "有用性" takes 1, 2, 3, 4, 5 (got 9)'
    else:
        raise AssertionError("9 is not a category")
