"""Anything a client can send gets a clear 4xx in the API's error shape, never a 500, and nothing
already stored is lost or half-written."""

from __future__ import annotations

import json

import pytest

from tests.support import CHAT, create


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


def test_driver_errors_in_bulk_inserts_are_mapped(database, principal):
    """store/bulk.py talks to the driver directly, past SQLAlchemy's exception wrapping: its raw
    psycopg/sqlite3 errors were 500s. A value no column can hold is bad input on both databases."""
    from promptyard.errors import InvalidInput
    from promptyard.store import bulk
    from promptyard.store.models import RequestTag

    with pytest.raises(InvalidInput, match="out of range|cannot be stored"):
        with database.write() as s:
            bulk.insert(s, RequestTag.__table__, [{"workspace_id": principal.workspace_id, "request_id": 2**70,
                                                   "tag": "t"}])


# --- What one database stores and the other refuses is refused on both (issue 11) ---

LOG = {"provider": "openai", "model": "m", "input": "question", "output": "answer"}
PL_LOG = {"provider": "openai", "model": "m", "input": {"type": "chat", "messages": []},
          "output": {"type": "chat", "messages": []}, "request_start_time": "2026-01-01T00:00:00Z",
          "request_end_time": "2026-01-01T00:00:01Z"}


def _raw(api, path, text, content_type="application/json"):
    return api.post(path, content=text.encode(), headers={"Content-Type": content_type})


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999", "-2.5E+400", "9" * 400 + ".0"])
def test_non_finite_numbers_are_refused_naming_the_field(api, literal):
    """PostgreSQL refused NaN in a JSON column (500); SQLite stored a log no JSON answer can carry."""
    ingest = _raw(api, "/api/v1/requests", json.dumps({**LOG, "id": "nf"})[:-1] + f', "latency_ms": {literal}}}')
    nested = _raw(api, "/api/v1/requests", json.dumps({**LOG, "id": "nf2"})[:-1] + f', "output": {{"x": [{literal}]}}}}')
    score = _raw(api, "/api/v1/requests/nf/scores", f'{{"name": "s", "value": {literal}}}')
    metadata = _raw(api, "/api/v1/requests/nf/metadata", f'{{"k": {literal}}}')
    compat = _raw(api, "/log-request", json.dumps(PL_LOG)[:-1] + f', "metadata": {{"a": {literal}}}}}', "text/plain")
    for r, field in [(ingest, "$.latency_ms"), (nested, "$.output.x[0]"), (score, "$.value"), (metadata, "$.k"),
                     (compat, "$.metadata.a")]:
        assert r.status_code == 422, r.text
        assert r.json()["message"].startswith(f"{field}: numbers must be finite"), r.text
    assert api.get("/api/v1/requests").json()["items"] == []


def test_finite_numbers_and_words_in_text_pass(api):
    r = api.post("/api/v1/requests", json={**LOG, "id": "ok", "output": "NaN, Infinity and 1e999 are words here",
                                           "latency_ms": 1e300, "metadata": {"big": "1e400"}})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("content_type", ["Application/JSON", "application/vnd.promptlayer+json; charset=utf-8",
                                          "text/plain", ""])
def test_nul_is_refused_whatever_the_content_type(api, content_type):
    """The guard looked only at a lower-case application/json; the compat routes parse any type."""
    body = json.dumps({**PL_LOG, "tags": ["a\u0000b"]})
    for path in ("/log-request", "/api/v1/prompts"):
        r = _raw(api, path, body if path == "/log-request" else '{"name": "n\\u0000"}', content_type)
        assert r.status_code == 422 and "NUL" in r.json()["message"], (path, r.text)
    assert api.get("/api/v1/requests").json()["items"] == []


def test_deep_nesting_is_refused_before_it_recurses(api):
    """5,000 levels raised RecursionError in the PromptLayer routes (500)."""
    for depth in (65, 900, 5000):
        deep = "[" * depth + "]" * depth
        r = _raw(api, "/track-request", json.dumps({**PL_LOG, "kwargs": {"model": "m"}})[:-1] + f', "x": {deep}}}')
        assert r.status_code == 422 and "nested deeper than 64" in r.json()["message"], r.text
    ok = "[" * 60 + "]" * 60
    assert _raw(api, "/api/v1/requests", json.dumps({**LOG, "id": "d"})[:-1] + f', "output": {ok}}}').status_code == 200
    in_text = _raw(api, "/api/v1/requests", json.dumps({**LOG, "id": "t", "output": "[" * 100 + "{" * 100}))
    assert in_text.status_code == 200, in_text.text  # brackets in strings are text


@pytest.mark.parametrize("filter_text", [r'prompt = "\ud800"', r'text ~ "x\udfffy"', r'metadata."\ud800" = "a"',
                                         r'tag in ["\ud83d"]', r'prompt = "\u0000"'])
def test_unstorable_filter_text_is_refused(api, filter_text):
    """A JSON escape in a filter string made a lone surrogate: the PostgreSQL driver could not send it."""
    for path in ("/api/v1/requests", "/api/v1/requests/stats", "/api/v1/requests/export"):
        r = api.get(path, params={"filter": filter_text})
        assert r.status_code == 422 and "surrogate" in r.json()["error"]["message"], (path, r.text)


def test_nul_in_the_url_is_refused(api):
    for url in ("/api/v1/requests?prompt=a%00b", "/api/v1/requests/a%00b", "/prompt-templates?name=%00"):
        r = api.get(url)
        assert r.status_code == 422 and "NUL" in r.json()["message"], (url, r.text)


TRICKY = {
    "emoji": "👩‍👩‍👧‍👦 🇯🇵 🏳️‍🌈", "combining": "e\u0301 a\u0308 \u1100\u1161\u11a8", "crlf": "line1\r\nline2\rline3\n",
    "separators": "a\u2028b\u2029c\u0085d", "fullwidth": "ＡＢＣ１２３　＝＋", "rtl": "\u202eשלום عربى\u202c",
    "bom_zwj": "\ufeffa\u200db\u200c", "long": "長" * 100_000 + "x" * 50_000, "escapes": "\\u0000 \\ud800 \"q\" \t",
}


def test_tricky_text_round_trips_byte_exact(api):
    logs = [{**LOG, "id": f"t-{name}", "input": text, "output": {"text": text}, "metadata": {"m": text[:1000]},
             "tags": [text[:60]]} for name, text in TRICKY.items()]
    r = api.post("/api/v1/requests", json={"requests": logs})
    assert r.status_code == 200 and r.json()["accepted"] == len(TRICKY), r.text
    for name, text in TRICKY.items():
        got = api.get(f"/api/v1/requests/t-{name}").json()
        assert got["output"] == {"text": text} and got["metadata"]["m"] == text[:1000], name
        assert got["tags"] == [text[:60]], name
        assert got["input"] == text, name


# --- Memory: a body's cost is bounded before it is parsed (issue 11) ---

def test_too_many_values_are_refused_before_parsing(api):
    """250,000 empty objects in under 1 MB are ~16 MB of dicts once parsed; refused on the raw bytes."""
    body = "[" + "{}," * 250_000 + "{}]"
    for path, text in (("/api/v1/requests", body), ("/track-request", body), ("/api/v1/requests", body[:-1])):
        r = _raw(api, path, text)  # the cut-off body too: counted, not parsed (a parse would say "invalid JSON")
        assert r.status_code == 413, r.text
        assert "more than 100,000 JSON values" in r.json()["message"] and "smaller batches" in r.json()["message"]
    # commas inside strings are text, not values
    assert api.post("/api/v1/requests", json={**LOG, "id": "commas", "output": "," * 300_000}).status_code == 200


def test_publishable_keys_get_their_own_small_limits(database, principal):
    from fastapi.testclient import TestClient

    from promptyard.web.app import create_app
    from tests.conftest import app_settings, make_key

    settings = app_settings(publishable_max_body_bytes=100_000, publishable_max_batch=10)
    client = TestClient(create_app(settings, database), raise_server_exceptions=False)
    origin = "https://app.example.com"
    key = make_key(database, principal, scopes=("ingest",), kind="publishable", allowed_origins=[origin])
    headers = {"Authorization": f"Bearer {key}", "Origin": origin}
    big = {**LOG, "id": "pk-big", "output": "x" * 150_000}
    r = client.post("/api/v1/requests", json=big, headers=headers)
    assert r.status_code == 413 and "PUBLISHABLE_MAX_BODY_BYTES" in r.json()["error"]["message"], r.text
    many = {"requests": [{**LOG, "id": f"pk-{i}"} for i in range(11)]}
    r = client.post("/api/v1/requests", json=many, headers=headers)
    assert r.status_code == 422 and "at most 10 logs" in r.json()["error"]["message"], r.text
    values = {"requests": [{**LOG, "id": "pk-v", "output": [[]] * 1_300}]}  # 100,000 * 100 KB / 8 MB = 1,192 values
    r = client.post("/api/v1/requests", json=values, headers=headers)
    assert r.status_code == 413 and "publishable keys" in r.json()["error"]["message"], r.text
    r = client.post("/log-request", json={**PL_LOG, "api_key": key, "tags": ["x" * 150_000]},  # key in the body
                    headers={"Origin": origin})
    assert r.status_code == 413, r.text
    assert client.post("/api/v1/requests", json={**big, "output": "small"}, headers=headers).status_code == 200
    secret = {"Authorization": f"Bearer {make_key(database, principal)}"}
    assert client.post("/api/v1/requests", json={**big, "id": "sk-big"}, headers=secret).status_code == 200


def test_the_guard_answers_in_the_callers_language(api):
    """The checks that run before any route (web/middleware.py, web/body_checks.py) word their
    answers from the catalogue: Japanese for Accept-Language: ja, English for everyone else."""
    ja = {"Accept-Language": "ja"}
    deep = "[" * 70 + "]" * 70
    cases = [
        ("/api/v1/requests/a%00b", None, "NUL", "URL に NUL"),
        ("/api/v1/requests", json.dumps(LOG)[:-1] + f', "x": {deep}}}', "nested deeper than 64", "入れ子が 64 階層"),
        ("/api/v1/requests", json.dumps({**LOG, "output": "a\\u0000b"}).replace("\\\\u", "\\u"), "NUL",
         "NUL（\\u0000）文字は使えません"),
        ("/api/v1/requests", json.dumps({**LOG, "output": {"x": 1}})[:-1] + ', "n": 1e999}', "must be finite",
         "数値は有限の値"),
        ("/api/v1/requests", "[" + "{}," * 150_000 + "{}]", "more than 100,000 JSON values", "100,000 個を超えています"),
        ("/api/v1/prompts", json.dumps({"name": "big", "description": "x" * 1_100_000}), "larger than the limit",
         "上限の"),
    ]
    for path, body, english, japanese in cases:
        send = (lambda h, p=path, b=body: api.get(p, headers=h)) if body is None else \
            (lambda h, p=path, b=body: api.post(p, content=b, headers={"Content-Type": "application/json", **h}))
        en, jp = send({}), send(ja)
        assert en.status_code == jp.status_code and en.status_code in (413, 422), (path, en.text)
        assert english in en.json()["error"]["message"], (path, en.text)
        assert japanese in jp.json()["error"]["message"], (path, jp.text)
