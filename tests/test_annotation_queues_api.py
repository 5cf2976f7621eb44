"""/api/v1/annotation-queues on both databases: editors create, reviewers review through their
own login, an admin key reviews for a named member; blind reviewing; errors are 4xx naming the
field; the OpenAPI documents every route."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from tests.support import ingest, log
from tests.ui_support import make_user

SCORES = [{"name": "accuracy", "kind": "scale5", "rubric": "**5** = correct"}, {"name": "safe", "kind": "yes_no"}]


def _member(database, principal, role: str = "viewer") -> int:  # noqa: ANN001
    from promptyard.services import members

    email = make_user(database, principal, role)
    with database.read() as s:
        return next(m.user_id for m in members.list_members(s, principal) if m.email == email)


def _queue(api, reviewers: list[int], **kw) -> dict:  # noqa: ANN001
    batch = uuid.uuid4().hex[:8]
    ingest(api, *[log(metadata={"batch": batch}, end_time=None, start_time=f"2026-11-20T10:00:0{i}Z")
                  for i in range(3)])
    r = api.post("/api/v1/annotation-queues", json={
        "name": f"q-{batch}", "scores": SCORES, "reviewers": reviewers,
        "source": {"kind": "filter", "ref": f'metadata.batch = "{batch}"'}} | kw)
    assert r.status_code == 201, r.text
    return r.json()


def test_review_through_the_api(api, database, principal):
    a, b = _member(database, principal), _member(database, principal)
    q = _queue(api, [a, b], reviews_per_item=2)
    assert q["items"] == 3 and q["reviewers"] == sorted([a, b])
    base = f"/api/v1/annotation-queues/{q['id']}"
    nxt = api.get(f"{base}/next", params={"reviewer": a}).json()
    item = nxt["item"]
    assert nxt["progress"] == {"done": 0, "skipped": 0, "total": 3, "position": 1}
    assert item["request"]["output"] == {"text": "1日2回です。"} and item["others"] is None
    r = api.post(f"{base}/items/{item['id']}/reviews", json={"values": {"accuracy": 2, "safe": 0}, "reviewer": a})
    assert r.status_code == 200 and r.json() == {"item": item["id"], "state": "waiting", "reviewed": 1}
    hidden = api.get(f"{base}/items/{item['id']}", params={"reviewer": b}).json()
    assert hidden["others"] is None and hidden["others_hidden"] is True
    api.post(f"{base}/items/{item['id']}/reviews", json={"values": {"accuracy": 4, "safe": 1}, "reviewer": b})
    shown = api.get(f"{base}/items/{item['id']}", params={"reviewer": b}).json()
    assert sorted(o["value"] for o in shown["others"]) == [0.0, 2.0]
    scores = {s["name"]: s for s in api.get(f"/api/v1/requests/{item['request']['id']}").json()["scores"]}
    assert scores["accuracy"]["value"] == 3 and scores["safe"]["value"] == 50
    assert scores["safe"]["source"] == "human"
    over = api.get(base).json()
    assert {d["name"] for d in over["disagreements"]} == {"accuracy", "safe"}
    assert over["counts"] == {"waiting": 2, "done": 1}
    skipped = api.post(f"{base}/items/{item['id'] + 1}/skip", json={"reviewer": a})
    assert skipped.status_code == 200
    assert api.get("/api/v1/annotation-queues").json()["items"][0]["id"] == q["id"]


def test_rights(app, api, database, principal):  # noqa: ANN001
    """An admin key reviews for any member; a read-only key neither reviews nor creates queues."""
    uid = _member(database, principal)
    q = _queue(api, [uid])
    outsider = _member(database, principal)
    r = api.get(f"/api/v1/annotation-queues/{q['id']}/next", params={"reviewer": outsider})
    assert r.status_code == 200  # an admin key may act for any member
    viewer_key = TestClient(app, raise_server_exceptions=False)
    from tests.conftest import make_key

    viewer_key.headers["Authorization"] = f"Bearer {make_key(database, principal, scopes=('read',))}"
    r = viewer_key.get(f"/api/v1/annotation-queues/{q['id']}/next", params={"reviewer": uid})
    assert r.status_code == 403
    r = viewer_key.post("/api/v1/annotation-queues", json={"name": "x", "scores": SCORES})
    assert r.status_code == 403


def test_bad_input_is_a_clear_4xx(api, database, principal):
    a = _member(database, principal)
    q = _queue(api, [a])
    base = f"/api/v1/annotation-queues/{q['id']}"
    item = api.get(f"{base}/next", params={"reviewer": a}).json()["item"]
    cases = [
        (api.post(f"{base}/items/{item['id']}/reviews", json={"values": {"accuracy": 7, "safe": 1}, "reviewer": a}),
         422, "accuracy: give a whole number from 1 to 5."),
        (api.post(f"{base}/items/{item['id']}/reviews", json={"values": {"accuracy": 3, "safe": 1}}), 422,
         "reviewer: an API key reviews for a member: name the member's user id."),
        (api.post(f"{base}/items/999999/reviews", json={"values": {"accuracy": 3, "safe": 1}, "reviewer": a}), 404,
         "No item 999999 in this queue."),
        (api.get("/api/v1/annotation-queues/999999"), 404, "No annotation queue 999999 in this workspace."),
        (api.post("/api/v1/annotation-queues", json={"name": q["name"], "scores": SCORES}), 409,
         f"A queue named {q['name']} exists already."),
        (api.post("/api/v1/annotation-queues", json={"name": "r", "scores": SCORES, "reviewers": [a],
                                                     "reviews_per_item": 2}), 422, None),
        (api.post("/api/v1/annotation-queues", json={"name": "s", "scores": SCORES,
                                                     "source": {"kind": "filter", "ref": "latency >"}}), 422, None),
        (api.post(f"{base}/items", json={"requests": ["nope", 10**12]}), 200, None),
    ]
    for r, status, message in cases:
        assert r.status_code == status, r.text
        if message:
            assert r.json()["error"]["message"] == message
    assert cases[-1][0].json() == {"added": 0, "unknown": ["nope", str(10**12)]}
    closed = api.patch(base, json={"status": "closed"})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    r = api.post(f"{base}/items/{item['id']}/reviews", json={"values": {"accuracy": 3, "safe": 1}, "reviewer": a})
    assert r.status_code == 409


def test_openapi_documents_the_routes(api):
    paths = api.get("/api/v1/openapi.json").json()["paths"]
    for path in ("/api/v1/annotation-queues", "/api/v1/annotation-queues/{queue_id}",
                 "/api/v1/annotation-queues/{queue_id}/next", "/api/v1/annotation-queues/{queue_id}/items",
                 "/api/v1/annotation-queues/{queue_id}/items/{item_id}/reviews"):
        assert path in paths, path
