"""Fast checks of what the schemathesis run (tests/test_openapi_schemathesis.py) found, each on
SQLite and PostgreSQL: the answers the OpenAPI now documents, and the 500s and lenient reads fixed."""

from __future__ import annotations

import uuid


def test_the_openapi_lists_error_statuses_with_the_error_shape(api):
    doc = api.get("/api/v1/openapi.json").json()
    get_prompt = doc["paths"]["/api/v1/prompts/{prompt_id}"]["get"]["responses"]
    assert {"200", "401", "403", "404", "422", "503"} <= set(get_prompt)
    assert get_prompt["404"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorOut"}
    publish = doc["paths"]["/api/v1/publish"]["post"]["responses"]
    assert {"200", "201", "409", "413"} <= set(publish)
    assert "401" not in doc["paths"]["/-/health"]["get"]["responses"]
    export = doc["paths"]["/api/v1/requests/export"]["get"]["responses"]["200"]["content"]
    assert set(export) == {"application/x-ndjson", "text/csv"}
    body = doc["components"]["schemas"]["FolderIn"]
    assert body["properties"]["path"]["pattern"] and body["additionalProperties"] == {
        "$ref": "#/components/schemas/JsonValue"}  # ignored fields too may not hold NUL


def test_405_names_every_method_of_the_path(api):
    answer = api.request("OPTIONS", "/api/v1/folders")
    assert answer.status_code == 405
    assert set(answer.headers["allow"].split(", ")) == {"GET", "POST"}  # Starlette said only GET
    assert answer.json()["error"]["code"] == "method_not_allowed"
    assert set(api.put("/api/v1/folders/1").headers["allow"].split(", ")) == {"PATCH", "DELETE"}
    # POST-only, and no longer answered by the GET /requests/{ref} lookup
    assert api.get("/api/v1/requests/search").headers["allow"] == "POST"


def test_a_body_that_is_not_utf8_is_a_422_like_other_bad_json(api):
    answer = api.post("/api/v1/folders", content=b"\xff\xfe{", headers={"Content-Type": "application/json"})
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_input"


def test_logs_that_made_the_server_fail_are_refused_or_stored(api):
    bad_label = api.post("/api/v1/requests", json={"prompt": {"name": "x", "label": {"a": 1}}})
    assert bad_label.status_code == 422 and bad_label.json()["errors"][0]["field"] == "prompt.label"
    rid = str(uuid.uuid4())
    twice = api.post("/api/v1/requests", json={"id": rid, "scores": [{"name": "ok", "value": 10},
                                                                      {"name": "ok", "value": 90}]})
    assert twice.status_code == 200 and twice.json()["ids"] == [rid], twice.text
    assert [(x["name"], x["value"]) for x in api.get(f"/api/v1/requests/{rid}").json()["scores"]] == [("ok", 90.0)]


def test_a_score_field_of_the_wrong_type_is_not_read_as_missing(api):
    for field, value in (("author", 0), ("comment", False), ("source", {})):
        answer = api.post("/api/v1/requests", json={"scores": [{"name": "s", "value": 1, field: value}]})
        assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == f"scores[0].{field}"


def test_rolling_back_with_nothing_to_roll_back_to_is_a_conflict(api):
    api.post("/api/v1/publish", json={"name": "p-rb", "commit_message": "c", "labels": ["staging"],
                                      "messages": [{"role": "user", "content": "hi"}]})
    pid = api.get("/api/v1/prompts/by-name/p-rb").json()["id"]
    answer = api.post(f"/api/v1/prompts/{pid}/labels/staging/rollback", json={"reason": "r"})
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "conflict"


def test_fetch_checks_its_label_even_when_a_version_wins(api):
    api.post("/api/v1/publish", json={"name": "p-label", "commit_message": "c",
                                      "messages": [{"role": "user", "content": "hi"}]})
    answer = api.post("/api/v1/fetch/p-label", json={"version": 1, "label": "\x84"})
    assert answer.status_code == 422 and answer.json()["error"]["details"][0]["field"] == "label"
    assert api.post("/api/v1/fetch/p-label", json={"version": 1, "label": ""}).status_code == 200


def test_a_log_field_of_the_wrong_type_is_not_read_as_missing(api):
    for field, value in (("scores", {}), ("error", False), ("usage", 0), ("status", False), ("id", {})):
        answer = api.post("/api/v1/requests", json={field: value})
        assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == field, (field, answer.text)
    assert api.post("/api/v1/requests", json={"status": "", "error": None, "scores": None}).status_code == 200
