"""OTLP trace ingest (POST /v1/traces) and traces (GET /api/v1/traces/{id}), on both databases: the
real opentelemetry-sdk and its OTLP/HTTP exporter against a live server, OTLP JSON by hand, the
OpenInference form, replays, gzip, bad bodies, keys and scopes, prompt links, erasure."""

from __future__ import annotations

import gzip
import json
import uuid

import pytest
from google.rpc.status_pb2 import Status as RpcStatus
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlalchemy import func, select

from promptyard.errors import TooLarge
from promptyard.store.models import Span
from tests.conftest import make_key
from tests.support import publish, unique

PROTOBUF = {"Content-Type": "application/x-protobuf"}
QUESTION, ANSWER = "この薬の用量は?", "1日2回、食後に服用してください。"


def recorded(build, service: str = "pharmacy-bot") -> list[ReadableSpan]:  # noqa: ANN001
    """The spans `build(tracer)` makes, finished, as the SDK hands them to an exporter."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    build(provider.get_tracer("tests.otlp"))
    spans = memory.get_finished_spans()
    provider.shutdown()
    return list(spans)


def rag(tracer, *, attributes: dict | None = None, error: bool = False) -> None:  # noqa: ANN001
    """A RAG answer: a chain span, a retrieval span and an LLM span (OpenLLMetry's attribute form)."""
    with tracer.start_as_current_span("answer", kind=SpanKind.SERVER):
        with tracer.start_as_current_span("retrieve") as r:
            r.set_attributes({"db.system": "qdrant", "retrieval.query": QUESTION, "retrieval.documents": 3})
        with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT) as llm:
            llm.set_attributes({
                "gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o",
                "gen_ai.response.model": "gpt-4o-2024-08-06", "gen_ai.request.temperature": 0.2,
                "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 500,
                "gen_ai.prompt.0.role": "system", "gen_ai.prompt.0.content": "Answer from the manual.",
                "gen_ai.prompt.1.role": "user", "gen_ai.prompt.1.content": QUESTION,
                "gen_ai.completion.0.role": "assistant", "gen_ai.completion.0.content": ANSWER,
                "gen_ai.completion.0.finish_reason": "stop", "app.user_tier": "staff", **(attributes or {})})
            if error:
                llm.record_exception(TimeoutError("upstream timed out"))
                llm.set_status(Status(StatusCode.ERROR, "the provider timed out"))


def trace_id_of(spans: list[ReadableSpan]) -> str:
    return format(spans[0].context.trace_id, "032x")


def protobuf(spans: list[ReadableSpan]) -> bytes:
    return encode_spans(spans).SerializeToString()


def status_of(answer) -> tuple[int, str]:  # noqa: ANN001
    """(gRPC code, message) of an OTLP error answer, in protobuf or JSON as the request was."""
    if answer.headers["content-type"] == "application/x-protobuf":
        found = RpcStatus.FromString(answer.content)
        return found.code, found.message
    return answer.json()["code"], answer.json()["message"]


def logs_of(client, trace_id: str) -> list[dict]:  # noqa: ANN001
    found = client.get("/api/v1/requests", params={"filter": f'metadata."otel.trace_id" = "{trace_id}"'})
    assert found.status_code == 200, found.text
    return found.json()["items"]


def test_the_sdk_exporter_sends_a_rag_trace_in_protobuf_and_gzip(live):
    for compression in (Compression.NoCompression, Compression.Gzip):
        spans = recorded(rag)
        exporter = OTLPSpanExporter(endpoint=f"{live.url}/v1/traces", compression=compression,
                                    headers={"Authorization": f"Bearer {live.api_key}"})
        assert exporter.export(spans) == SpanExportResult.SUCCESS
        exporter.shutdown()
        trace_id = trace_id_of(spans)
        [item] = logs_of(live.http, trace_id)
        detail = live.http.get(f"/api/v1/requests/{item['id']}").json()
        llm = next(s for s in spans if s.name == "chat gpt-4o")
        assert detail["trace"] == {"trace_id": trace_id, "span_id": format(llm.context.span_id, "016x")}
        assert (detail["provider"], detail["model"], detail["input_tokens"], detail["output_tokens"]) == (
            "openai", "gpt-4o", 1000, 500)
        assert detail["input"]["messages"] == [{"role": "system", "content": "Answer from the manual."},
                                               {"role": "user", "content": QUESTION}]
        assert detail["input"]["parameters"] == {"temperature": 0.2}
        assert detail["output"] == {"role": "assistant", "content": ANSWER, "finish_reason": "stop"}
        assert detail["latency_ms"] == pytest.approx((llm.end_time - llm.start_time) / 1e6, abs=0.002)  # µs
        assert detail["function_name"] == "chat gpt-4o" and detail["status"] == "ok"
        assert detail["metadata"]["otel.app.user_tier"] == "staff"
        assert detail["metadata"]["otel.resource.service.name"] == "pharmacy-bot"
        assert detail["metadata"]["otel.gen_ai.response.model"] == "gpt-4o-2024-08-06"
        assert not any("content" in k for k in detail["metadata"])  # message text is not metadata
        assert not {"otel.gen_ai.request.model", "otel.gen_ai.system", "otel.gen_ai.usage.input_tokens",
                    "otel.gen_ai.request.temperature"} & set(detail["metadata"])  # nor what the log has in fields
        trace = live.http.get(f"/api/v1/traces/{trace_id}").json()
        assert [(s["name"], s["depth"]) for s in trace["spans"]] == [("answer", 0), ("retrieve", 1),
                                                                     ("chat gpt-4o", 1)]
        root, retrieve, chat = trace["spans"]
        assert chat["request"]["number"] == detail["number"] and root["request"] is retrieve["request"] is None
        assert retrieve["attributes"]["retrieval.documents"] == 3 and root["kind"] == "server"
        assert trace["duration_ms"] == root["duration_ms"] > 0 and chat["offset_ms"] >= retrieve["offset_ms"]
        assert QUESTION not in json.dumps(chat) and ANSWER not in json.dumps(chat)  # the request holds the text


def test_a_resent_batch_logs_and_stores_each_span_once(api):
    spans = recorded(rag)
    body = protobuf(spans)
    for _ in range(3):
        answer = api.post("/v1/traces", content=body, headers=PROTOBUF)
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/x-protobuf"
        assert ExportTraceServiceResponse.FromString(answer.content).partial_success.rejected_spans == 0
    trace_id = trace_id_of(spans)
    assert len(logs_of(api, trace_id)) == 1
    assert api.get(f"/api/v1/traces/{trace_id}").json()["span_count"] == 3


def _hand_json(trace_id: str, spans: list[dict]) -> dict:
    """OTLP's JSON form: hex ids, camelCase, int64 as strings, enums as numbers."""
    return {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "bot"}}]},
                               "scopeSpans": [{"scope": {"name": "hand"}, "spans": [
                                   {"traceId": trace_id, "startTimeUnixNano": "1763632800000000000",
                                    "endTimeUnixNano": "1763632801500000000", "kind": 3} | s for s in spans]}]}]}


def _attrs(**values) -> list[dict]:  # noqa: ANN003
    out = []
    for k, v in values.items():
        key = k.replace("__", ".")
        if isinstance(v, bool):
            out.append({"key": key, "value": {"boolValue": v}})
        elif isinstance(v, int):
            out.append({"key": key, "value": {"intValue": str(v)}})
        else:
            out.append({"key": key, "value": {"stringValue": v}})
    return out


def test_otlp_json_by_hand_with_message_attributes_and_events(api):
    trace_id = uuid.uuid4().hex
    messages = json.dumps([{"role": "user", "parts": [{"type": "text", "content": QUESTION}]}])
    out = json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": ANSWER}], "finish_reason": "stop"}])
    body = _hand_json(trace_id, [
        {"spanId": "00000000000000a1", "name": "chat claude", "attributes": _attrs(
            gen_ai__provider__name="anthropic", gen_ai__request__model="claude-sonnet-4", gen_ai__operation__name="chat",
            gen_ai__input__messages=messages, gen_ai__output__messages=out, gen_ai__usage__input_tokens=12)},
        {"spanId": "00000000000000A2", "parentSpanId": "00000000000000a1", "name": "chat events", "attributes": _attrs(
            gen_ai__system="openai", gen_ai__request__model="gpt-4o-mini"),
         "events": [{"name": "gen_ai.system.message", "timeUnixNano": "1763632800000000001",
                     "attributes": _attrs(content="Be brief.")},
                    {"name": "gen_ai.user.message", "attributes": _attrs(content=QUESTION)},
                    {"name": "gen_ai.choice", "attributes": _attrs(
                        index=0, finish_reason="stop", message=json.dumps({"role": "assistant", "content": ANSWER}))}],
         "status": {"code": 2, "message": "rate limited"}}])
    answer = api.post("/v1/traces", json=body)
    assert answer.status_code == 200 and answer.json() == {}, answer.text
    by_name = {i["model"]: api.get(f"/api/v1/requests/{i['id']}").json() for i in logs_of(api, trace_id)}
    claude, events = by_name["claude-sonnet-4"], by_name["gpt-4o-mini"]
    assert claude["provider"] == "anthropic" and claude["input_tokens"] == 12
    assert claude["input"]["messages"] == [{"role": "user", "content": QUESTION}]
    assert claude["output"] == {"role": "assistant", "content": ANSWER, "finish_reason": "stop"}
    assert claude["latency_ms"] == 1500 and claude["start_time"] == "2025-11-20T10:00:00Z"
    assert events["input"]["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": QUESTION}]
    assert events["output"] == {"role": "assistant", "content": ANSWER, "finish_reason": "stop"}
    assert events["status"] == "error" and events["error"]["message"] == "rate limited"
    assert events["trace"] == {"trace_id": trace_id, "span_id": "00000000000000a2"}
    spans = api.get(f"/api/v1/traces/{trace_id.upper()}").json()["spans"]
    assert [(s["span_id"], s["depth"]) for s in spans] == [("00000000000000a1", 0), ("00000000000000a2", 1)]
    assert [e["attributes"] for e in spans[1]["events"]] == [{}, {}, {}]  # the texts are in the request only
    assert spans[1]["status"] == "error" and spans[1]["resource"] == {"service.name": "bot"}


def test_trace_and_span_ids_are_not_taken_for_patient_data(api):
    """One random trace id in 200 holds a run of digits the redaction detectors take for a phone, card or My
    Number: it was redacted in the log's metadata, and the log was lost to a search by its trace. The ids
    are kept as sent; a value of decimal digits only under those keys is still redacted."""
    for trace_id, span_id in (("09064139221ce34e8423fa5bdc009da5", "c09064139221cdef"),  # a mobile number
                              ("d1454709d58de3b643331459502540d7", "00000000000000a1"),  # a card
                              ("e592067375305db71d43d1ffecd1345e", "e592067375305db7")):  # a My Number
        body = _hand_json(trace_id, [{"spanId": span_id, "name": "chat", "attributes": _attrs(
            gen_ai__system="openai", gen_ai__request__model="gpt-4o", gen_ai__prompt__0__role="user",
            gen_ai__prompt__0__content=QUESTION)}])
        assert api.post("/v1/traces", json=body).status_code == 200
        [item] = logs_of(api, trace_id)
        stored = api.get(f"/api/v1/requests/{item['id']}").json()
        assert (stored["metadata"]["otel.trace_id"], stored["metadata"]["otel.span_id"]) == (trace_id, span_id)
        assert stored["trace"] == {"trace_id": trace_id, "span_id": span_id}
    digits = {"otel.span_id": "4111111111111111"}  # a card number in the form of a span id
    sent = api.post("/api/v1/requests", json={"id": uuid.uuid4().hex, "input": {"q": "x"}, "output": {"a": "y"},
                                              "metadata": digits})
    assert sent.status_code == 200, sent.text
    kept = api.get(f"/api/v1/requests/{sent.json()['ids'][0]}").json()["metadata"]
    assert kept["otel.span_id"] != digits["otel.span_id"]


def test_an_openinference_span_becomes_a_log(api):
    trace_id = uuid.uuid4().hex
    body = _hand_json(trace_id, [{"spanId": "00000000000000b1", "name": "ChatCompletion", "attributes": _attrs(
        openinference__span__kind="LLM", llm__model_name="gpt-4o", llm__provider="openai",
        llm__input_messages__0__message__role="user", llm__input_messages__0__message__content=QUESTION,
        llm__output_messages__0__message__role="assistant",
        llm__output_messages__0__message__contents__0__message_content__text=ANSWER,
        input__value=json.dumps({"messages": [{"role": "user", "content": QUESTION}]}),
        llm__token_count__prompt=21, llm__token_count__completion=9)},
        {"spanId": "00000000000000b2", "parentSpanId": "00000000000000b1", "name": "retriever", "attributes": _attrs(
            openinference__span__kind="RETRIEVER", input__value=QUESTION)}])
    assert api.post("/v1/traces", json=body).status_code == 200
    [item] = logs_of(api, trace_id)
    detail = api.get(f"/api/v1/requests/{item['id']}").json()
    assert (detail["provider"], detail["model"], detail["input_tokens"], detail["output_tokens"]) == (
        "openai", "gpt-4o", 21, 9)
    assert detail["input"]["messages"] == [{"role": "user", "content": QUESTION}]
    assert detail["output"] == {"role": "assistant", "content": ANSWER}
    spans = api.get(f"/api/v1/traces/{trace_id}").json()["spans"]
    assert spans[1]["request"] is None and spans[1]["attributes"]["input.value"] == QUESTION
    assert "input.value" not in spans[0]["attributes"] and "llm.model_name" in spans[0]["attributes"]


def test_a_span_naming_a_prompt_version_is_linked_to_it(api):
    name = unique("otel-faq")
    publish(api, name, labels=["production"])
    publish(api, name, content="v2: {question}", commit="second")
    spans = recorded(lambda t: rag(t, attributes={"promptyard.prompt.name": name, "promptyard.prompt.version": 1,
                                                  "promptyard.prompt.variables": json.dumps({"question": QUESTION})}))
    spans += recorded(lambda t: rag(t, attributes={"promptyard.prompt.name": name,
                                                   "promptyard.prompt.label": "production"}))
    assert api.post("/v1/traces", content=protobuf(spans), headers=PROTOBUF).status_code == 200
    for trace_id in {format(s.context.trace_id, "032x") for s in spans}:
        [item] = logs_of(api, trace_id)
        detail = api.get(f"/api/v1/requests/{item['id']}").json()
        assert (detail["prompt"], detail["version"]) == (name, 1)
        assert detail["input_variables"] in ({"question": QUESTION}, None)


def test_an_error_span_is_an_error_log(api):
    spans = recorded(lambda t: rag(t, error=True))
    assert api.post("/v1/traces", content=protobuf(spans), headers=PROTOBUF).status_code == 200
    [item] = logs_of(api, trace_id_of(spans))
    detail = api.get(f"/api/v1/requests/{item['id']}").json()
    assert detail["status"] == "error"
    assert detail["error"] == {"type": "TimeoutError", "message": "the provider timed out"}


def test_gzip_json_and_bad_bodies_answer_4xx_in_otlp_shape(api):
    trace_id = uuid.uuid4().hex
    body = json.dumps(_hand_json(trace_id, [{"spanId": "00000000000000c1", "name": "tool", "attributes": _attrs(
        tool__name="lookup")}])).encode()
    zipped = api.post("/v1/traces", content=gzip.compress(body),
                      headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert zipped.status_code == 200, zipped.text
    assert api.get(f"/api/v1/traces/{trace_id}").json()["spans"][0]["attributes"] == {"tool.name": "lookup"}
    span = {"traceId": trace_id, "spanId": "00000000000000c2", "name": "x"}
    bad = [
        (b"\x0a\xff\xff", PROTOBUF, 400),
        (b"not json", {"Content-Type": "application/json"}, 400),
        (b"[]", {"Content-Type": "application/json"}, 400),
        (json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span | {"spanId": "xyz"}]}]}]}).encode(),
         {"Content-Type": "application/json"}, 400),
        (json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span | {"traceId": "00"}]}]}]}).encode(),
         {"Content-Type": "application/json"}, 400),
        (json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span | {"startTimeUnixNano": "soon"}]}]}]}).encode(),
         {"Content-Type": "application/json"}, 400),
        (json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span | {"name": "a\u0000b"}]}]}]}).encode(),
         {"Content-Type": "application/json"}, 422),  # the guard's answer to NUL in any JSON body
        (gzip.compress(b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "a\\u0000b"}]}]}]}'),
         {"Content-Type": "application/json", "Content-Encoding": "gzip"}, 400),
        (b"\x1f\x8b not gzip", {"Content-Type": "application/json", "Content-Encoding": "gzip"}, 400),
        (gzip.compress(b"{}")[:-6], {"Content-Type": "application/json", "Content-Encoding": "gzip"}, 400),
        (b"{}", {"Content-Type": "application/json", "Content-Encoding": "br"}, 415),
        (b"{}", {"Content-Type": "text/plain"}, 415),
    ]
    for content, headers, status in bad:
        answer = api.post("/v1/traces", content=content, headers=headers)
        assert answer.status_code == status, (content[:60], answer.text)
        if status != 422:
            code, message = status_of(answer)
            assert message and code in (3, 8), answer.text
    nan = {"resourceSpans": [{"scopeSpans": [{"spans": [span | {"attributes": [
        {"key": "x", "value": {"doubleValue": "NaN"}}]}]}]}]}
    assert api.post("/v1/traces", content=gzip.compress(json.dumps(nan).encode()),
                    headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}).status_code == 400
    assert api.post("/v1/traces", content=b"\x0a\xff\xff", headers=PROTOBUF).headers["content-type"] == (
        "application/x-protobuf")  # a google.rpc.Status in the request's encoding


def test_a_bomb_and_too_many_spans_are_413(api, app):
    bomb = gzip.compress(b" " * (app.state.ctx.settings.max_body_bytes + 10))
    answer = api.post("/v1/traces", content=bomb, headers={"Content-Type": "application/json",
                                                            "Content-Encoding": "gzip"})
    assert answer.status_code == 413 and "decompressed" in answer.json()["message"]
    many = recorded(lambda t: [t.start_span(f"s{i}").end() for i in range(app.state.ctx.settings.max_batch + 1)])
    assert api.post("/v1/traces", content=protobuf(many), headers=PROTOBUF).status_code == 413


def test_keys_and_scopes(api, database):
    body = protobuf(recorded(rag))
    wrong = api.post("/v1/traces", content=body, headers=PROTOBUF | {"Authorization": "Bearer pyk_wrong"})
    assert wrong.status_code == 401 and status_of(wrong)[0] == 16  # UNAUTHENTICATED
    nobody = api.post("/v1/traces", content=body, headers=PROTOBUF | {"Authorization": ""})
    assert nobody.status_code == 401
    reader = make_key(database, api.principal, scopes=("read",))
    assert api.post("/v1/traces", content=body, headers=PROTOBUF | {"Authorization": "",
                                                                    "X-API-KEY": reader}).status_code == 403
    ingester = make_key(database, api.principal, scopes=("ingest",))
    assert api.post("/v1/traces", content=body, headers=PROTOBUF | {"Authorization": "",
                                                                    "X-API-KEY": ingester}).status_code == 200


def test_traces_of_other_workspaces_and_bad_ids(api, database):
    spans = recorded(rag)
    assert api.post("/v1/traces", content=protobuf(spans), headers=PROTOBUF).status_code == 200
    from promptyard.services import keys

    with database.write() as s:
        other_ws, _ = keys.ensure_workspace(s, unique("ws-other"))
    other = make_key(database, keys.system_principal(other_ws, actor="t"))
    trace_id = trace_id_of(spans)
    assert api.get(f"/api/v1/traces/{trace_id}", headers={"Authorization": f"Bearer {other}"}).status_code == 404
    assert api.get("/api/v1/traces/nothex").status_code == 422
    assert api.get(f"/api/v1/traces/{uuid.uuid4().hex}").status_code == 404


def test_erasing_a_request_removes_its_trace_and_retention_old_spans(api, database):  # noqa: ANN001
    spans = recorded(rag)
    assert api.post("/v1/traces", content=protobuf(spans), headers=PROTOBUF).status_code == 200
    trace_id = trace_id_of(spans)
    [item] = logs_of(api, trace_id)
    assert api.delete(f"/api/v1/requests/{item['id']}").status_code == 200
    assert api.get(f"/api/v1/traces/{trace_id}").status_code == 404  # the retrieval held the question too
    with database.read() as s:
        assert s.scalar(select(func.count()).select_from(Span).where(
            Span.workspace_id == api.principal.workspace_id)) == 0
    old = "a" * 32  # a trace of a retrieval only, from a year ago: no log of it to erase
    body = _hand_json(old, [{"spanId": "b" * 16, "name": "retrieve", "attributes": _attrs(retrieval__query=QUESTION)}])
    assert api.post("/v1/traces", json=body).status_code == 200
    assert api.get(f"/api/v1/traces/{old}").status_code == 200
    assert api.put("/api/v1/privacy/retention", json={"days": 30, "reason": "pharmacy policy"}).status_code == 200
    assert api.post("/api/v1/privacy/purge", json={}).status_code == 200
    assert api.get(f"/api/v1/traces/{old}").status_code == 404


def test_what_a_span_keeps_is_redacted(api):
    spans = recorded(lambda t: t.start_span("lookup", attributes={"tool.input": "mail ph@example.jp now"}).end())
    assert api.post("/v1/traces", content=protobuf(spans), headers=PROTOBUF).status_code == 200
    [span] = api.get(f"/api/v1/traces/{trace_id_of(spans)}").json()["spans"]
    assert "ph@example.jp" not in span["attributes"]["tool.input"]


def test_a_span_whose_log_the_promptlayer_sdk_sends_itself_is_not_logged_twice(api):
    """run() logs its call to /track-request with its own span's id, and marks the provider call's
    GenAI span as managed, pointing to that id: the span is linked to that log, not logged again."""
    run_span = "00000000000000d1"
    logged = api.post("/track-request", json={
        "function_name": "openai.chat.completions.create", "provider_type": "openai",
        "kwargs": {"model": "gpt-4o", "messages": [{"role": "user", "content": QUESTION}]},
        "request_response": {"choices": [{"message": {"role": "assistant", "content": ANSWER}}]},
        "request_start_time": 1764000000.0, "request_end_time": 1764000001.0, "span_id": run_span})
    assert logged.status_code == 200, logged.text
    spans = recorded(lambda t: rag(t, attributes={"promptlayer.request_log.managed": True,
                                                  "promptlayer.request_log.span_id": run_span,
                                                  "promptlayer.prompt.name": "x"}))
    assert api.post("/v1/traces", content=protobuf(spans), headers=PROTOBUF).status_code == 200
    trace_id = trace_id_of(spans)
    assert logs_of(api, trace_id) == []
    chat = api.get(f"/api/v1/traces/{trace_id}").json()["spans"][2]
    assert chat["request"]["number"] == logged.json()["request_id"]
    assert QUESTION not in json.dumps(chat)  # still an LLM span: no text of its own
    assert api.get(f"/api/v1/requests/{logged.json()['request_id']}").json()["trace"]["span_id"] == chat["span_id"]


def test_the_promptlayer_sdk_tracing_reaches_our_server(pl, live):
    """The real promptlayer SDK 1.5.16: PromptLayer(enable_tracing=True) and @traceable export OTLP
    protobuf with X-Api-Key to /v1/traces, which it derives from PROMPTLAYER_BASE_URL."""
    from opentelemetry import trace
    from promptlayer import PromptLayer

    client = PromptLayer(enable_tracing=True)
    seen = {}

    @client.traceable(attributes={"step": "retrieve"})
    def retrieve(question: str) -> list[str]:
        seen["trace_id"] = format(trace.get_current_span().get_span_context().trace_id, "032x")
        return ["用法・用量: 1日2回"]

    @client.traceable(name="answer")
    def answer(question: str) -> str:
        return f"{retrieve(question)[0]} です"

    assert answer(QUESTION).endswith("です")
    assert client.tracer_provider.force_flush(10_000)
    found = live.http.get(f"/api/v1/traces/{seen['trace_id']}")
    assert found.status_code == 200, found.text
    root, child = found.json()["spans"]
    assert (root["name"], root["depth"], child["name"], child["depth"]) == ("answer", 0, "retrieve", 1)
    assert child["attributes"]["step"] == "retrieve" and QUESTION in child["attributes"]["function_input"]
    assert root["resource"]["service.name"] == "prompt-layer-library"
    client.tracer_provider.shutdown()


def test_the_promptlayer_wrapper_span_keeps_no_messages_and_logs_nothing(api):
    def wrapper_call(tracer) -> None:  # noqa: ANN001 - the attributes promptlayer_base sets on its span
        with tracer.start_as_current_span("openai.chat.completions.create") as span:
            span.set_attributes({"provider": "openai", "function_name": "openai.chat.completions.create",
                                 "function_input": str({"kwargs": {"messages": [{"content": QUESTION}]}}),
                                 "function_output": ANSWER})

    spans = recorded(wrapper_call)
    assert api.post("/v1/traces", content=protobuf(spans), headers=PROTOBUF).status_code == 200
    [span] = api.get(f"/api/v1/traces/{trace_id_of(spans)}").json()["spans"]
    assert logs_of(api, trace_id_of(spans)) == [] and span["attributes"] == {
        "provider": "openai", "function_name": "openai.chat.completions.create"}


@pytest.mark.one_database
@pytest.mark.browser
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_trace_view_in_the_browser(browser, live, lang):  # noqa: ANN001
    """From a request's page to its trace's waterfall, and from the LLM span back to the request."""
    from tests.browser import new_page

    spans = recorded(rag)
    exporter = OTLPSpanExporter(endpoint=f"{live.url}/v1/traces", headers={"X-API-KEY": live.api_key})
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    trace_id = trace_id_of(spans)
    [item] = logs_of(live.http, trace_id)
    page = new_page(browser, live, lang, start=f"/ui/requests/{item['number']}")
    page.click("#trace-link")
    page.wait_for_url(f"**/ui/traces/{trace_id}")
    assert page.inner_text("h1").startswith({"en": "Trace", "ja": "トレース"}[lang])
    rows = page.locator("#waterfall tbody tr")
    assert rows.count() == 3
    assert [rows.nth(i).locator("td.name").inner_text().strip() for i in range(3)] == ["answer", "retrieve", "chat gpt-4o"]
    assert page.locator("#waterfall tr.llm").count() == 1 and page.locator("#waterfall svg.bar rect").count() == 3
    page.click("#waterfall tr.llm a.request-link")
    page.wait_for_url(f"**/ui/requests/{item['number']}")
    assert ANSWER in page.inner_text("main")
    assert page.dialogs == []
    page.context.close()


def test_the_trace_page_in_process(ui, api):
    spans = recorded(rag)
    assert api.post("/v1/traces", content=protobuf(spans), headers=PROTOBUF).status_code == 200
    trace_id = trace_id_of(spans)
    client = ui()
    page = client.get(f"/ui/traces/{trace_id}")
    assert page.status_code == 200 and page.text.count('class="span') == 3 and "request-link" in page.text
    assert client.get(f"/ui/traces/{uuid.uuid4().hex}").status_code == 404
    assert client.get("/ui/traces/nothex").status_code in (404, 422)


def _as_otlp_json(message) -> bytes:  # noqa: ANN001
    """protobuf's JSON mapping of an export request (int64 as strings, enums by name, bytes base64)
    with OTLP's hex ids: the JSON form an exporter sends."""
    import base64

    from google.protobuf import json_format

    data = json_format.MessageToDict(message)
    for rs in data["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for span in ss["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    return json.dumps(data).encode()


def test_the_json_reader_agrees_with_protobuf_on_every_value_type():
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList

    from promptyard.domain import otlp

    message = encode_spans(recorded(lambda t: rag(t, error=True)))
    span = message.resource_spans[0].scope_spans[0].spans[0]
    nested = AnyValue(kvlist_value=KeyValueList(values=[
        KeyValue(key="ids", value=AnyValue(array_value=ArrayValue(values=[AnyValue(int_value=-7), AnyValue(
            double_value=0.5), AnyValue(bool_value=False), AnyValue(string_value="薬")]))),
        KeyValue(key="raw", value=AnyValue(bytes_value=b"\x00\xff")), KeyValue(key="none", value=AnyValue())]))
    span.attributes.append(KeyValue(key="nested", value=nested))
    from_protobuf = otlp.decode(message.SerializeToString(), otlp.PROTOBUF, max_values=1000)
    from_json = otlp.decode(_as_otlp_json(message), otlp.JSON, max_values=1000)
    assert from_json == from_protobuf and len(from_json) == 3
    first = next(s for s in from_json if "nested" in s.attributes)
    assert first.attributes["nested"] == {"ids": [-7, 0.5, False, "薬"], "raw": "00ff", "none": None}
    assert {s.kind for s in from_json} == {"server", "internal", "client"}
    assert any(s.status == "error" for s in from_json)
    with pytest.raises(TooLarge):
        otlp.decode(message.SerializeToString(), otlp.PROTOBUF, max_values=20)
    with pytest.raises(TooLarge):
        otlp.decode(_as_otlp_json(message), otlp.JSON, max_values=20)


def test_a_span_whose_log_is_refused_is_named_in_partial_success(api):
    """The ingest service's own rules decide (here: a token count beyond what the database holds); the
    other spans of the batch are stored."""
    spans = recorded(lambda t: rag(t, attributes={"gen_ai.usage.input_tokens": 2**62}))
    answer = api.post("/v1/traces", content=protobuf(spans), headers=PROTOBUF)
    assert answer.status_code == 200
    partial = ExportTraceServiceResponse.FromString(answer.content).partial_success
    llm = next(s for s in spans if s.name == "chat gpt-4o")
    assert partial.rejected_spans == 1 and format(llm.context.span_id, "016x") in partial.error_message
    assert "usage.input_tokens" in partial.error_message
    trace_id = trace_id_of(spans)
    assert logs_of(api, trace_id) == []
    assert [s["name"] for s in api.get(f"/api/v1/traces/{trace_id}").json()["spans"]] == ["answer", "retrieve"]
    as_json = api.post("/v1/traces", content=_as_otlp_json(encode_spans(spans)), headers={
        "Content-Type": "application/json"}).json()
    assert as_json["partialSuccess"]["rejectedSpans"] == "1"  # int64 as a string, as OTLP's JSON has it


def test_the_promptlayer_wrapper_log_is_linked_to_its_span(pl, live):
    """With tracing on, the wrapper logs the call to /track-request with its span's id, then exports
    the span: the span (without message text) is linked to that log, and the log names its trace."""
    from opentelemetry import trace
    from promptlayer import PromptLayer

    client = PromptLayer(enable_tracing=True)
    seen = {}

    @client.traceable(name="answer")
    def answer(question: str) -> int:
        seen["trace_id"] = format(trace.get_current_span().get_span_context().trace_id, "032x")
        _, request_id = client.openai.OpenAI().chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": question}], return_pl_id=True)
        return request_id

    request_id = answer(QUESTION)
    assert client.tracer_provider.force_flush(10_000)
    spans = live.http.get(f"/api/v1/traces/{seen['trace_id']}").json()["spans"]
    wrapper = next(s for s in spans if s["request"])
    assert wrapper["request"]["number"] == request_id and "function_input" not in wrapper["attributes"]
    detail = live.http.get(f"/api/v1/requests/{request_id}").json()
    assert detail["trace"] == {"trace_id": seen["trace_id"], "span_id": wrapper["span_id"]}
    assert len(logs_of(live.http, seen["trace_id"])) == 0  # no second log: the one request has no otel.trace_id
    client.tracer_provider.shutdown()


def _rag_named(root: str, top_k: int, cached: bool):  # noqa: ANN202
    def build(tracer) -> None:  # noqa: ANN001
        with tracer.start_as_current_span(root, kind=SpanKind.SERVER):
            with tracer.start_as_current_span("retrieve") as r:
                r.set_attributes({"db.system": "qdrant", "retrieval.top_k": top_k, "cache.hit": cached})
            with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT) as llm:
                llm.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.system": "openai",
                                    "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 10})
    return build


def test_requests_are_found_by_their_trace(api, ui):  # noqa: ANN001
    """trace_id, span_id, trace.name, span.name and span.attr.<key> in the filter, the text form and
    the JSON form, a page, the statistics (which read every match) and the exports' trace columns."""
    a, b = recorded(_rag_named("rag.answer", 5, True)), recorded(_rag_named("faq.answer", 2, False))
    for spans in (a, b):
        assert api.post("/v1/traces", content=protobuf(spans), headers=PROTOBUF).status_code == 200
    plain = api.post("/api/v1/requests", json={"id": str(uuid.uuid4()), "model": "m"}).json()["ids"][0]
    ta, tb = trace_id_of(a), trace_id_of(b)
    llm_a = format(next(s for s in a if s.name == "chat gpt-4o").context.span_id, "016x")
    [log_a], [log_b] = logs_of(api, ta), logs_of(api, tb)
    assert (log_a["trace_id"], log_a["span_id"]) == (ta, llm_a)  # list items name their trace

    def found(text: str) -> set[str]:
        r = api.get("/api/v1/requests", params={"filter": text})
        assert r.status_code == 200, r.text
        return {i["id"] for i in r.json()["items"]}

    A, B, P = log_a["id"], log_b["id"], plain  # noqa: N806
    cases = {
        'trace.name = "rag.answer"': {A}, 'trace.name ~ "ANSWER"': {A, B}, 'trace.name != "rag.answer"': {B, P},
        "span.attr.retrieval.top_k >= 5": {A}, "span.attr.retrieval.top_k < 5": {B},
        "span.attr.retrieval.top_k = 5": {A}, 'span.attr.retrieval.top_k = "5"': set(),  # a number is not text
        "span.attr.retrieval.top_k in [2, 3]": {B}, "span.attr.retrieval.top_k != 5": {B, P},
        'span.attr.db.system = "qdrant"': {A, B}, 'span.attr."db.system" ~ "QDR"': {A, B},
        "span.attr.cache.hit exists": {A, B}, "span.attr.nope exists": set(), "span.attr.nope missing": {A, B, P},
        f'trace_id = "{ta.upper()}"': {A}, f'trace_id in ["{ta}", "{tb}"]': {A, B}, f'trace_id != "{ta}"': {B, P},
        "trace_id exists": {A, B}, f'span_id = "{llm_a}"': {A}, "span_id missing": {P},
        'span.name = "retrieve" AND NOT trace.name = "faq.answer"': {A},
        f'trace_id = "{ta}" AND span.attr.retrieval.top_k > 1': {A},
    }
    for text, expected in cases.items():
        assert found(text) == expected, text
    by_json = api.post("/api/v1/requests/search", json={"filter": {"and": [
        {"field": "span.attr", "key": "retrieval.top_k", "op": ">=", "value": 5},
        {"field": "trace.name", "op": "=", "value": "rag.answer"}]}})
    assert [i["id"] for i in by_json.json()["items"]] == [A], by_json.text
    stats = api.get("/api/v1/requests/stats", params={"filter": f'trace_id = "{ta}"'}).json()["items"]
    assert sum(row["count"] for row in stats) == 1
    jsonl = api.get("/api/v1/requests/export", params={"format": "jsonl", "filter": "trace_id exists"}).text
    assert sorted((json.loads(line)["trace_id"], json.loads(line)["span_id"]) for line in jsonl.splitlines()) == sorted(
        [(ta, llm_a), (tb, log_b["span_id"])])
    csv_text = api.get("/api/v1/requests/export", params={"format": "csv", "filter": f'trace_id = "{ta}"'}).text
    header, row = csv_text.lstrip("\ufeff").splitlines()[:2]
    assert header.endswith(",trace_id,span_id") and row.endswith(f",{ta},{llm_a}")
    page = ui("viewer").get("/ui/requests", params={"q": "span.attr.retrieval.top_k >= 5"}).text
    assert 'id="matching">1 matching<' in page and "span.attr.&lt;key&gt; (any span of the trace)" in page
    assert "トレース内のいずれかのスパン" in ui("viewer", lang="ja").get("/ui/requests").text
