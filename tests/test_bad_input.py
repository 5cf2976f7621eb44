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


# --- Unicode digits: str.isdigit() accepts them, int() does not (issue 11) ---

@pytest.mark.parametrize("digits", ["²", "①", "٣", "1_000", "１２"])
def test_unicode_digits_are_not_numbers_anywhere(api, digits):
    """'²' passed isdigit() checks and then crashed int(): a 500 on ids, numbers and filters."""
    api.post("/api/v1/requests", json={"id": "u1", "provider": "openai", "model": "m", "input": "x", "output": "y"})
    answers = {
        "get": api.get(f"/api/v1/requests/{digits}"),
        "score": api.post(f"/api/v1/requests/{digits}/scores", json={"name": "s", "value": 1}),
        "filter": api.get("/api/v1/requests", params={"filter": f'id = "{digits}"'}),
        "compat score": api.post("/library-track-score", json={"request_id": digits, "score": 1}),
        "compat labels": api.get(f"/prompt-templates/{digits}/labels"),
        "compat template": api.post(f"/prompt-templates/{digits}", json={}),
        "compat group": api.post("/track-group", json={"request_id": 1, "group_id": digits}),
    }
    statuses = {name: r.status_code for name, r in answers.items()}
    assert all(s < 500 for s in statuses.values()), statuses
    assert statuses["score"] == 200 and answers["score"].json()["pending"]  # a client id not logged yet
    assert statuses["get"] == 404 and statuses["compat labels"] == 404 and statuses["compat group"] == 400
    assert answers["filter"].json()["items"] == []  # matched as a client id, never as row id 2
    assert "request_id" in answers["compat score"].json()["message"]


def test_ascii_int_is_the_one_rule():
    from promptyard.domain.numbers import MAX_ID, ascii_int

    assert [ascii_int(v) for v in ("7", " 42\t", b"13", "0")] == [7, 42, 13, 0]
    assert [ascii_int(v) for v in ("²", "٣", "1_000", "-1", "+1", "", "1e3", "9" * 5000, None, 7)] == [None] * 10
    assert ascii_int(str(MAX_ID)) == MAX_ID and ascii_int(str(MAX_ID + 1)) is None
    assert ascii_int("5", lo=6) is None
