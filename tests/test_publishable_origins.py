"""A publishable key works only from its allowed origins on EVERY route that accepts a key: our API
and the PromptLayer routes, key in a header or in the body, JSON or `text/plain` (no CORS preflight).
A missing Origin is refused too. The routes are found from the app itself, so a new route is covered."""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from promptyard.web.api.deps import api_principal
from promptyard.web.compat import inputs
from tests.conftest import make_key

ORIGIN = "https://shop.example.com"


def _uses(dependant, wanted) -> bool:  # noqa: ANN001
    return any(d.call in wanted or _uses(d, wanted) for d in dependant.dependencies)


def key_routes() -> list[tuple[str, str]]:
    """(method, path with its parameters filled) of every route in web/api and web/compat (found by
    walking the packages, so a new module is covered) that authenticates an API key."""
    import importlib
    import pkgutil

    import promptyard.web.api
    import promptyard.web.compat

    found = []
    for package in (promptyard.web.api, promptyard.web.compat):
        for info in pkgutil.iter_modules(package.__path__):
            router = getattr(importlib.import_module(f"{package.__name__}.{info.name}"), "router", None)
            for route in getattr(router, "routes", []):
                if isinstance(route, APIRoute) and _uses(route.dependant, {api_principal, inputs.call}):
                    path = re.sub(r"\{[^}]+\}", "1", route.path)
                    found += [(m, path) for m in sorted(route.methods - {"HEAD"})]
    return sorted(set(found))


def test_every_key_route_is_found():
    routes = key_routes()
    paths = {p for _, p in routes}
    assert {"/api/v1/fetch/1", "/api/v1/requests", "/log-request", "/rest/prompt-templates"} <= paths
    assert len(routes) > 40


@pytest.fixture()
def client(app, database, principal):  # noqa: ANN001, ANN201
    c = TestClient(app, raise_server_exceptions=False)
    c.key = make_key(database, principal, scopes=("ingest", "prompts:read"), kind="publishable",
                     allowed_origins=[ORIGIN])
    return c


@pytest.mark.parametrize("origin", [None, "https://evil.example", "null"])
def test_publishable_key_refused_without_an_allowed_origin_on_every_route(app, client, origin):
    headers = {"Content-Type": "text/plain"} | ({"Origin": origin} if origin else {})
    for method, path in key_routes():
        for where in ("header", "body"):
            if where == "body" and (path.startswith("/api/v1/") or method == "GET"):
                continue  # our API takes keys only in headers
            h = headers | ({"X-API-Key": client.key} if where == "header" else {})
            body = '{"api_key": "%s"}' % client.key if where == "body" else "{}"
            r = client.request(method, path, headers=h, content=body if method != "GET" else None)
            assert r.status_code == 403, (method, path, where, r.status_code, r.text[:200])
            assert "publishable key" in r.text, (method, path, r.text[:200])


def test_text_plain_log_from_another_origin_stores_nothing(client, api):
    rid = str(uuid.uuid4())
    body = ('{"api_key": "%s", "function_name": "openai.chat.completions.create", "provider_type": "openai", '
            '"kwargs": {"model": "gpt-4o", "messages": []}, "request_response": {}, '
            '"request_start_time": 1764000000, "request_end_time": 1764000001, "metadata": {"rid": "%s"}}'
            % (client.key, rid))
    r = client.post("/log-request", content=body,
                    headers={"Content-Type": "text/plain", "Origin": "https://evil.example"})
    assert r.status_code == 403, r.text
    r = client.post("/track-request", content=body, headers={"Content-Type": "text/plain"})
    assert r.status_code == 403, r.text
    found = api.get("/api/v1/requests", params={"filter": f'metadata.rid = "{rid}"'}).json()["items"]
    assert found == []
    ok = client.post("/log-request", content=body, headers={"Content-Type": "text/plain", "Origin": ORIGIN})
    assert ok.status_code != 403, ok.text


def test_allowed_origin_still_works(client, api):
    name = f"p-{uuid.uuid4().hex[:6]}"
    assert api.post("/api/v1/publish", json={"name": name, "messages": [{"role": "user", "content": "hi"}],
                                             "commit_message": "one"}).status_code in (200, 201)
    auth = {"Authorization": f"Bearer {client.key}"}
    assert client.get(f"/api/v1/fetch/{name}", headers=auth | {"Origin": ORIGIN + "/"}).status_code == 200
    assert client.get(f"/api/v1/fetch/{name}", headers=auth | {"Origin": "HTTPS://SHOP.EXAMPLE.COM"}).status_code == 200
    r = client.get(f"/api/v1/fetch/{name}", headers=auth)
    assert r.status_code == 403 and "no Origin header" in r.json()["error"]["message"]
