"""PromptLayer's read routes, on both databases: a request in PromptLayer's detail shape
(GET /api/public/v2/requests/{id}), its request search (POST /api/public/v2/requests/search: filter
groups, operators, q, sorting, numbered pages) translated into our filter language, and a trace
(GET /api/public/v2/traces/{id}); workspace isolation and 400s naming what is not supported; the
real promptlayer SDK's readers (promptlayer.tables.api, the evaluation runner's trace price wait)."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import make_key
from tests.support import ingest, log


def _logs() -> list[dict]:
    return [
        log(model="gpt-4o", start_time="2026-11-20T10:00:00Z", end_time="2026-11-20T10:00:01Z",
            metadata={"env": "prod", "user_id": "u1"}, tags=["beta"], scores=[{"name": "q", "value": 80}]),
        log(provider="anthropic", model="local-llama", start_time="2026-11-20T10:00:01Z",
            end_time="2026-11-20T10:00:03Z", status="error", error={"type": "E", "message": "m"},
            output={"text": "服薬の用量は1日2回"}, metadata={"env": "dev"}, tags=[],
            usage={"input_tokens": 10, "output_tokens": 5}),
        log(model="gpt-4o-mini", start_time="2026-11-20T10:00:02Z", end_time="2026-11-20T10:00:02.5Z", cost=0.5,
            metadata={}, tags=["gold"], scores=[{"name": "q", "value": 20}], usage={"input_tokens": 300,
                                                                                   "output_tokens": 50}),
    ]


def _attr(key: str, value: object) -> dict:
    kind = "intValue" if isinstance(value, int) else "stringValue"
    return {"key": key, "value": {kind: str(value) if kind == "intValue" else value}}


def rag_trace(trace_id: str) -> dict:
    """OTLP JSON: a root "rag.answer", a retrieval span (top_k 5) and an LLM span (a log)."""
    spans = [
        {"spanId": "00000000000000a1", "name": "rag.answer", "kind": 2, "attributes": [_attr("app.route", "/ask")]},
        {"spanId": "00000000000000a2", "parentSpanId": "00000000000000a1", "name": "retrieve", "kind": 1,
         "attributes": [_attr("retrieval.top_k", 5), _attr("db.system", "qdrant")]},
        {"spanId": "00000000000000a3", "parentSpanId": "00000000000000a1", "name": "chat gpt-4o", "kind": 3,
         "attributes": [_attr("gen_ai.operation.name", "chat"), _attr("gen_ai.system", "openai"),
                        _attr("gen_ai.request.model", "gpt-4o"), _attr("gen_ai.usage.input_tokens", 1000),
                        _attr("gen_ai.usage.output_tokens", 500), _attr("gen_ai.prompt.0.role", "user"),
                        _attr("gen_ai.prompt.0.content", "この薬の用量は?"),
                        _attr("gen_ai.completion.0.role", "assistant"),
                        _attr("gen_ai.completion.0.content", "1日2回です。")]}]
    return {"resourceSpans": [{"resource": {"attributes": [_attr("service.name", "pharmacy-bot")]},
                               "scopeSpans": [{"scope": {"name": "tests"}, "spans": [
                                   {"traceId": trace_id, "startTimeUnixNano": "1795168803000000000",
                                    "endTimeUnixNano": "1795168804200000000"} | s for s in spans]}]}]}


@pytest.fixture()
def seeded(api):  # noqa: ANN001, ANN201
    """Three logs of ours and one sent as a span of a RAG trace; their numbers oldest first."""
    ingest(api, *_logs())
    trace_id = uuid.uuid4().hex
    assert api.post("/v1/traces", json=rag_trace(trace_id)).status_code == 200
    items = api.get("/api/v1/requests").json()["items"]
    numbers = [i["number"] for i in reversed(items)]
    assert len(numbers) == 4
    return api, numbers, trace_id


def _search(api, **body) -> dict:  # noqa: ANN001, ANN003
    r = api.post("/api/public/v2/requests/search", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def _ids(api, group: dict | None = None, **body) -> list[int]:  # noqa: ANN001, ANN003
    return [i["id"] for i in _search(api, **({"filter_group": group} if group else {}), **body)["items"]]


def test_a_request_in_promptlayers_detail_shape(seeded):
    api, numbers, trace_id = seeded
    r = api.get(f"/api/public/v2/requests/{numbers[0]}")
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["success"] is True and d["request_id"] == numbers[0]
    assert (d["provider"], d["model"], d["input_tokens"], d["output_tokens"], d["tokens"]) == (
        "openai", "gpt-4o", 1000, 500, 1500)
    assert d["price"] == pytest.approx(0.0075) and d["latency_ms"] == 1000
    assert (d["request_start_time"], d["request_end_time"]) == ("2026-11-20T10:00:00Z", "2026-11-20T10:00:01Z")
    assert d["trace_id"] is None
    blueprint = d["prompt_blueprint"]
    assert blueprint["prompt_template"]["messages"][0]["content"] == [{"type": "text", "text": "この薬の用量は?"}]
    assert blueprint["prompt_template"]["messages"][-1]["content"][-1]["text"] == "1日2回です。"
    assert blueprint["metadata"]["model"] == {"provider": "openai", "name": "gpt-4o", "parameters": {"temperature": 0}}
    traced = api.get(f"/api/public/v2/requests/{numbers[3]}").json()
    assert traced["trace_id"] == trace_id and traced["span_id"] == "00000000000000a3"
    assert traced["prompt_blueprint"]["prompt_template"]["messages"][-1]["content"][-1]["text"] == "1日2回です。"


def test_another_workspace_and_bad_ids(seeded, database):  # noqa: ANN001
    from promptyard.services import keys

    api, numbers, trace_id = seeded
    with database.write() as s:
        ws, _ = keys.ensure_workspace(s, f"other-{uuid.uuid4().hex[:8]}")
    other = {"X-API-KEY": make_key(database, keys.system_principal(ws)), "Authorization": ""}
    for path in (f"/api/public/v2/requests/{numbers[0]}", f"/api/public/v2/traces/{trace_id}"):
        answer = api.get(path, headers=other)
        assert answer.status_code == 404 and answer.json()["success"] is False, answer.text
        assert api.get(path).status_code == 200
    assert api.post("/api/public/v2/requests/search", json={}, headers=other).json()["total"] == 0
    assert api.get(f"/api/public/v2/requests/{numbers[0]}", headers={"Authorization": ""}).status_code == 401
    ingest_only = {"Authorization": f"Bearer {make_key(database, api.principal, scopes=('ingest',))}"}
    assert api.post("/api/public/v2/requests/search", json={}, headers=ingest_only).status_code == 403
    assert api.get("/api/public/v2/requests/999999999").status_code == 404
    bad = api.get("/api/public/v2/requests/abc")
    assert bad.status_code == 400 and "abc" in bad.json()["message"]
    assert api.get("/api/public/v2/traces/nothex").status_code == 400
    assert api.get(f"/api/public/v2/traces/{uuid.uuid4().hex}").status_code == 404


def test_search_by_each_field_and_operator(seeded):
    api, n, trace_id = seeded
    f = lambda field, operator, value=None, **kw: {"logic": "AND", "filters": [  # noqa: E731
        {"field": field, "operator": operator, "value": value, **kw}]}
    cases = [
        (f("engine", "is", "gpt-4o"), {n[0], n[3]}), (f("engine", "contains", "GPT-4O"), {n[0], n[2], n[3]}),
        (f("engine", "is_not", "gpt-4o"), {n[1], n[2]}), (f("engine", "in", ["local-llama", "gpt-4o-mini"]), {n[1], n[2]}),
        (f("engine", "not_contains", "gpt"), {n[1]}), (f("provider_type", "is", "anthropic"), {n[1]}),
        (f("pl_id", "is", n[2]), {n[2]}), (f("pl_id", "in", [str(n[0]), n[1]]), {n[0], n[1]}),
        (f("pl_id", "not_in", [n[0]]), {n[1], n[2], n[3]}),
        (f("input_tokens", "gte", 300), {n[0], n[2], n[3]}), (f("input_tokens", "between", [10, 300]), {n[1], n[2]}),
        (f("output_tokens", "lt", "50"), {n[1]}), (f("cost", "eq", 0.5), {n[2]}), (f("cost", "is_null"), {n[1]}),
        (f("latency_ms", "gt", 1500), {n[1]}), (f("status", "is", "ERROR"), {n[1]}),
        (f("status", "not_in", ["ERROR"]), {n[0], n[2], n[3]}),
        (f("request_start_time", "after", "2026-11-20T10:00:00Z"), {n[1], n[2], n[3]}),
        (f("request_start_time", "between", ["2026-11-20T10:00:01Z", "2026-11-20T10:00:02Z"]), {n[1], n[2]}),
        (f("output_text", "contains", "用量"), {n[1]}), (f("input_text", "not_contains", "薬"), set()),
        (f("tags", "contains", "beta"), {n[0]}), (f("tags", "not_contains", "beta"), {n[1], n[2], n[3]}), (f("tags", "is_empty"), {n[1], n[3]}),
        (f("metadata", "is", "prod", nested_key="env"), {n[0]}),
        (f("metadata", "key_not_equals", "prod", nested_key="env"), {n[1], n[2], n[3]}),
        (f("metadata", "is_not_null", nested_key="env"), {n[0], n[1]}),
        (f("metadata_keys", "contains", "user_id"), {n[0]}), (f("metadata_keys", "not_contains", "env"), {n[2], n[3]}),
        (f("scores", "gte", 50, nested_key="q"), {n[0]}), (f("scores", "is_null", nested_key="q"), {n[1], n[3]}),
        (f("trace_id", "is", trace_id.upper()), {n[3]}), (f("trace_id", "is_null"), {n[0], n[1], n[2]}),
        (f("span_attribute", "gte", 5, nested_key="retrieval.top_k"), {n[3]}),
        (f("span_attribute", "is", "qdrant", nested_key="db.system"), {n[3]}),
        ({"logic": "OR", "filters": [
            {"field": "engine", "operator": "is", "value": "local-llama"},
            {"logic": "AND", "filters": [{"field": "tags", "operator": "is", "value": "gold"},
                                         {"field": "cost", "operator": "gt", "value": 0.1}]}]}, {n[1], n[2]}),
        ({"logic": "AND", "filters": []}, set(n)),
    ]
    for group, expected in cases:
        assert set(_ids(api, group)) == expected, group
    assert set(_ids(api, f("engine", "contains", "gpt"), q="用量")) == {n[0], n[2], n[3]}
    assert set(_ids(api, q="服薬")) == {n[1]}


def test_sorting_pages_and_the_item_shape(seeded):
    api, n, trace_id = seeded
    assert _ids(api) == list(reversed(n))
    assert _ids(api, sort_by="request_start_time", sort_order="asc") == n
    assert _ids(api, sort_by="cost", sort_order="asc")[-1] == n[1]  # no cost: last either way
    assert _ids(api, sort_by="cost", sort_order="desc")[-1] == n[1]
    assert _ids(api, sort_by="input_tokens", sort_order="asc") == [n[1], n[2], n[0], n[3]]
    assert _ids(api, sort_by="latency_ms")[0] == n[1]
    first = _search(api, per_page=3, sort_order="asc")
    assert [i["id"] for i in first["items"]] == n[:3]
    assert {k: first[k] for k in ("page", "pages", "per_page", "total", "has_next", "has_prev", "next_num",
                                  "prev_num")} == {"page": 1, "pages": 2, "per_page": 3, "total": 4, "has_next": True,
                                                   "has_prev": False, "next_num": 2, "prev_num": None}
    second = _search(api, per_page=3, page=2, sort_order="asc")
    assert [i["id"] for i in second["items"]] == n[3:] and (second["has_next"], second["prev_num"]) == (False, 1)
    item = next(i for i in first["items"] if i["id"] == n[0])
    assert {k: item[k] for k in ("engine", "provider_type", "input_tokens", "output_tokens", "request_start_time",
                                 "request_end_time", "latency", "tags_array", "metadata", "scores", "trace_id")} == {
        "engine": "gpt-4o", "provider_type": "openai", "input_tokens": 1000, "output_tokens": 500,
        "request_start_time": "2026-11-20T10:00:00Z", "request_end_time": "2026-11-20T10:00:01Z", "latency": 1.0,
        "tags_array": ["beta"], "metadata": {"env": "prod", "user_id": "u1"}, "scores": {"q": 80.0}, "trace_id": None}
    assert item["price"] == pytest.approx(0.0075)
    assert _search(api, filter_group={"logic": "AND", "filters": [
        {"field": "trace_id", "operator": "is", "value": trace_id}]})["items"][0]["span_id"] == "00000000000000a3"


@pytest.mark.parametrize("body, named", [
    ({"filter_group": {"logic": "AND", "filters": [{"field": "is_json", "operator": "is_true"}]}}, "is_json"),
    ({"filter_group": {"logic": "AND", "filters": [{"field": "nope", "operator": "is", "value": 1}]}}, "nope"),
    ({"filter_group": {"logic": "AND", "filters": [{"field": "engine", "operator": "starts_with", "value": "g"}]}},
     "starts_with"),
    ({"filter_group": {"logic": "AND", "filters": [{"field": "input_tokens", "operator": "gt", "value": "many"}]}},
     "input_tokens"),
    ({"filter_group": {"logic": "AND", "filters": [{"field": "metadata", "operator": "is", "value": "x"}]}},
     "nested_key"),
    ({"filter_group": {"logic": "XOR", "filters": []}}, "XOR"),
    ({"filter_group": {"logic": "AND", "filters": [{"field": "cost", "operator": "between", "value": [1]}]}},
     "between"),
    ({"filter_group": {"logic": "AND", "filters": [{"field": "trace_id", "operator": "is", "value": "xyz"}]}},
     "hex"),
    ({"filter_group": [1]}, "filter_group"), ({"per_page": 26}, "per_page"), ({"page": 0}, "page"),
    ({"sort_by": "prompt_name"}, "prompt_name"), ({"sort_order": "up"}, "up"), ({"q": 3}, "q"),
])
def test_what_is_not_supported_is_a_400_naming_it(api, body, named):  # noqa: ANN001
    r = api.post("/api/public/v2/requests/search", json=body)
    assert r.status_code == 400 and r.json()["success"] is False, r.text
    assert named in r.json()["message"]


def test_the_trace_names_its_request_logs(seeded):
    api, n, trace_id = seeded
    t = api.get(f"/api/public/v2/traces/{trace_id}").json()
    assert t["success"] is True and t["trace_id"] == trace_id and t["span_count"] == 3
    assert [(s["name"], s["depth"], s["request_log_id"]) for s in t["spans"]] == [
        ("rag.answer", 0, None), ("retrieve", 1, None), ("chat gpt-4o", 1, n[3])]
    assert t["spans"][1]["attributes"]["retrieval.top_k"] == 5


def test_the_promptlayer_sdk_reads_requests_and_traces(pl, live):  # noqa: ANN001
    """promptlayer.tables.api's get_request / get_trace (X-API-KEY), and the evaluation runner's
    check that a trace's request has its price."""
    from promptlayer.evaluations import trace_price
    from promptlayer.exceptions import PromptLayerNotFoundError
    from promptlayer.tables import api as tables

    trace_id = uuid.uuid4().hex
    assert live.http.post("/v1/traces", json=rag_trace(trace_id)).status_code == 200
    base = live.url
    t = tables.get_trace(live.api_key, base, True, trace_id)
    [number] = [s["request_log_id"] for s in t["spans"] if s["request_log_id"]]
    r = tables.get_request(live.api_key, base, True, number)
    assert r["request_id"] == number and r["trace_id"] == trace_id and r["price"] > 0
    assert trace_price._trace_has_request_price(live.api_key, base, trace_id) is True
    with pytest.raises(PromptLayerNotFoundError, match="no request with id"):
        tables.get_request(live.api_key, base, True, 2**31 - 5)
