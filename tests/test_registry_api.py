"""The prompt registry through the JSON API (runs on SQLite and PostgreSQL)."""

from __future__ import annotations

from urllib.parse import quote

from tests.support import CHAT, NAME, create


def new_version(api, pid, **changes):  # noqa: ANN001, ANN201
    return api.post(f"/api/v1/prompts/{pid}/versions", json={**CHAT, **changes})


def test_create_and_fetch_by_name_with_slash_and_japanese(api):
    p = create(api, folder="production/pharmacy", tags=["pharmacy"])
    assert p["name"] == NAME and p["folder"] == "production/pharmacy" and p["latest_version"] == 1
    r = api.get(f"/api/v1/fetch/{quote(NAME, safe='')}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["version"]["number"] == 1 and body["label"] == "latest"
    assert body["version"]["input_variables"] == ["question", "patient"]
    assert body["version"]["model"] == CHAT["model"]
    assert api.get(f"/api/v1/prompts/by-name/{quote(NAME)}").json()["id"] == p["id"]


def test_versions_are_numbered_and_immutable(api):
    pid = create(api)["id"]
    r = new_version(api, pid, messages=[{"role": "user", "content": "v2 {question}"}], commit_message="shorter")
    assert r.status_code == 201 and r.json()["number"] == 2 and r.json()["created"] is True
    v1 = api.get(f"/api/v1/prompts/{pid}/versions/1").json()
    assert v1["messages"][1]["content"] == "{question} (patient: {patient})"
    assert [v["number"] for v in api.get(f"/api/v1/prompts/{pid}/versions").json()["items"]] == [2, 1]
    assert api.get(f"/api/v1/prompts/{pid}/versions/3").status_code == 404


def test_identical_content_is_a_clear_no_op(api):
    pid = create(api)["id"]
    r = new_version(api, pid, commit_message="again")
    assert r.status_code == 200 and r.json()["created"] is False and r.json()["number"] == 1
    assert api.get(f"/api/v1/prompts/{pid}").json()["latest_version"] == 1


def test_commit_message_is_required(api):
    pid = create(api)["id"]
    for bad in ({"commit_message": "  "}, {"commit_message": None}):
        r = new_version(api, pid, **bad)
        assert r.status_code == 422, r.text
        assert "commit_message" in r.json()["error"]["message"]
    assert api.get(f"/api/v1/prompts/{pid}").json()["latest_version"] == 1


def test_labels_move_with_history_and_resolution(api):
    pid = create(api)["id"]
    new_version(api, pid, messages=[{"role": "user", "content": "v2"}], commit_message="v2")
    r = api.put(f"/api/v1/prompts/{pid}/labels/production", json={"version": 1, "reason": "proven"})
    assert r.status_code == 200, r.text
    name = quote(NAME, safe="")
    assert api.get(f"/api/v1/fetch/{name}").json()["version"]["number"] == 1  # default: production
    assert api.get(f"/api/v1/fetch/{name}", params={"label": "latest"}).json()["version"]["number"] == 2
    api.put(f"/api/v1/prompts/{pid}/labels/production", json={"version": 2, "reason": "better replies"})
    assert api.get(f"/api/v1/fetch/{name}", params={"label": "production"}).json()["version"]["number"] == 2
    hist = api.get(f"/api/v1/prompts/{pid}/label-history").json()["items"]
    assert [(h["from_version"], h["to_version"], h["reason"]) for h in hist] == [
        (1, 2, "better replies"), (None, 1, "proven")]
    assert hist[0]["actor"].startswith("key:")
    r = api.get(f"/api/v1/fetch/{name}", params={"label": "staging"})
    assert r.status_code == 404 and "production" in r.json()["error"]["message"]


def test_protected_label_needs_admin_and_reason(api, database):
    from tests.conftest import make_key

    pid = create(api)["id"]
    assert api.put(f"/api/v1/prompts/{pid}/labels/production", json={"version": 1}).status_code == 422
    writer = make_key(database, api.principal, scopes=("read", "write"))
    r = api.put(f"/api/v1/prompts/{pid}/labels/production", json={"version": 1, "reason": "x"},
                headers={"Authorization": f"Bearer {writer}"})
    assert r.status_code == 403
    r = api.put(f"/api/v1/prompts/{pid}/labels/staging", json={"version": 1},
                headers={"Authorization": f"Bearer {writer}"})
    assert r.status_code == 200


def test_render_on_fetch_and_render_errors(api):
    create(api)
    name = quote(NAME, safe="")
    r = api.post(f"/api/v1/fetch/{name}", json={"variables": {"question": "飲み合わせは?", "patient": "P-1"}})
    assert r.status_code == 200, r.text
    assert r.json()["rendered"]["messages"][1]["content"] == "飲み合わせは? (patient: P-1)"
    r = api.post(f"/api/v1/fetch/{name}", json={"variables": {"question": "x"}})
    assert r.status_code == 422 and "patient" in r.json()["error"]["message"]
    r = api.post("/api/v1/prompts", json={"name": "bad", "version": {**CHAT, "messages": [
        {"role": "user", "content": "{unclosed"}]}})
    assert r.status_code == 422
    assert api.get("/api/v1/prompts/by-name/bad").status_code == 404  # nothing half-written


def test_diff_between_versions(api):
    pid = create(api)["id"]
    new_version(api, pid, messages=[CHAT["messages"][0], {"role": "user", "content": "{question}"}],
            model={"provider": "openai", "name": "gpt-4o-mini", "parameters": {"temperature": 0.7}},
            commit_message="v2")
    d = api.get(f"/api/v1/prompts/{pid}/diff", params={"from": 1, "to": 2}).json()
    assert any(r["op"] == "replace" and r["right"] == "{question}" for r in d["rows"])
    changes = {c["field"]: (c["before"], c["after"]) for c in d["changes"]}
    assert changes["model"] == ("gpt-4o", "gpt-4o-mini")
    assert changes["parameters.temperature"] == (0.2, 0.7)
    assert changes["parameters.max_tokens"] == (256, None)
    assert "-{question} (patient: {patient})" in d["unified"]


def test_folders_tree_rename_move_and_list(api):
    create(api, name="a", folder="experimental")
    create(api, name="b", folder="production/pharmacy")
    create(api, name="c")
    folders = {f["path"]: f for f in api.get("/api/v1/folders").json()["items"]}
    assert set(folders) == {"experimental", "production", "production/pharmacy"}
    names = lambda **q: sorted(p["name"] for p in api.get("/api/v1/prompts", params=q).json()["items"])  # noqa: E731
    assert names(folder="production") == ["b"]
    assert names(folder="production", recursive=False) == []
    r = api.patch(f"/api/v1/folders/{folders['production']['id']}", json={"name": "prod"})
    assert r.status_code == 200 and r.json()["path"] == "prod"
    assert names(folder="prod/pharmacy") == ["b"]
    r = api.patch(f"/api/v1/folders/{folders['production/pharmacy']['id']}", json={"parent": "experimental"})
    assert r.json()["path"] == "experimental/pharmacy"
    assert names(folder="experimental") == ["a", "b"]
    assert api.delete(f"/api/v1/folders/{folders['experimental']['id']}").status_code == 409
    assert api.post("/api/v1/folders", json={"path": "experimental"}).status_code == 409


def test_list_by_tag_label_and_name(api):
    a = create(api, name="triage", tags=["pharmacy"])
    create(api, name="summary", tags=["ops"])
    api.put(f"/api/v1/prompts/{a['id']}/labels/staging", json={"version": 1})
    names = lambda **q: [p["name"] for p in api.get("/api/v1/prompts", params=q).json()["items"]]  # noqa: E731
    assert names(tag="pharmacy") == ["triage"]
    assert names(label="staging") == ["triage"]
    assert names(q="umm") == ["summary"]


def test_publish_by_name_creates_then_versions(api):
    body = {**CHAT, "name": "ops/summary", "folder": "production", "labels": ["staging"]}
    r = api.post("/api/v1/publish", json=body)
    assert r.status_code == 201 and r.json()["number"] == 1 and r.json()["labels"] == ["staging"]
    assert api.post("/api/v1/publish", json=body).status_code == 200
    r = api.post("/api/v1/publish", json={**body, "text": None, "messages": [{"role": "user", "content": "x"}]})
    assert r.json()["number"] == 2


def test_completion_and_jinja2_versions(api):
    r = api.post("/api/v1/publish", json={"name": "comp", "type": "completion", "text": "Hello {{ name }}",
                                         "template_format": "jinja2", "commit_message": "c"})
    assert r.status_code == 201, r.text
    out = api.post("/api/v1/fetch/comp", json={"variables": {"name": "世界"}}).json()
    assert out["rendered"]["text"] == "Hello 世界"


def test_workspaces_are_isolated(api, app, database):
    from fastapi.testclient import TestClient

    from promptyard.services import keys
    from tests.conftest import make_key

    p = create(api)
    with database.write() as s:
        ws, _ = keys.ensure_workspace(s, f"other-{p['id']}-{id(api)}")
    other = TestClient(app)
    other.headers["Authorization"] = f"Bearer {make_key(database, keys.system_principal(ws))}"
    assert other.get(f"/api/v1/prompts/{p['id']}").status_code == 404
    assert other.get(f"/api/v1/fetch/{quote(NAME, safe='')}").status_code == 404
    assert other.get("/api/v1/prompts").json()["items"] == []
    assert other.put(f"/api/v1/prompts/{p['id']}/labels/staging", json={"version": 1}).status_code == 404


def test_scopes_and_auth(api, database):
    from tests.conftest import make_key

    reader = make_key(database, api.principal, scopes=("read",))
    h = {"Authorization": f"Bearer {reader}"}
    assert api.get("/api/v1/prompts", headers=h).status_code == 200
    r = api.post("/api/v1/prompts", json={"name": "x"}, headers=h)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert api.get("/api/v1/prompts", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert api.get("/api/v1/prompts", headers={"Authorization": ""}).status_code == 401
    assert api.get("/api/v1/prompts", headers={"X-API-Key": reader, "Authorization": ""}).status_code == 200


def test_keys_hashed_shown_once_revocable(api, database):
    r = api.post("/api/v1/keys", json={"name": "ci", "scopes": ["read"]})
    assert r.status_code == 201
    raw, kid = r.json()["key"], r.json()["id"]
    listed = api.get("/api/v1/keys").json()["items"]
    assert all("key" not in k for k in listed) and any(k["id"] == kid for k in listed)
    h = {"Authorization": f"Bearer {raw}"}
    assert api.get("/api/v1/prompts", headers=h).status_code == 200
    used = [k for k in api.get("/api/v1/keys").json()["items"] if k["id"] == kid][0]
    assert used["last_used_at"] is not None
    assert api.delete(f"/api/v1/keys/{kid}").status_code == 200
    assert api.get("/api/v1/prompts", headers=h).status_code == 401
    from sqlalchemy import select

    from promptyard.store.models import ApiKey
    with database.read() as s:
        assert raw not in {k.key_hash for k in s.scalars(select(ApiKey))}


def test_audit_trail_records_changes(api):
    pid = create(api)["id"]
    api.put(f"/api/v1/prompts/{pid}/labels/staging", json={"version": 1, "reason": "try"})
    actions = [e["action"] for e in api.get("/api/v1/audit").json()["items"]]
    assert actions[:3] == ["label.move", "prompt.publish", "prompt.create"]


def test_change_feed(api):
    start = api.get("/api/v1/changes").json()["cursor"]
    pid = create(api)["id"]
    api.put(f"/api/v1/prompts/{pid}/labels/staging", json={"version": 1})
    items = api.get("/api/v1/changes", params={"since": start, "wait": 1}).json()["items"]
    assert {"version", "label"} <= {i["kind"] for i in items if i["prompt"] == NAME}


def test_duplicate_names_conflict_and_versions_carry_author_and_time(api):
    """A name is unique per workspace (spaces are part of it); a version records who and when."""
    from datetime import datetime, timedelta, timezone

    name = "returns desk/reply draft 1"
    p = create(api, name=name)
    again = api.post("/api/v1/prompts", json={"name": name})
    assert again.status_code == 409 and name in again.json()["error"]["message"]
    assert api.post("/api/v1/prompts", json={"name": name + " "}).status_code == 422  # no look-alike names
    v1 = api.get(f"/api/v1/prompts/{p['id']}/versions/1").json()
    assert v1["author"].startswith("key:k-")  # the API key that published it
    made = datetime.fromisoformat(v1["created_at"].replace("Z", "+00:00"))
    assert abs(datetime.now(timezone.utc) - made) < timedelta(minutes=5)
    assert api.get(f"/api/v1/prompts/by-name/{quote(name)}").json()["id"] == p["id"]
