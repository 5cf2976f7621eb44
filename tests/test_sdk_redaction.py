"""SDK-side redaction (issue 13): `Promptyard(..., redact=...)` redacts before a log is queued, so the
bytes on the wire and in the disk spool never hold the original values; and the shared vectors
(tests/vectors/redaction.json) are what the server's code gives now, for the JS port to reproduce."""

from __future__ import annotations

import json
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import openai
import pytest

from promptyard import Promptyard, wrap
from promptyard.domain import redaction_policy as rp
from tests.fakes.llm import run_fake_llm
from tests.sdk_support import Hanging, Recorder, closed_port_url
from tests.servers import start_server
from tests.support import publish
from tests.vectors import make_redaction_vectors

pytestmark = pytest.mark.one_database  # the storage is not the subject: SQLite only

FAST = dict(flush_interval=0.05, timeout=2.0, watch_changes=False, handle_signals=False)
# Personal data of every kind the SDK sends, and the words around them that must survive.
PHONE, NAME, MY_NUMBER, EMAIL = "090-1234-5678", "山田太郎", "1234 5678 9018", "taro.yamada@example.com"
ORIGINALS = (PHONE, NAME, MY_NUMBER, EMAIL, "山田", "1234-5678", "5678 9018", "taro.yamada")


def assert_no_original(raw: bytes) -> None:
    text = raw.decode("utf-8")
    leaked = [o for o in ORIGINALS if o in text or json.dumps(o)[1:-1] in text]
    assert not leaked, f"{leaked} in {text[:2000]}"


@pytest.fixture()
def recorder(live):  # noqa: ANN001, ANN201
    r = Recorder(live.url)
    yield r
    r.stop()


def sensitive_log(py: Promptyard, **extra: Any) -> str:
    """One log with personal data in every free-text field the SDK sends, and a score and metadata after it."""
    rid = py.log(provider="openai", model="gpt-4o-mini",
                 input={"messages": [{"role": "user", "content": f"{NAME}様の電話は{PHONE}です"}],
                        "temperature": 0, "extra": ("tuple", f"マイナンバー {MY_NUMBER}")},
                 output={"role": "assistant", "content": f"{NAME}様、{EMAIL} にお送りします。60mg 1日3回"},
                 tags=["web", f"tel:{PHONE}"], metadata={"patient": f"{NAME}様", "store": "s1"},
                 error=ValueError(f"could not reach {PHONE}"), scores=[{"name": "ok", "value": 80,
                                                                     "comment": f"{NAME}様に確認"}],
                 prompt={"name": "p", "version": 1, "variables": {"who": f"{NAME}様", "n": 3}},
                 routing={"label": "production", "rule": "split", "unit": EMAIL}, **extra)
    py.score(rid, "helpful", 90, comment=f"{NAME}様 {PHONE} に折り返し済み")
    py.metadata(rid, {"callback": PHONE, "reviewer": "薬剤師A"})
    return rid


# --- the shared vectors ----------------------------------------------------------------------------------------

def test_vectors_file_is_what_the_python_code_gives_now() -> None:
    # Stale after a detector change: run tests/vectors/make_redaction_vectors.py again (the JS tests then say
    # whether the port still agrees).
    path = make_redaction_vectors.OUT
    assert path.read_text(encoding="utf-8") == make_redaction_vectors.render(make_redaction_vectors.vectors())


def test_vectors_cover_the_corpus_the_edge_cases_and_every_kind() -> None:
    data = json.loads(make_redaction_vectors.OUT.read_text(encoding="utf-8"))
    texts = {v["text"] for v in data["vectors"]}
    assert set(make_redaction_vectors.corpus_texts()) <= texts
    assert "" in texts and any("𠮷" in t for t in texts) and any("㍼" in t for t in texts)
    assert {s[2] for v in data["vectors"] for s in v["spans"]} == set(data["kinds"])
    assert data["placeholders"] == rp.PLACEHOLDERS
    assert max(len(t) for t in texts) > 10_000  # the long text: the corpus joined


# --- the Python SDK ----------------------------------------------------------------------------------------------

def test_off_by_default_the_sdk_sends_what_it_is_given(recorder, live) -> None:  # noqa: ANN001
    py = Promptyard(recorder.url, live.api_key, **FAST)
    py.log(output=f"call {PHONE}")
    assert py.flush(10)
    assert any(PHONE.encode() in body for _, body in recorder.bodies)
    py.shutdown()


def test_nothing_original_on_the_wire_and_the_server_stores_the_redacted_log(recorder, live) -> None:  # noqa: ANN001
    py = Promptyard(recorder.url, live.api_key, redact=True, **FAST)
    rid = sensitive_log(py)
    assert py.flush(10)
    paths = {path for path, _ in recorder.bodies}
    assert {"/api/v1/requests", "/api/v1/scores", "/api/v1/requests/metadata"} <= paths
    for _, body in recorder.bodies:
        assert_no_original(body)
    stored = live.http.get(f"/api/v1/requests/{rid}").json()
    assert_no_original(json.dumps(stored, ensure_ascii=False).encode())
    assert stored["input"]["messages"][0]["content"] == "[氏名]様の電話は[電話番号]です"
    assert stored["input"]["extra"] == ["tuple", "マイナンバー [マイナンバー]"]  # a tuple is data too
    assert stored["output"]["content"] == "[氏名]様、[メールアドレス] にお送りします。60mg 1日3回"  # the dose stays
    assert stored["metadata"] == {"patient": "[氏名]様", "store": "s1", "callback": "[電話番号]", "reviewer": "薬剤師A"}
    assert sorted(stored["tags"]) == ["tel:[電話番号]", "web"]
    assert {s["name"]: s.get("comment") for s in stored["scores"]} == {"ok": "[氏名]様に確認",
                                                                      "helpful": "[氏名]様 [電話番号] に折り返し済み"}
    [sent] = [json.loads(b)["requests"][0] for p, b in recorder.bodies if p == "/api/v1/requests"]
    assert sent["error"] == {"type": "ValueError", "message": "could not reach [電話番号]"}
    assert sent["prompt"]["variables"] == {"who": "[氏名]様", "n": 3}
    assert sent["routing"]["unit"] == "[メールアドレス]"
    py.shutdown()


@pytest.fixture(scope="module")
def unredacting(tmp_path_factory):  # noqa: ANN001, ANN201
    """A live server whose workspace has server-side redaction turned off: what it stores is what it got."""
    server = start_server(tmp_path_factory.mktemp("plain"))
    r = server.http.patch("/api/v1/privacy/redaction", json={"enabled": False, "reason": "SDK redaction test"})
    assert r.status_code == 200, r.text
    yield server
    server.stop()


def test_with_the_server_policy_off_the_stored_rows_hold_only_what_the_sdk_left(unredacting) -> None:  # noqa: ANN001
    plain = Promptyard(unredacting.url, unredacting.api_key, **FAST)
    control = plain.log(output=f"{NAME}様 {PHONE}")
    py = Promptyard(unredacting.url, unredacting.api_key, redact=True, **FAST)
    rid = sensitive_log(py)
    assert plain.flush(10) and py.flush(10)
    assert unredacting.http.get(f"/api/v1/requests/{control}").json()["output"] == f"{NAME}様 {PHONE}"
    stored = unredacting.http.get(f"/api/v1/requests/{rid}").json()
    assert_no_original(json.dumps(stored, ensure_ascii=False).encode())
    assert stored["output"]["content"] == "[氏名]様、[メールアドレス] にお送りします。60mg 1日3回"
    assert stored["metadata"]["callback"] == "[電話番号]"
    plain.shutdown()
    py.shutdown()


def test_the_spool_never_holds_the_original(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    py = Promptyard(closed_port_url(), "key", redact=True, spool_dir=spool, **FAST)
    sensitive_log(py)
    result = py.shutdown(2)
    assert result.spooled == 3 and result.dropped == 0
    files = [p for p in spool.iterdir() if p.is_file()]
    assert files
    raw = b"".join(p.read_bytes() for p in files)
    assert_no_original(raw)
    assert "[電話番号]".encode() in raw and "[氏名]".encode() in raw


def test_what_shutdown_spools_from_the_queue_is_redacted_too(tmp_path: Path) -> None:
    # A server that never answers: the sender hangs on the first batch; the logs queued behind it are
    # written to the spool by shutdown itself, without the sender ever having seen them.
    hanging = Hanging()
    spool = tmp_path / "spool"
    py = Promptyard(hanging.url, "key", redact=True, spool_dir=spool, **(FAST | {"timeout": 30.0}))
    py.log(output=f"first {PHONE}")
    deadline = time.monotonic() + 10
    while py.batcher._inflight is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert py.batcher._inflight is not None
    for _ in range(5):
        sensitive_log(py)
    assert py.shutdown(0.5).spooled == 16
    raw = b"".join(p.read_bytes() for p in spool.iterdir() if p.is_file())
    assert_no_original(raw)
    assert raw.count("[電話番号]".encode()) >= 16
    hanging.close()


def test_policy_operators_and_a_keyed_hash(recorder, live) -> None:  # noqa: ANN001
    policy = {"detectors": {"phone": {"operator": "hash"}, "person_name": {"operator": "mask"},
                            "email": {"operator": "drop"}, "my_number": {"on": False}}}
    py = Promptyard(recorder.url, live.api_key, redact=policy, redaction_key="app-secret", **FAST)
    a = py.log(output=f"{NAME}様 {PHONE} {EMAIL} {MY_NUMBER}")
    b = py.log(output=f"電話 {PHONE.replace('-', '')}")
    assert py.flush(10)
    sent = {log["id"]: log["output"] for p, body in recorder.bodies if p == "/api/v1/requests"
            for log in json.loads(body)["requests"]}  # as sent: the server's own policy redacts what we left
    out_a, out_b = sent[a], sent[b]
    digest = out_a.split()[1]
    assert out_a == f"****様 {digest}  {MY_NUMBER}" and digest.startswith("[電話番号:") and len(digest) == 17
    assert out_b == f"電話 {digest}"  # the same number, written differently, groups under the same hash
    other = Promptyard(recorder.url, live.api_key, redact=policy, redaction_key="another", **FAST)
    assert other.redactor.log({"output": PHONE})["output"] != digest
    py.shutdown()
    other.shutdown()


@pytest.mark.parametrize("redact, key, message", [
    ({"detectors": {"phone": {"operator": "hash"}}}, None, "the hash operator needs a key"),
    ({"detectors": {"shoe_size": {}}}, None, "detectors: unknown kind 'shoe_size'"),
    ({"detectors": {"phone": {"operator": "blur"}}}, None, "detectors.phone.operator: must be one of"),
    ({"enabled": "yes"}, None, "enabled: must be true or false"),
    ("yes", None, "redact must be True (the default policy) or a policy object"),
])
def test_a_bad_policy_is_refused_when_the_client_is_made(redact, key, message) -> None:  # noqa: ANN001
    with pytest.raises((ValueError, TypeError), match=re.escape(message)):
        Promptyard("http://127.0.0.1:9", "k", redact=redact, redaction_key=key, **FAST)


def test_custom_patterns_work_and_say_what_they_need_without_regex(monkeypatch) -> None:  # noqa: ANN001
    policy = {"custom": [{"name": "rx_no", "pattern": "RX-[0-9]{4}"}]}
    py = Promptyard("http://127.0.0.1:9", "k", redact=policy, **FAST)
    assert py.redactor.log({"output": "処方 RX-1234 田中様"})["output"] == "処方 [rx_no] [氏名]様"
    py.shutdown(0)
    monkeypatch.setitem(sys.modules, "regex", None)  # an SDK-only install: no `regex`
    with pytest.raises(ValueError, match="custom redaction patterns need the 'regex' package"):
        Promptyard("http://127.0.0.1:9", "k", redact=policy, **FAST)


def test_the_callers_values_are_not_changed(recorder, live) -> None:  # noqa: ANN001
    messages = [{"role": "user", "content": f"電話 {PHONE}"}]
    py = Promptyard(recorder.url, live.api_key, redact=True, **FAST)
    py.log(input={"messages": messages}, tags=["a"])
    assert py.flush(10)
    assert messages == [{"role": "user", "content": f"電話 {PHONE}"}]
    py.shutdown()


def test_wrapped_provider_gets_the_original_and_the_log_is_redacted(recorder, live) -> None:  # noqa: ANN001
    name = f"red-{uuid.uuid4().hex[:8]}"
    publish(live.http, name, "Reply to {who}", labels=["production"], model={"provider": "openai", "name": "gpt-4o-mini"})
    py = Promptyard(recorder.url, live.api_key, redact=True, **FAST)
    with run_fake_llm() as llm:
        client = wrap(openai.OpenAI(base_url=llm.openai_base_url, api_key="x"), py)
        prompt = py.get(name, variables={"who": f"{NAME}様"})
        kwargs = prompt.openai_kwargs()
        kwargs["messages"].append({"role": "user", "content": f"折り返しは {PHONE} へ"})
        answer = client.chat.completions.create(**kwargs, metadata={"patient": NAME + "様"}, tags=[NAME + "様"])
        assert answer.choices[0].message.content == f"echo: 折り返しは {PHONE} へ"  # the app sees the real answer
        stream = client.chat.completions.create(**kwargs, stream=True)
        assert PHONE in "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert py.flush(10)
    logs = [b for p, b in recorder.bodies if p == "/api/v1/requests"]
    assert logs
    for body in logs:
        assert_no_original(body)
    stored = live.http.get(f"/api/v1/requests/{answer.promptyard_request_id}").json()
    assert stored["input"]["messages"][-1]["content"] == "折り返しは [電話番号] へ"
    assert stored["output"]["content"] == "echo: 折り返しは [電話番号] へ"
    assert stored["metadata"] == {"patient": "[氏名]様"} and stored["tags"] == ["[氏名]様"]
    py.shutdown()
