"""Anything a client can send gets a clear 4xx in the API's error shape, never a 500, and nothing
already stored is lost or half-written."""

from __future__ import annotations

import json

import pytest

from tests.test_registry_api import CHAT, create


@pytest.mark.parametrize("body, field", [
    ("{not json", "body"),
    ('{"name": 5}', "name"),
    ('{"name": "x", "tags": "a"}', "tags"),
    ('{"name": "x", "version": {"messages": "hi", "commit_message": "m"}}', "version.messages"),
    ('[]', "body"),
])
def test_malformed_bodies_name_the_field(api, body, field):
    r = api.post("/api/v1/prompts", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_input" and err["message"].startswith(field), err


@pytest.mark.parametrize("name", ["", " lead", "trail ", "/abs", "a//b", "x" * 201, "bell\x07"])
def test_invalid_prompt_names(api, name):
    r = api.post("/api/v1/prompts", json={"name": name})
    assert r.status_code == 422, r.text
    assert "name" in r.json()["error"]["message"]


@pytest.mark.parametrize("params, needle", [
    ({"temperature": 3}, "temperature"), ({"max_tokens": 0}, "max_tokens"), ({"top_p": "high"}, "top_p"),
])
def test_model_parameters_checked(api, params, needle):
    r = api.post("/api/v1/prompts", json={"name": "p", "version": {**CHAT, "model": {"name": "m", "parameters": params}}})
    assert r.status_code == 422 and needle in r.json()["error"]["message"]
    assert api.get("/api/v1/prompts/by-name/p").status_code == 404


def test_oversized_body_is_413(api):
    big = {"name": "big", "description": "x" * 1_100_000}
    r = api.post("/api/v1/prompts", json=big)
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"


@pytest.mark.parametrize("text", ["nul \u0000 here", "lone \ud800 surrogate"])
def test_unstorable_text_is_refused_on_both_databases(api, text):
    body = json.dumps({"name": "t", "description": text})  # json.dumps escapes both as \\uXXXX
    r = api.post("/api/v1/prompts", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert api.get("/api/v1/prompts/by-name/t").status_code == 404


def test_escaped_backslash_u0000_is_plain_text(api):
    r = api.post("/api/v1/prompts", json={"name": "esc", "description": "literal \\u0000"})
    assert r.status_code == 201 and r.json()["description"] == "literal \\u0000"


def test_unknown_ids_and_labels(api):
    pid = create(api)["id"]
    assert api.get("/api/v1/prompts/999999").status_code == 404
    assert api.get("/api/v1/prompts/abc").status_code == 422
    assert api.put(f"/api/v1/prompts/{pid}/labels/staging", json={"version": 7}).status_code == 404
    assert api.put(f"/api/v1/prompts/{pid}/labels/latest", json={"version": 1}).status_code == 422
    assert api.put(f"/api/v1/prompts/{pid}/labels/bad name", json={"version": 1}).status_code == 422
    assert api.get("/api/v1/nowhere").status_code == 404
    assert api.get("/api/v1/nowhere").json()["error"]["code"] == "not_found"


def test_failed_publish_leaves_prompt_unchanged(api):
    pid = create(api)["id"]
    r = api.post(f"/api/v1/prompts/{pid}/versions", json={**CHAT, "labels": ["ok", "latest"]})
    assert r.status_code == 422
    prompt = api.get(f"/api/v1/prompts/{pid}").json()
    assert prompt["latest_version"] == 1 and prompt["labels"] == []


def test_openapi_is_served(api):
    spec = api.get("/api/v1/openapi.json").json()
    assert "/api/v1/fetch/{name}" in spec["paths"]
