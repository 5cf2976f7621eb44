"""Provider connections (/api/v1/providers), their secrets at rest, the outbound rules and one chat
completion through them (services/llm_calls.py) against the fake provider, on both databases."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import text

from promptyard.domain import costs
from promptyard.errors import Conflict, InvalidInput, Upstream
from promptyard.services import llm_calls, outbound, providers
from tests.conftest import make_key

SECRET = "sk-test-" + "Q7mZ" * 6 + "tail9"


def _create(api, **kw):  # noqa: ANN001, ANN003, ANN202
    body = {"name": f"p-{uuid.uuid4().hex[:6]}", "kind": "openai", "default_model": "gpt-4o-mini", **kw}
    answer = api.post("/api/v1/providers", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def _fast(session, **kw) -> None:  # noqa: ANN001
    """This session's calls retry quickly (the tests' waits stay short)."""
    session.info["outbound"] = outbound.Policy(backoff_s=0.01, **kw)


# ------------------------------------------------------------------------------------- API and secrets


def test_secret_is_never_returned_logged_or_stored_in_clear(api, database, fake_llm, caplog):
    caplog.set_level(logging.DEBUG)
    fake_llm.requests.clear()
    made = _create(api, base_url=fake_llm.openai_base_url, secret=SECRET)
    assert made["has_secret"] is True and made["secret_hint"] == SECRET[-4:]
    answers = [api.get("/api/v1/providers"), api.get(f"/api/v1/providers/{made['id']}"),
               api.patch(f"/api/v1/providers/{made['id']}", json={"default_model": "gpt-4o"}),
               api.get("/api/v1/audit")]
    with database.read() as s:
        answer = llm_calls.complete(s, made["id"], messages=[{"role": "user", "content": "hello there"}])
    assert answer.text == "echo: hello there"
    assert fake_llm.requests[-1].headers["authorization"] == f"Bearer {SECRET}"  # it was used ...
    for a in answers:  # ... and never shown
        assert a.status_code in (200, 404) and SECRET not in a.text and SECRET[:-4] not in a.text
    assert SECRET not in caplog.text and SECRET[:-4] not in caplog.text
    with database.read() as s:
        stored = [str(r) for r in s.execute(text("SELECT * FROM provider_connections"))]
        stored += [str(r) for r in s.execute(text("SELECT * FROM audit_events"))]
    assert stored and not any(SECRET[:-4] in row for row in stored)
    if database.kind == "sqlite":
        path = database.url.removeprefix("sqlite:///")
        for suffix in ("", "-wal"):
            try:
                with open(path + suffix, "rb") as f:
                    assert SECRET[:-4].encode() not in f.read()
            except FileNotFoundError:
                pass


def test_changing_the_base_url_needs_the_secret_again(api, fake_llm):
    made = _create(api, base_url=fake_llm.openai_base_url, secret=SECRET)
    path = f"/api/v1/providers/{made['id']}"
    moved = api.patch(path, json={"base_url": "http://127.0.0.1:9/v1"})
    assert moved.status_code == 409 and "secret again" in moved.json()["error"]["message"]
    assert api.get(path).json()["base_url"] == fake_llm.openai_base_url  # nothing half-changed
    moved = api.patch(path, json={"base_url": "http://127.0.0.1:9/v1", "secret": "sk-other-secret-value"})
    assert moved.status_code == 200 and moved.json()["secret_hint"] == "alue"
    # Without a secret there is nothing to take along: the URL may change alone.
    bare = _create(api, base_url=fake_llm.openai_base_url)
    assert api.patch(f"/api/v1/providers/{bare['id']}", json={"base_url": "http://127.0.0.1:9/v1"}).status_code == 200
    assert api.delete(f"/api/v1/providers/{bare['id']}").status_code == 204
    assert api.get(f"/api/v1/providers/{bare['id']}").status_code == 404
    actions = [e["action"] for e in api.get("/api/v1/audit", params={"object_type": "provider"}).json()["items"]]
    assert {"provider.create", "provider.update", "provider.delete"} <= set(actions)


def test_providers_are_for_admins_only(app, api, database, principal):
    from fastapi.testclient import TestClient

    editor = TestClient(app)
    editor.headers["Authorization"] = f"Bearer {make_key(database, principal, scopes=('read', 'write', 'ingest'))}"
    assert editor.get("/api/v1/providers").status_code == 403
    assert editor.post("/api/v1/providers", json={"name": "x", "kind": "openai"}).status_code == 403


@pytest.mark.parametrize("body, status, words", [
    ({"kind": "openai", "base_url": "file:///etc/passwd"}, 422, "http and https"),
    ({"kind": "openai", "base_url": "gopher://127.0.0.1/"}, 422, "http and https"),
    ({"kind": "openai", "base_url": "http://169.254.169.254/latest"}, 422, "metadata"),
    ({"kind": "openai", "base_url": "http://[fd00:ec2::254]/"}, 422, "metadata"),
    ({"kind": "openai", "base_url": "http://100.100.100.200/"}, 422, "metadata"),
    ({"kind": "openai", "base_url": "http://metadata.google.internal/computeMetadata/v1"}, 422, "metadata"),
    ({"kind": "openai", "base_url": "http://169.254.10.20:8080/v1"}, 422, "link-local"),
    ({"kind": "openai", "base_url": "http://[fe80::1]/v1"}, 422, "link-local"),
    ({"kind": "openai", "base_url": "http://[::ffff:169.254.169.254]/"}, 422, "metadata"),
    ({"kind": "openai", "base_url": "http://0.0.0.0:8700/"}, 422, "not an address"),
    ({"kind": "openai", "base_url": "http://user:pw@127.0.0.1/v1"}, 422, "password"),
    ({"kind": "openai", "base_url": "not a url"}, 422, "http"),
    ({"kind": "bard"}, 422, "kind"),
    ({"kind": "openai", "headers": {"Authorization": "Bearer x"}}, 422, "secret field"),
    ({"kind": "openai", "headers": {"X-Bad\nName": "v"}}, 422, "header"),
    ({"kind": "openai", "headers": {"X-Org": "a\r\nInjected: 1"}}, 422, "one line"),
])
def test_bad_connections_are_refused_with_the_reason(api, body, status, words):
    answer = api.post("/api/v1/providers", json={"name": f"bad-{uuid.uuid4().hex[:6]}", **body})
    assert answer.status_code == status, answer.text
    assert words in answer.json()["error"]["message"]


def test_names_are_unique_per_workspace(api):
    made = _create(api)
    again = api.post("/api/v1/providers", json={"name": made["name"], "kind": "anthropic"})
    assert again.status_code == 409 and made["name"] in again.json()["error"]["message"]
    assert made["base_url"] == "https://api.openai.com/v1"


# ------------------------------------------------------------------------------------- outbound rules


def _resolver(table: dict[str, list[str]]):  # noqa: ANN202
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError("unknown host")
        return table[host]
    return resolve


def test_allowlist_hosts_and_cidrs_and_refused_addresses_win():
    names = {"api.example.com": ["10.0.0.7"], "rebind.example.com": ["127.0.0.1", "169.254.169.254"],
             "elsewhere.org": ["10.9.9.9"], "public.org": ["93.184.216.34"]}
    policy = outbound.Policy(allow=outbound.parse_allow("*.example.com, 10.0.0.0/8 ,127.0.0.1"),
                             resolver=_resolver(names))
    assert outbound.check("https://api.example.com/v1", policy).addresses == ("10.0.0.7",)
    assert outbound.check("http://10.1.2.3:8000/v1", policy).port == 8000
    assert outbound.check("http://elsewhere.org/", policy).host == "elsewhere.org"  # its address is allowed
    with pytest.raises(InvalidInput, match="metadata"):  # allowlisted name, forbidden address: refused
        outbound.check("https://rebind.example.com/", policy)
    with pytest.raises(InvalidInput, match="OUTBOUND_ALLOW"):
        outbound.check("https://public.org/", policy)
    with pytest.raises(InvalidInput, match="OUTBOUND_ALLOW"):
        outbound.check("http://192.168.1.1/", policy)
    open_policy = outbound.Policy(resolver=_resolver(names))
    assert outbound.check("https://public.org/", open_policy)  # empty allowlist: any host not refused
    assert outbound.check("http://192.168.1.1/", open_policy)  # private addresses are allowed
    with pytest.raises(SystemExit):
        outbound.parse_allow("exa mple.com")


def test_the_servers_own_port_on_loopback_is_refused(database, principal):
    with database.write() as s:
        s.info["outbound"] = outbound.Policy(own_port=8700)
        with pytest.raises(InvalidInput, match="this Promptyard server"):
            providers.create(s, principal, name="self", kind="openai", base_url="http://127.0.0.1:8700/api/v1")
        with pytest.raises(InvalidInput, match="this Promptyard server"):
            providers.create(s, principal, name="self", kind="openai", base_url="http://localhost:8700/")
        assert providers.create(s, principal, name="other-port", kind="openai", base_url="http://127.0.0.1:8701/v1")


def test_the_rules_hold_at_every_connection_not_only_at_create(database, principal, fake_llm):
    """DNS rebinding: the name passed at create, then resolves to the metadata address."""
    names = {"llm.test": ["127.0.0.1"]}
    with database.write() as s:
        _fast(s, resolver=_resolver(names))
        made = providers.create(s, principal, name="rebind", kind="openai",
                                base_url=f"http://llm.test:{fake_llm.port}/v1", default_model="m")
    with database.read() as s:
        _fast(s, resolver=_resolver(names))
        target = llm_calls.connection(s, made.id)
    assert llm_calls.complete(target, messages=[{"role": "user", "content": "ok"}]).text == "echo: ok"
    names["llm.test"] = ["169.254.169.254"]
    outbound.client.cache_clear()  # a new connection, not the kept-alive one
    with pytest.raises(InvalidInput, match="metadata"):
        llm_calls.complete(target, messages=[{"role": "user", "content": "ok"}])


class _Scripted(BaseHTTPRequestHandler):
    """Answers from a script of (status, headers) in order, then 200 {"ok": true}."""

    script: list[tuple[int, dict[str, str]]] = []
    seen: list[float] = []

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).seen.append(time.monotonic())
        status, headers = type(self).script.pop(0) if type(self).script else (200, {})
        body = b'{"ok": true}'
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass


@pytest.fixture()
def scripted():  # noqa: ANN201
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Scripted.script, _Scripted.seen = [], []
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.one_database
def test_retry_after_is_honoured_and_redirects_are_not_followed(scripted):
    url = f"http://127.0.0.1:{scripted.server_address[1]}/hook"
    policy = outbound.Policy(backoff_s=0.01)
    _Scripted.script = [(503, {"Retry-After": "1"}), (429, {})]
    answer = outbound.send(policy, "POST", url, content=b"{}")
    assert answer.status_code == 200 and len(_Scripted.seen) == 3
    assert _Scripted.seen[1] - _Scripted.seen[0] >= 0.95  # waited as told
    _Scripted.script = [(302, {"Location": "http://169.254.169.254/latest/meta-data"})]
    with pytest.raises(Upstream, match="redirect"):
        outbound.send(policy, "POST", url, content=b"{}")
    _Scripted.script, _Scripted.seen = [(500, {})] * 5, []
    assert outbound.send(policy.with_(retries=2), "POST", url, content=b"{}").status_code == 500
    assert len(_Scripted.seen) == 3  # one call and two retries, then the last answer
    with pytest.raises(Upstream, match="could not be reached"):
        outbound.send(policy.with_(retries=1), "POST", "http://127.0.0.1:9/", content=b"{}")


# ------------------------------------------------------------------------------------- completions


def _connection(database, principal, fake_llm, kind: str, **kw):  # noqa: ANN001, ANN003, ANN202
    url = fake_llm.openai_base_url if kind == "openai" else fake_llm.anthropic_base_url
    with database.write() as s:
        return providers.create(s, principal, name=f"{kind}-{uuid.uuid4().hex[:6]}", kind=kind, base_url=url,
                                secret=SECRET, **kw)


@pytest.mark.parametrize("kind, model", [("openai", "gpt-4o-mini"), ("anthropic", "claude-3-5-haiku")])
def test_a_completion_through_each_kind(database, principal, fake_llm, kind, model):
    made = _connection(database, principal, fake_llm, kind, default_model=model)
    fake_llm.requests.clear()
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "what is aspirin"}]
    with database.read() as s:
        answer = llm_calls.complete(s, made.id, messages=messages, params={"temperature": 0, "max_tokens": 50})
    assert answer.text == "echo: what is aspirin" and answer.raw_status == 200 and answer.model == model
    assert (answer.input_tokens, answer.output_tokens) == (5, 4)  # the system text counts on both kinds
    assert answer.cost == pytest.approx(costs.cost(model, 5, 4)) and answer.cost > 0
    assert answer.messages == [*messages, {"role": "assistant", "content": "echo: what is aspirin"}]
    assert answer.latency_ms > 0
    sent = fake_llm.requests[-1]
    if kind == "anthropic":
        assert sent.path == "/v1/messages" and sent.body["system"] == "Be brief."
        assert sent.headers["x-api-key"] == SECRET and sent.headers["anthropic-version"]
        assert [m["role"] for m in sent.body["messages"]] == ["user"]
    else:
        assert sent.path == "/v1/chat/completions" and sent.body["temperature"] == 0
        assert len(sent.body["messages"]) == 2


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
@pytest.mark.parametrize("status", [429, 500])
def test_a_429_or_500_then_success_is_retried(database, principal, fake_llm, kind, status):
    made = _connection(database, principal, fake_llm, kind)
    model = f"flaky-{status}-2-{uuid.uuid4().hex[:8]}"
    fake_llm.requests.clear()
    with database.read() as s:
        _fast(s)
        answer = llm_calls.complete(s, made.id, model=model, messages=[{"role": "user", "content": "again"}])
    assert answer.text == "echo: again"
    assert len([r for r in fake_llm.requests if r.body and r.body.get("model") == model]) == 3


def test_errors_and_timeouts_are_clear_and_carry_no_secret(database, principal, fake_llm):
    made = _connection(database, principal, fake_llm, "openai", default_model="slow-3000",
                       headers={"X-Team": "pharmacy"})
    with database.read() as s:
        _fast(s, retries=1)
        target = llm_calls.connection(s, made.id)
    started = time.monotonic()
    with pytest.raises(Upstream, match="did not answer in time"):
        llm_calls.complete(target, messages=[{"role": "user", "content": "x"}], timeout_s=0.5)
    assert time.monotonic() - started < 2
    with pytest.raises(Upstream) as failed:
        llm_calls.complete(target, model="fail-401", messages=[{"role": "user", "content": "x"}])
    assert failed.value.upstream_status == 401 and "401" in failed.value.message
    assert SECRET not in failed.value.message and SECRET not in repr(target)
    assert fake_llm.requests[-1].headers["x-team"] == "pharmacy"
    with pytest.raises(InvalidInput, match="role"):
        llm_calls.complete(target, messages=[{"content": "no role"}])
    with pytest.raises(InvalidInput, match="model"):
        llm_calls.complete(target, messages=[{"role": "user", "content": "x"}], params={"model": "other"})


def test_a_name_that_does_not_resolve_is_kept_and_fails_clearly_at_the_call(database, principal):
    with database.write() as s:
        made = providers.create(s, principal, name="offline", kind="openai", base_url="http://no-such-host.invalid/v1",
                                default_model="m")
    with database.read() as s:
        with pytest.raises(Upstream, match="does not resolve"):
            llm_calls.complete(s, made.id, messages=[{"role": "user", "content": "x"}])


def test_an_unreadable_secret_is_a_clear_conflict(database, principal, fake_llm):
    made = _connection(database, principal, fake_llm, "openai", default_model="m")
    with database.read() as s:
        s.info["secret"] = b"another server secret"
        with pytest.raises(Conflict, match="cannot be decrypted"):
            llm_calls.connection(s, made.id)
