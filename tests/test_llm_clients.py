"""Provider calls go through the official `openai` and `anthropic` clients (services/llm_calls.py) over the
checked HTTP client of services/outbound.py, on both databases: the fake provider sees the SDKs' own
headers; 429 and 500 are retried by our loop (the SDKs' retries are off) honouring Retry-After; the
outbound rules (the server's own port, link-local, file://, redirects) still refuse; no secret of the
connection or of the server's environment reaches a log line, an error or another provider."""

from __future__ import annotations

import logging
import traceback
import uuid

import anthropic
import openai
import pytest
from sqlalchemy import update

from promptyard.errors import InvalidInput, Upstream
from promptyard.services import datasets, evaluations, llm_calls, outbound, prompts, providers, versions
from promptyard.services.evaluation_runner import Runner
from promptyard.services.render_pool import engine_for
from promptyard.settings import Settings
from promptyard.store.models import ProviderConnection
from tests.fakes.llm import REDIRECT_TARGET

SECRET = "sk-live-" + "Zq4W" * 6 + "end7"
USER = [{"role": "user", "content": "what is aspirin"}]
SDK = {"openai": f"OpenAI/Python {openai.__version__}", "anthropic": f"Anthropic/Python {anthropic.__version__}"}
KINDS = pytest.mark.parametrize("kind", ["openai", "anthropic"])


def _connection(database, principal, fake_llm, kind: str, **kw) -> int:  # noqa: ANN001, ANN003
    url = fake_llm.openai_base_url if kind == "openai" else fake_llm.anthropic_base_url
    spec = {"base_url": url, "secret": SECRET, "default_model": "gpt-4o-mini", **kw}
    with database.write() as s:
        return providers.create(s, principal, name=f"{kind}-{uuid.uuid4().hex[:6]}", kind=kind, **spec).id


def _target(database, connection_id: int, **policy) -> llm_calls.Connection:  # noqa: ANN003
    with database.read() as s:
        s.info["outbound"] = outbound.Policy(backoff_s=0.01, **policy)
        return llm_calls.connection(s, connection_id)


def _sent(fake_llm, model: str) -> list:  # noqa: ANN001
    return [r for r in fake_llm.requests if isinstance(r.body, dict) and r.body.get("model") == model]


@KINDS
def test_each_kind_is_called_by_its_official_client_over_one_kept_alive_pool(database, principal, fake_llm, kind):
    target = _target(database, _connection(database, principal, fake_llm, kind))
    model = f"m-{uuid.uuid4().hex[:8]}"
    for _ in range(3):
        assert llm_calls.complete(target, model=model, messages=USER).text == "echo: what is aspirin"
    sent = _sent(fake_llm, model)
    assert len(sent) == 3 and len({r.client_port for r in sent}) == 1  # outbound's pooled client
    for r in sent:
        assert r.headers["user-agent"] == SDK[kind] and r.headers["x-stainless-lang"] == "python"
        assert r.headers["x-stainless-package-version"] == SDK[kind].rsplit(" ", 1)[1]
        assert r.headers["x-stainless-retry-count"] == "0"
    if kind == "anthropic":
        assert sent[0].headers["x-api-key"] == SECRET and "authorization" not in sent[0].headers
        assert sent[0].headers["anthropic-version"] and sent[0].body["max_tokens"] == llm_calls.ANTHROPIC_MAX_TOKENS
    else:
        assert sent[0].headers["authorization"] == f"Bearer {SECRET}"


def test_an_azure_style_base_url_keeps_its_query_and_its_key_header(database, principal, fake_llm):
    made = _connection(database, principal, fake_llm, "openai", secret_header="api-key",
                       base_url=fake_llm.openai_base_url + "?api-version=2024-10-21", headers={"X-Team": "pharmacy"})
    model = f"azure-{uuid.uuid4().hex[:8]}"
    answer = llm_calls.complete(_target(database, made), model=model, messages=USER, params={"temperature": 0})
    assert answer.text == "echo: what is aspirin"
    (sent,) = _sent(fake_llm, model)
    assert sent.path == "/v1/chat/completions" and sent.query == "api-version=2024-10-21"
    assert sent.headers["api-key"] == SECRET and "authorization" not in sent.headers
    assert sent.headers["x-team"] == "pharmacy" and sent.body["temperature"] == 0
    assert sent.headers["user-agent"] == SDK["openai"]


@KINDS
@pytest.mark.parametrize("status", [429, 500])
def test_429_and_500_are_retried_by_our_loop_as_retry_after_says(database, principal, fake_llm, kind, status):
    target = _target(database, _connection(database, principal, fake_llm, kind))
    model = f"flaky-{status}-2-after0.4-{uuid.uuid4().hex[:8]}"
    answer = llm_calls.complete(target, model=model, messages=USER)
    assert answer.text == "echo: what is aspirin" and answer.latency_ms >= 800
    sent = _sent(fake_llm, model)
    assert len(sent) == 3 and all(r.headers["user-agent"] == SDK[kind] for r in sent)
    assert all(later.at - earlier.at >= 0.38 for earlier, later in zip(sent, sent[1:]))  # waited as told
    # Each attempt is a fresh SDK request: the SDK's own retries (x-stainless-retry-count 1, 2) never ran.
    assert [r.headers["x-stainless-retry-count"] for r in sent] == ["0", "0", "0"]


@KINDS
def test_the_deadline_wins_over_a_long_retry_after_and_the_answer_is_a_clear_error(database, principal, fake_llm,
                                                                                   kind):
    target = _target(database, _connection(database, principal, fake_llm, kind))
    model = f"flaky-429-5-after30-{uuid.uuid4().hex[:8]}"
    with pytest.raises(Upstream) as failed:
        llm_calls.complete(target, model=model, messages=USER, timeout_s=2)
    assert failed.value.upstream_status == 429 and "429" in failed.value.message
    assert "Rate limit" in failed.value.message or "rate_limit" in failed.value.message
    assert len(_sent(fake_llm, model)) == 1  # no wait past the deadline, no SDK retry either


@KINDS
def test_an_evaluation_run_calls_through_the_sdk_and_retries_500s(database, principal, fake_llm, kind):
    engine = engine_for(Settings())
    conn = _connection(database, principal, fake_llm, kind)
    model = f"flaky-500-2-{uuid.uuid4().hex[:8]}"
    with database.write() as s:
        data = datasets.create(s, principal, name=f"set-{uuid.uuid4().hex[:6]}")
        datasets.add_items(s, principal, data["id"], [{"input": {"q": f"q{i}"}, "expected": f"echo: q{i}"}
                                                      for i in range(4)])
        made = prompts.create(s, principal, name=f"p-{uuid.uuid4().hex[:6]}")
        versions.publish(s, principal, made.id, {"messages": [{"role": "user", "content": "{q}"}],
                                                 "commit_message": "v1"}, engine=engine)
        run = evaluations.create(s, principal, {"dataset": data["id"], "variants": [{"prompt": made.name}],
                                                "provider": conn, "model": model, "concurrency": 1,
                                                "scorers": [{"type": "exact_match"}]}, engine=engine)
    Runner(database, engine, workers=1).run_until_idle()
    with database.read() as s:
        done = evaluations.get(s, principal, run["id"])
    assert done["status"] == "done" and done["progress"]["done"] == 4
    sent = _sent(fake_llm, model)
    assert len(sent) == 6 and all(r.headers["user-agent"] == SDK[kind] for r in sent)  # 2 answered 500


# ------------------------------------------------------------------------------------- the outbound rules


def test_the_servers_own_port_is_refused_at_connect_through_the_sdk(database, principal, fake_llm):
    made = _connection(database, principal, fake_llm, "openai")
    model = f"self-{uuid.uuid4().hex[:8]}"
    for kind in ("openai", "anthropic"):
        with database.write() as s:
            s.execute(update(ProviderConnection).where(ProviderConnection.id == made).values(
                kind=kind, base_url=fake_llm.openai_base_url if kind == "openai" else fake_llm.anthropic_base_url))
        with pytest.raises(InvalidInput, match="this Promptyard server"):
            llm_calls.complete(_target(database, made, own_port=fake_llm.port), model=model, messages=USER)
    assert _sent(fake_llm, model) == []  # no connection was made


@KINDS
@pytest.mark.parametrize("url, words", [("http://169.254.10.20:8080/v1", "link-local"),
                                        ("http://[fe80::1]:8080/", "link-local"),
                                        ("http://169.254.169.254/latest", "metadata"),
                                        ("file:///etc/passwd", "http and https"),
                                        ("gopher://127.0.0.1:70/", "http and https")])
def test_a_stored_url_that_breaks_the_rules_is_refused_at_the_call(database, principal, fake_llm, kind, url, words):
    """A row written before a rule existed (or restored from a backup) is checked again at every call."""
    made = _connection(database, principal, fake_llm, kind)
    with database.write() as s:
        s.execute(update(ProviderConnection).where(ProviderConnection.id == made).values(base_url=url))
    with pytest.raises(InvalidInput, match=words):
        llm_calls.complete(_target(database, made), messages=USER)


@KINDS
@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirects_are_not_followed_through_the_sdk(database, principal, fake_llm, kind, status):
    target = _target(database, _connection(database, principal, fake_llm, kind))
    with pytest.raises(Upstream, match="redirects are not followed") as failed:
        llm_calls.complete(target, model=f"redirect-{status}", messages=USER)
    assert failed.value.upstream_status == status and "169.254.169.254" in failed.value.message
    assert REDIRECT_TARGET.startswith("http://169.254.169.254")


# ------------------------------------------------------------------------------------- secrets


def _chain(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc.args)


@KINDS
def test_the_secret_is_in_no_log_line_and_no_error(database, principal, fake_llm, caplog, kind):
    for name in ("", "openai", "anthropic", "httpx2", "httpcore2", "promptyard"):
        caplog.set_level(logging.DEBUG, logger=name or None)
    target = _target(database, _connection(database, principal, fake_llm, kind, default_model="slow-2000"),
                     retries=1)
    llm_calls.complete(target, model="ok", messages=USER)
    errors = []
    for model, timeout_s in (("fail-401", None), ("fail-500", None), ("fail-400", None), ("slow-2000", 0.3)):
        with pytest.raises(Upstream) as failed:
            llm_calls.complete(target, model=model, messages=USER, timeout_s=timeout_s)
        errors.append(failed.value)
    with pytest.raises(Upstream) as unreachable:
        llm_calls.complete(llm_calls.Connection(**{**target.__dict__, "base_url": "http://127.0.0.1:9/v1"}),
                           messages=USER)
    errors.append(unreachable.value)
    assert [e.upstream_status for e in errors[:3]] == [401, 500, 400]
    assert "did not answer in time" in errors[3].message and "could not be reached" in errors[4].message
    seen = caplog.text + "".join(_chain(e) for e in errors) + repr(target)
    assert "HTTP Request" in caplog.text or "Sending HTTP Request" in caplog.text  # the SDK's logs were captured
    assert SECRET not in seen and SECRET[8:-4] not in seen


@KINDS
def test_credentials_in_the_servers_environment_are_never_sent(database, principal, fake_llm, monkeypatch, kind):
    ambient = {"OPENAI_API_KEY": "sk-env-openai-key", "OPENAI_ORG_ID": "org-env", "OPENAI_PROJECT_ID": "proj-env",
               "OPENAI_ADMIN_KEY": "sk-admin-env", "OPENAI_BASE_URL": "http://169.254.169.254/v1",
               "ANTHROPIC_API_KEY": "sk-ant-env", "ANTHROPIC_AUTH_TOKEN": "tok-env",
               "ANTHROPIC_BASE_URL": "http://169.254.169.254/"}
    for name, value in ambient.items():
        monkeypatch.setenv(name, value)
    bare = _connection(database, principal, fake_llm, kind, secret=None)
    keyed = _connection(database, principal, fake_llm, kind)
    model = f"env-{uuid.uuid4().hex[:8]}"
    for made in (bare, keyed):
        assert llm_calls.complete(_target(database, made), model=model, messages=USER).text == "echo: what is aspirin"
    without, with_ = _sent(fake_llm, model)
    everything = repr([without.headers, with_.headers])
    assert not any(value in everything for value in ambient.values())
    assert not {"authorization", "x-api-key", "openai-organization", "openai-project"} & set(without.headers)
    assert SECRET in (with_.headers.get("authorization", "") + with_.headers.get("x-api-key", ""))
