"""CORS for publishable keys, on the in-process app (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid

from tests.conftest import make_key
from tests.support import publish, unique

ORIGIN = "https://app.example.com"


def _publish(api) -> str:  # noqa: ANN001
    name = unique("c")
    publish(api, name, "hi", role="user", commit="c", labels=["production"])
    return name


def test_preflight_is_answered_for_browser_routes(api) -> None:  # noqa: ANN001
    for path in ("/api/v1/requests", "/api/v1/fetch/x", "/api/v1/prompt-bundle/a/b"):
        r = api.options(path, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                                       "Access-Control-Request-Headers": "authorization, content-type"})
        assert r.status_code == 204
        assert r.headers["access-control-allow-origin"] == ORIGIN
        assert "Authorization" in r.headers["access-control-allow-headers"]
        assert int(r.headers["access-control-max-age"]) > 0
    r = api.options("/api/v1/keys", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in r.headers


def test_publishable_key_from_allowed_origin_only(api, database) -> None:  # noqa: ANN001
    name = _publish(api)
    key = make_key(database, api.principal, kind="publishable", allowed_origins=[ORIGIN])
    auth = {"Authorization": f"Bearer {key}"}
    r = api.get(f"/api/v1/fetch/{name}", headers=auth | {"Origin": ORIGIN, "Authorization": f"Bearer {key}"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == ORIGIN
    r = api.get(f"/api/v1/prompt-bundle/{name}", headers=auth | {"Origin": ORIGIN})
    assert r.status_code == 200 and r.json()["versions"]["1"]["messages"][0]["content"] == "hi"
    r = api.get(f"/api/v1/fetch/{name}", headers=auth | {"Origin": "https://evil.example"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    # Scopes still apply: a publishable key cannot change the registry, whatever the origin.
    r = api.post("/api/v1/publish", headers=auth | {"Origin": ORIGIN},
                 json={"name": name, "messages": [{"role": "user", "content": "x"}], "commit_message": "no"})
    assert r.status_code == 403


def test_secret_keys_get_no_cors_headers(api) -> None:  # noqa: ANN001
    name = _publish(api)
    r = api.get(f"/api/v1/fetch/{name}", headers={"Origin": ORIGIN})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


def test_publishable_and_ingest_keys_cannot_read_logs(api, database) -> None:  # noqa: ANN001
    """A key in a web page may log and read prompts, nothing else: every read of the request log,
    the audit trail, keys, label moves and experiments answer 403 before any data (export too,
    although it streams)."""
    name = _publish(api)
    rid = str(uuid.uuid4())
    for key in (make_key(database, api.principal, kind="publishable", allowed_origins=[ORIGIN]),
                make_key(database, api.principal, scopes=("ingest", "prompts:read"))):
        auth = {"Authorization": f"Bearer {key}", "Origin": ORIGIN}
        r = api.post("/api/v1/requests", headers=auth, json={"id": rid, "model": "m", "output": {"text": "t"}})
        assert r.status_code == 200, r.text
        r = api.post(f"/api/v1/requests/{rid}/scores", headers=auth, json={"name": "q", "value": 5})
        assert r.status_code == 200, r.text
        assert api.get(f"/api/v1/fetch/{name}", headers=auth).status_code == 200
        prompt_id = api.get(f"/api/v1/prompts/by-name/{name}").json()["id"]
        for method, path in (("GET", "/api/v1/requests"), ("GET", f"/api/v1/requests/{rid}"),
                             ("GET", "/api/v1/requests/stats"), ("GET", "/api/v1/requests/export?format=csv"),
                             ("POST", "/api/v1/requests/search"), ("GET", "/api/v1/audit"),
                             ("GET", "/api/v1/keys"), ("GET", f"/api/v1/prompts/{prompt_id}/labels/production/experiment"),
                             ("POST", f"/api/v1/prompts/{prompt_id}/labels/production/promote")):
            body = {"reason": "r", "version": 1} if path.endswith("promote") else {}
            r = api.request(method, path, headers=auth, json=body if method == "POST" else None)
            assert r.status_code == 403, (path, r.status_code, r.text[:200])
            assert r.json()["error"]["code"] == "forbidden"
