"""Webhooks (/api/v1/webhooks, services/webhooks.py) against a real receiver on 127.0.0.1, on both
databases: signatures verify, a 500 is retried on the schedule, refused addresses stay refused at create
and at delivery, and an event of a rolled-back change is never sent."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select, text

from promptyard.errors import InvalidInput
from promptyard.services import outbound, versions, webhooks
from promptyard.store.db import Database
from promptyard.store.models import WebhookDelivery
from promptyard.store.types import utcnow
from tests.support import publish, unique


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        server = self.server
        with server.lock:
            server.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
            status = server.script.pop(0) if server.script else 200
        answer = b'{"thanks": true}' if status < 300 else b"receiver broke"
        self.send_response(status)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass


@pytest.fixture()
def receiver():  # noqa: ANN201
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.got, server.script, server.lock = [], [], threading.Lock()
    server.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/promptyard"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The receiver's check, as docs/webhooks.md shows it."""
    timestamp = headers["x-promptyard-timestamp"]
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["x-promptyard-signature"])


def _hook(api, url: str, **kw) -> dict:  # noqa: ANN001, ANN003
    answer = api.post("/api/v1/webhooks", json={"url": url, **kw})
    assert answer.status_code == 201, answer.text
    return answer.json()


def _deliveries(api, hook_id: int) -> list[dict]:  # noqa: ANN001
    answer = api.get(f"/api/v1/webhooks/{hook_id}/deliveries")
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def _deliver(database, hook_id: int, now=None) -> None:  # noqa: ANN001
    """What the tick does, for this webhook's due deliveries only (other tests' hooks have receivers of their own)."""
    with database.read() as s:
        ids = list(s.scalars(select(WebhookDelivery.id).where(
            WebhookDelivery.webhook_id == hook_id, WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= (now or utcnow()))))
    if ids:
        webhooks.deliver(database, ids)


def test_a_published_version_and_a_label_move_arrive_signed(api, database, receiver):
    hook = _hook(api, receiver.url, events=["version.published", "label.moved"])
    assert hook["secret"].startswith("whsec_") and len(hook["secret"]) > 30
    shown = api.get(f"/api/v1/webhooks/{hook['id']}")
    assert shown.json()["secret"] is None and hook["secret"] not in shown.text
    name = unique("hooked")
    publish(api, name, labels=["staging"])
    pending = _deliveries(api, hook["id"])
    assert sorted(d["event"] for d in pending) == ["label.moved", "version.published"]
    assert all(d["status"] == "pending" for d in pending)
    assert webhooks.deliver_due(database) >= 2  # the tick's path
    assert len(receiver.got) == 2
    for headers, body in receiver.got:
        assert verify(hook["secret"], headers, body)
        assert not verify(hook["secret"][:-1] + "x", headers, body)
        envelope = json.loads(body)
        assert headers["x-promptyard-event"] == envelope["event"] and headers["x-promptyard-delivery"] == envelope["id"]
        assert envelope["data"]["prompt"] == name
    published = next(json.loads(b) for _, b in receiver.got if json.loads(b)["event"] == "version.published")
    assert published["data"]["version"] == 1 and published["data"]["commit_message"] == "first"
    done = _deliveries(api, hook["id"])
    assert {d["status"] for d in done} == {"delivered"} and {d["last_status"] for d in done} == {200}
    assert all(d["response_excerpt"] == '{"thanks": true}' and d["attempts"] == 1 for d in done)


def test_a_500_is_retried_on_the_schedule_and_then_fails(api, database, receiver):
    hook = _hook(api, receiver.url, events=["version.published"])
    receiver.script = [500]
    publish(api, unique("retry"))
    _deliver(database, hook["id"])
    [first] = _deliveries(api, hook["id"])
    assert first["status"] == "pending" and first["attempts"] == 1 and first["last_status"] == 500
    assert first["last_error"] == "HTTP 500" and first["response_excerpt"] == "receiver broke"
    _deliver(database, hook["id"])  # not due yet: one minute later
    assert len(receiver.got) == 1
    _deliver(database, hook["id"], now=utcnow() + timedelta(minutes=2))
    [second] = _deliveries(api, hook["id"])
    assert second["status"] == "delivered" and second["attempts"] == 2 and len(receiver.got) == 2
    assert receiver.got[0][1] == receiver.got[1][1]  # the same body (and id) again
    # A receiver that keeps failing: five retries (1 min ... 12 h), then failed.
    receiver.script = [503] * 10
    publish(api, unique("retry"))
    later = utcnow()
    for step in range(8):
        later += timedelta(hours=13)
        _deliver(database, hook["id"], now=later)
    failed = _deliveries(api, hook["id"])[0]
    assert failed["status"] == "failed" and failed["attempts"] == webhooks.MAX_ATTEMPTS == 6
    assert failed["next_attempt_at"] is None and failed["last_status"] == 503


@pytest.mark.parametrize("url, words", [
    ("http://169.254.169.254/latest/meta-data", "metadata"),
    ("http://[fe80::1]:8080/", "link-local"),
    ("http://metadata.google.internal/", "metadata"),
    ("file:///etc/passwd", "http and https"),
])
def test_refused_addresses_at_create(api, url, words):
    answer = api.post("/api/v1/webhooks", json={"url": url})
    assert answer.status_code == 422 and words in answer.json()["error"]["message"]


def test_refused_addresses_at_delivery_too(database, principal, receiver):
    """An allowlisted name that resolved to loopback when the webhook was made, and to the metadata
    address when it is delivered: nothing is sent, the delivery says why."""
    names = {"hooks.example.com": ["127.0.0.1"]}

    def resolve(host: str, port: int) -> list[str]:
        return names[host]

    guarded = Database(database.url, secret=b"test", outbound=outbound.Policy(
        allow=("*.example.com",), resolver=resolve, backoff_s=0.01))
    try:
        port = receiver.server_address[1]
        with guarded.write() as s:
            hook = webhooks.create(s, principal, url=f"http://hooks.example.com:{port}/h", events=["version.published"])
            with pytest.raises(InvalidInput, match="OUTBOUND_ALLOW"):
                webhooks.create(s, principal, url=f"http://127.0.0.1:{port}/h")
        with guarded.write() as s:
            delivery = webhooks.send_test(s, principal, hook.id)
        webhooks.deliver(guarded, [delivery])
        assert len(receiver.got) == 1  # reachable while the name points at loopback
        names["hooks.example.com"] = ["169.254.169.254"]
        outbound.client.cache_clear()
        with guarded.write() as s:
            versions.publish_by_name(s, principal, name=unique("rebind"),
                                     spec={"messages": [{"role": "user", "content": "x"}], "commit_message": "c"})
        with guarded.read() as s:
            [due] = [d for d in webhooks.deliveries(s, principal, hook.id) if d.event == "version.published"]
        webhooks.deliver(guarded, [due.id])
        with guarded.read() as s:
            after = webhooks.get_delivery(s, principal, hook.id, due.id)
        assert after.status == "pending" and after.attempts == 1 and "metadata" in after.last_error
        assert len(receiver.got) == 1  # nothing more reached the receiver
    finally:
        outbound.client.cache_clear()
        guarded.dispose()


def test_an_event_of_a_rolled_back_change_is_never_sent(api, database, principal, receiver):
    hook = _hook(api, receiver.url)
    spec = {"messages": [{"role": "user", "content": "rolled back {x}"}], "commit_message": "c"}
    with pytest.raises(RuntimeError):
        with database.write() as s:
            versions.publish_by_name(s, principal, name=unique("rollback"), spec=spec)
            assert s.scalar(select(func.count()).where(WebhookDelivery.webhook_id == hook["id"])) == 1
            raise RuntimeError("the change fails after the event was recorded")
    assert _deliveries(api, hook["id"]) == []
    with database.write() as s:
        versions.publish_by_name(s, principal, name=unique("kept"), spec=spec)
    assert [d["event"] for d in _deliveries(api, hook["id"])] == ["version.published"]


def test_slack_format_test_event_redeliver_and_pause(api, database, receiver):
    hook = _hook(api, receiver.url, format="slack", events=["label.moved"])
    answer = api.post(f"/api/v1/webhooks/{hook['id']}/test")
    assert answer.status_code == 201, answer.text
    tested = answer.json()
    assert tested["event"] == "webhook.test" and tested["status"] == "delivered" and tested["last_status"] == 200
    headers, body = receiver.got[-1]
    assert set(json.loads(body)) == {"text"} and "webhook.test" in json.loads(body)["text"]
    assert verify(hook["secret"], headers, body)
    again = api.post(f"/api/v1/webhooks/{hook['id']}/deliveries/{tested['id']}/redeliver")
    assert again.status_code == 201 and again.json()["id"] != tested["id"]
    assert again.json()["payload"]["id"] == tested["payload"]["id"] and len(receiver.got) == 2
    assert api.post(f"/api/v1/webhooks/{hook['id']}/deliveries/999999/redeliver").status_code == 404
    # Paused: events are not recorded for it; rotating the secret shows the new one once.
    paused = api.patch(f"/api/v1/webhooks/{hook['id']}", json={"active": False, "rotate_secret": True})
    assert paused.status_code == 200 and paused.json()["active"] is False
    assert paused.json()["secret"] and paused.json()["secret"] != hook["secret"]
    publish(api, unique("paused"), labels=["staging"])
    assert len(_deliveries(api, hook["id"])) == 2
    actions = {e["action"] for e in api.get("/api/v1/audit", params={"object_type": "webhook"}).json()["items"]}
    assert {"webhook.create", "webhook.test", "webhook.redeliver", "webhook.update"} <= actions
    assert api.delete(f"/api/v1/webhooks/{hook['id']}").status_code == 204
    assert api.get(f"/api/v1/webhooks/{hook['id']}/deliveries").status_code == 404


def test_bad_webhooks_are_refused_and_only_admins_manage_them(app, api, database, principal):
    from fastapi.testclient import TestClient

    from tests.conftest import make_key

    assert api.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/", "events": ["nope"]}).status_code == 422
    assert api.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/", "secret": "short"}).status_code == 422
    editor = TestClient(app)
    editor.headers["Authorization"] = f"Bearer {make_key(database, principal, scopes=('read', 'write'))}"
    assert editor.get("/api/v1/webhooks").status_code == 403
    assert editor.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/"}).status_code == 403
    made = _hook(api, "http://127.0.0.1:9/", events=["*"])
    listed = api.get("/api/v1/webhooks").json()["items"]
    assert [h["id"] for h in listed if h["id"] == made["id"]] and all(h.get("secret") is None for h in listed)
    assert made["secret"] not in api.get("/api/v1/webhooks").text
    with database.read() as s:  # stored encrypted; not in the audit trail either
        stored = [str(r) for table in ("webhooks", "audit_events") for r in s.execute(text(f"SELECT * FROM {table}"))]
    assert stored and not any(made["secret"] in row for row in stored)
    assert api.patch(f"/api/v1/webhooks/{made['id']}", json={"url": "http://169.254.169.254/"}).status_code == 422


def test_experiment_started_and_ended_are_events(api, database, principal, receiver):
    from promptyard.services import experiments

    hook = _hook(api, receiver.url, events=["experiment.started", "experiment.ended"])
    name = unique("split")
    with database.write() as s:
        for i in range(2):
            spec = {"messages": [{"role": "user", "content": f"variant {i} {{x}}"}], "commit_message": "c"}
            pid = versions.publish_by_name(s, principal, name=name, spec=spec)[0].prompt_id
        experiments.set_policy(s, principal, pid, "production", reason="two-way", policy={
            "sticky_key": "user", "split": [{"version": 1, "weight": 50}, {"version": 2, "weight": 50}]})
    with database.write() as s:
        experiments.set_policy(s, principal, pid, "production", version=2, policy=None, reason="done")
    _deliver(database, hook["id"])
    events = sorted((json.loads(b) for _, b in receiver.got), key=lambda e: e["created_at"])  # sent in parallel
    assert [e["event"] for e in events] == ["experiment.started", "experiment.ended"]
    assert events[0]["data"]["label"] == "production" and events[0]["data"]["prompt_id"] == pid
    assert events[1]["data"]["experiment_id"] == events[0]["data"]["experiment_id"]


def test_a_real_server_delivers_in_its_tick_under_its_outbound_settings(tmp_path, database, receiver):
    """`promptyard serve` with PROMPTYARD_OUTBOUND_ALLOW: its tick sends the event by itself; its own
    port and hosts outside the allowlist are refused."""
    from tests.servers import start_live

    server = start_live(tmp_path, database, env={"PROMPTYARD_RAMP_TICK_S": "0.3",
                                                 "PROMPTYARD_OUTBOUND_ALLOW": "127.0.0.1"})
    try:
        http = server.http
        own = http.post("/api/v1/providers", json={"name": "self", "kind": "openai", "base_url": server.url + "/api/v1"})
        assert own.status_code == 422 and "this Promptyard server" in own.json()["error"]["message"]
        outside = http.post("/api/v1/webhooks", json={"url": "http://10.1.2.3/hook"})
        assert outside.status_code == 422 and "OUTBOUND_ALLOW" in outside.json()["error"]["message"]
        hook = http.post("/api/v1/webhooks", json={"url": receiver.url, "events": ["version.published"]})
        assert hook.status_code == 201, hook.text
        publish(http, unique("ticked"))
        deadline = time.monotonic() + 15
        while not receiver.got and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(receiver.got) == 1
        headers, body = receiver.got[0]
        assert verify(hook.json()["secret"], headers, body) and json.loads(body)["event"] == "version.published"
    finally:
        server.stop()


def test_a_stopped_ramp_is_an_event(api, database, principal, receiver):
    from promptyard.services import ramps

    hook = _hook(api, receiver.url, events=["ramp.stopped"])
    name = unique("ramped")
    with database.write() as s:
        for i in range(2):
            spec = {"messages": [{"role": "user", "content": f"variant {i} {{x}}"}], "commit_message": "c"}
            pid = versions.publish_by_name(s, principal, name=name, spec=spec, labels=["production"])[0].prompt_id
    plan = {"candidate": 2, "baseline": 1, "steps": [10, 50, 100], "interval_s": 60,
            "guard": {"metric": "q", "margin": 3.0}, "min_n": 30}
    with database.write() as s:
        ramp = ramps.start(s, principal, pid, "production", plan, reason="ramp v2")
    assert _deliveries(api, hook["id"]) == []  # starting is not stopping
    with database.write() as s:
        ramps.stop(s, principal, ramp.id, reason="pharmacists complained")
    _deliver(database, hook["id"])
    [(_, body)] = receiver.got
    event = json.loads(body)
    assert event["event"] == "ramp.stopped" and event["data"]["state"] == "stopped"
    assert event["data"]["ramp_id"] == ramp.id and event["data"]["prompt_id"] == pid
    assert event["data"]["label"] == "production" and event["data"]["reason"] == "pharmacists complained"
