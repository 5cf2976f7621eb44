"""Ingest's preparation in worker processes (services/ingest_workers.py): a batch prepared in a worker
is stored exactly as one prepared in the server process (redaction with a hash key, a term list and a
custom pattern, scores, prompt links, refused logs, the text index), on both databases; a batch's own
errors come back from the worker as the same answers; a worker that dies costs nothing but time."""

from __future__ import annotations

import json
import os
import pickle
import re
import uuid

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from promptyard.domain import otlp, query
from promptyard.domain.logs import LogError
from promptyard.errors import InvalidInput, TooLarge
from promptyard.services import (
    ingest_workers,
    keys,
    otlp_ingest,
    redaction,
    request_ingest,
    request_reads,
    traces,
    versions,
)
from tests.conftest import make_key

SYSTEM = "あなたは調剤薬局の薬剤師を支援するアシスタントです。" * 3
POLICY = {"detectors": {"phone": {"on": True, "operator": "hash"}},
          "custom": [{"name": "drug", "pattern": "ロキソ[ァ-ヶー]+", "on": True, "operator": "placeholder"}]}


def _log(i: int, run: str = "api") -> dict:
    question = f"山田花子です。ロキソプロフェンは食後でいいですか。折り返しは090-{1000 + i:04d}-5678に。" if i % 3 == 0 \
        else f"質問 {i}: お薬手帳の再発行はできますか"
    log = {"id": f"{run}-{i}", "provider": "openai", "model": "gpt-4o", "start_time": 1764000000 + i,
           "end_time": 1764000000.5 + i, "usage": {"input_tokens": 100 + i, "output_tokens": 20},
           "input": {"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}],
                     "parameters": {"temperature": 0.2}},
           "output": {"choices": [{"message": {"role": "assistant", "content": f"回答 {i}: 食後に服用してください。"}}]},
           "metadata": {"env": "prod", "user_id": f"u{i % 7}", "note": "山田花子さん" if i % 4 == 0 else "-", "run": run},
           "tags": ["bench", "花子" if i % 5 == 0 else "x"],
           "scores": [{"name": "helpful", "value": i % 101, "comment": "090-1111-2222 に電話" if i % 6 == 0 else ""}]}
    if i % 2 == 0:
        log["prompt"] = {"name": "reply", "label": "production", "variables": {"patient": "山田花子"}}
    return log


def _batch(run: str) -> list[dict]:
    return [_log(i, run) for i in range(120)] + [{"id": "bad", "start_time": "yesterday"}, _log(3, run)]  # refused, repeat


@pytest.fixture()
def workspace(database):  # noqa: ANN001, ANN201
    """A workspace with the redaction policy above, a term list and a prompt with a `production` label."""
    def make(policy: bool = True) -> keys.Principal:
        with database.write() as s:
            ws, _ = keys.ensure_workspace(s, f"ws-{uuid.uuid4().hex[:10]}")
        p = keys.system_principal(ws, actor="tester")
        if not policy:  # the default policy: no keyed hashes, so two workspaces store the same
            return p
        with database.write() as s:
            redaction.set_policy(s, p, POLICY, reason="test")
            redaction.add_terms(s, p, ["花子"])
            versions.publish_by_name(s, p, name="reply", labels=["production"], spec={
                "messages": [{"role": "user", "content": "{patient}: {q}"}], "commit_message": "first"})
        return p
    return make


def _stored(database, p, run: str = "") -> list[dict]:  # noqa: ANN001
    """The logs of one run (metadata.run; all without one), as read back, without what differs by run."""
    with database.read() as s:
        items = request_reads.browse(s, p, node=query.parse(f'metadata.run = "{run}"') if run else None, limit=500,
                                     full=True)["items"]
    drop = {"id", "number", "received_at", "url", "client_id", "metadata"}
    return sorted(({k: v for k, v in item.items() if k not in drop} | {"metadata": {
        k: v for k, v in item["metadata"].items() if k != "run"}} for item in items),
        key=lambda i: json.dumps(i, sort_keys=True, default=str, ensure_ascii=False))


def _found(database, p, text: str, run: str) -> int:  # noqa: ANN001
    with database.read() as s:
        return len(request_reads.browse(s, p, node=query.parse(f'{text} AND metadata.run = "{run}"'), limit=500)["items"])


def test_a_worker_runs_the_job_in_another_process():
    assert ingest_workers.run(2, os.getpid, size=ingest_workers.SMALL_BYTES) != os.getpid()
    assert ingest_workers.run(2, os.getpid, size=ingest_workers.SMALL_BYTES - 1) == os.getpid()  # small: here
    assert ingest_workers.run(0, os.getpid, size=10**9) == os.getpid()


def test_a_batch_prepared_in_a_worker_is_stored_as_one_prepared_in_the_server(app, database, workspace,
                                                                             caplog):  # noqa: ANN001
    from fastapi.testclient import TestClient

    p = workspace()  # one workspace: its keyed hashes are the same for both runs
    body = json.dumps({"requests": _batch("api")}, ensure_ascii=False).encode()
    assert len(body) > ingest_workers.SMALL_BYTES
    with TestClient(app) as client:
        answer = client.post("/api/v1/requests", content=body, headers={
            "Authorization": f"Bearer {make_key(database, p)}", "content-type": "application/json"})
    assert answer.status_code == 200, answer.text
    with database.write() as s:
        expected = request_ingest.ingest(s, p, _batch("here"), max_batch=1000)
    got = answer.json()
    assert json.dumps(got).replace("api-", "here-") == json.dumps(expected)
    assert got["accepted"] == 120 and got["duplicates"] == 1 and [e["index"] for e in got["errors"]] == [120]
    assert "ingest worker failed" not in caplog.text
    stored = _stored(database, p, "api")
    assert stored == _stored(database, p, "here") and len(stored) == 120
    flat = json.dumps(stored, ensure_ascii=False, default=str)
    assert "山田花子" not in flat and "ロキソプロフェン" not in flat and "090-1000-5678" not in flat  # redacted
    assert "[電話番号:" in flat and "[drug]" in flat  # the keyed hash and the custom pattern
    for text in ('text ~ "お薬手帳"', 'text ~ "食後"', 'metadata.user_id = "u3"', "score.helpful >= 50"):
        assert _found(database, p, text, "api") == _found(database, p, text, "here") > 0


def test_a_batchs_own_errors_come_back_from_the_worker_as_the_same_answers(app, database, principal):  # noqa: ANN001
    from fastapi.testclient import TestClient

    key = make_key(database, principal)
    too_many = json.dumps({"requests": [{"id": f"x{i}", "input": "x" * 60} for i in range(1001)]}).encode()
    deep = b'{"requests": [{"input": ' + b"[" * 70 + b"]" * 70 + b', "pad": "' + b"x" * 40_000 + b'"}]}'
    not_json = b'{"requests": [' + b'{"id": "a"},' * 5000 + b"]"
    headers = {"Authorization": f"Bearer {key}", "content-type": "application/json", "accept-language": "ja"}
    with TestClient(app) as client:
        many = client.post("/api/v1/requests", content=too_many, headers=headers)
        nested = client.post("/api/v1/requests", content=deep, headers=headers)
        broken = client.post("/api/v1/requests", content=not_json, headers=headers)
    assert many.status_code == 422 and many.json()["error"]["key"] == "errors.requests.requests_batch_may_hold"
    assert "1000" in many.json()["error"]["message"] and "バッチ" in many.json()["error"]["message"]
    # The guard's own answer (its shape, in the caller's language), though a worker found it.
    assert nested.status_code == 422 and nested.json()["success"] is False
    assert nested.json()["error"]["code"] == "invalid_input" and "64" in nested.json()["message"]
    assert broken.status_code == 422 and broken.json()["error"]["details"][0]["type"] == "json_invalid"


def test_errors_cross_processes_with_their_key_and_fields():
    for error in (TooLarge("errors.traces.batch_may_hold_most", max_batch=3, n=5),
                  LogError("id", "errors.requests.string_1_64_characters"), InvalidInput("plain text")):
        back = pickle.loads(pickle.dumps(error))
        assert type(back) is type(error) and back.__dict__ == error.__dict__ and str(back) == str(error)
        assert back.text("ja") == error.text("ja")


def _dies_in_a_worker(parent: int) -> str:
    if os.getpid() != parent:
        os._exit(1)
    return "prepared here"


def test_a_worker_that_dies_costs_only_time(caplog):  # noqa: ANN001
    assert ingest_workers.run(2, _dies_in_a_worker, os.getpid(), size=10**6) == "prepared here"
    assert "ingest worker failed" in caplog.text
    assert ingest_workers.run(2, os.getpid, size=10**6) != os.getpid()  # the pool goes on


def test_otlp_spans_prepared_in_a_worker_are_stored_as_in_the_server(app, database, workspace):  # noqa: ANN001
    from fastapi.testclient import TestClient

    from tests.test_otlp import protobuf, rag, recorded

    spans = [span for i in range(60) for span in recorded(lambda tracer, i=i: rag(tracer, attributes={
        "gen_ai.prompt.1.content": f"山田花子です。ロキソプロフェンの飲み方を教えて。090-{1000 + i}-5678", "user.id": f"u{i}"}))]
    body = protobuf(spans)
    assert len(body) > ingest_workers.SMALL_BYTES
    by_api, in_process = workspace(policy=False), workspace(policy=False)
    with TestClient(app) as client:
        answer = client.post("/v1/traces", content=body, headers={
            "X-API-KEY": make_key(database, by_api), "content-type": "application/x-protobuf"})
    assert answer.status_code == 200, answer.text
    assert not ExportTraceServiceResponse.FromString(answer.content).HasField("partial_success")
    with database.write() as s:
        otlp_ingest.ingest(s, in_process, otlp.decode(body, otlp.PROTOBUF, max_values=10**6), max_batch=1000)
    stored = _stored(database, by_api)
    assert stored == _stored(database, in_process) and len(stored) == 60
    flat = json.dumps(stored, ensure_ascii=False, default=str)
    assert "090-1000-5678" not in flat and "[電話番号]" in flat  # redacted in the worker
    drop = {"id", "request", "request_id", "number", "request_number"}
    for trace_id in {format(span.context.trace_id, "032x") for span in spans}:
        with database.read() as s:
            both = [[{k: v for k, v in span.items() if k not in drop} for span in traces.get(s, p, trace_id)["spans"]]
                    for p in (by_api, in_process)]
        assert both[0] == both[1] and len(both[0]) == 3
        assert not re.search(r"090-\d{4}-5678", json.dumps(both[0], default=str))  # not "090-" alone: a random uuid may hold it
