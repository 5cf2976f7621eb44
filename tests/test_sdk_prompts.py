"""Promptyard.get / AsyncPromptyard.get against the live app: rendering, cache, stale-while-
revalidate, fallback, change-feed invalidation, and routing assigned locally like the server."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from promptyard import AsyncPromptyard, InvalidInput, NotFound, Promptyard, Unavailable
from tests.sdk_support import closed_port_url
from tests.servers import start_server
from tests.support import publish

pytestmark = pytest.mark.one_database  # the storage is not the subject: SQLite only


def _name() -> str:
    return f"p-{uuid.uuid4().hex[:8]}"


def _wait(check, timeout: float = 8.0) -> bool:  # noqa: ANN001
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_get_renders_and_builds_provider_arguments(live) -> None:  # noqa: ANN001
    name = _name()
    publish(live.http, name, "You help {user}.", labels=["production"],
            model={"provider": "openai", "name": "gpt-4o", "parameters": {"temperature": 0.1, "max_tokens": 50}})
    py = Promptyard(live.url, live.api_key, watch_changes=False)
    p = py.get(name, variables={"user": "Ana"})
    assert (p.version, p.label, p.model) == (1, "production", "gpt-4o")
    assert p.messages == [{"role": "system", "content": "You help Ana."}]
    kw = p.openai_kwargs()
    assert kw["messages"] == p.messages and kw["temperature"] == 0.1 and kw["model"] == "gpt-4o"
    assert kw["messages"].promptyard_prompt is p
    ak = p.anthropic_kwargs()
    assert ak["system"] == "You help Ana." and ak["messages"] == [] and ak["max_tokens"] == 50
    assert p.link() == {"name": name, "version": 1, "label": "production", "variables": {"user": "Ana"}}
    with pytest.raises(InvalidInput):
        py.get(name, variables={})
    with pytest.raises(NotFound):
        py.get(name + "-missing")


def test_jinja2_templates_are_rendered_by_the_server(live) -> None:  # noqa: ANN001
    name = _name()
    publish(live.http, name, "{% for x in items %}[{{ x }}]{% endfor %}", template_format="jinja2")
    py = Promptyard(live.url, live.api_key, watch_changes=False)
    assert py.get(name, variables={"items": ["a", "b"]}).messages[0]["content"] == "[a][b]"


def test_cached_get_does_not_touch_the_network_and_serves_stale_on_error(live, tmp_path) -> None:  # noqa: ANN001
    own = start_server(tmp_path)
    name = _name()
    publish(own.http, name, "v1", labels=["production"])
    py = Promptyard(own.url, own.api_key, cache_ttl=0.2, stale_ttl=0.2, watch_changes=False)
    assert py.get(name).version == 1
    own.stop()
    assert py.get(name).stale is False  # fresh from cache, no network needed
    time.sleep(0.5)  # past TTL and stale window: a blocking fetch fails, the old copy is served
    p = py.get(name)
    assert p.version == 1 and p.stale is True
    with pytest.raises(Unavailable):
        py.get(name, label="other")


def test_fallback_for_a_cold_start_when_the_server_is_unreachable() -> None:
    py = Promptyard(closed_port_url(), "key", watch_changes=False)
    p = py.get("greeting", variables={"who": "Bo"}, fallback=[{"role": "user", "content": "Hi {who}"}])
    assert p.is_fallback and p.version is None and p.messages == [{"role": "user", "content": "Hi Bo"}]
    assert p.link() is None
    with pytest.raises(Unavailable):
        py.get("greeting")


def test_stale_while_revalidate_refreshes_in_the_background(live) -> None:  # noqa: ANN001
    name = _name()
    v1 = publish(live.http, name, "one", labels=["production"])
    py = Promptyard(live.url, live.api_key, cache_ttl=0.1, watch_changes=False)
    assert py.get(name).version == 1
    publish(live.http, name, "two")
    live.http.put(f"/api/v1/prompts/{v1['prompt_id']}/labels/production", json={"version": 2, "reason": "t"})
    time.sleep(0.2)
    assert py.get(name).version == 1  # stale copy served at once, refresh started
    assert _wait(lambda: py.get(name).version == 2)


def test_change_feed_brings_a_promotion_within_seconds(live) -> None:  # noqa: ANN001
    name = _name()
    v1 = publish(live.http, name, "one", labels=["production"])
    publish(live.http, name, "two")
    py = Promptyard(live.url, live.api_key, cache_ttl=3600)
    assert py.get(name).version == 1
    assert py.watcher.connected.wait(5)
    live.http.put(f"/api/v1/prompts/{v1['prompt_id']}/labels/production", json={"version": 2, "reason": "t"})
    start = time.time()
    assert _wait(lambda: py.get(name).version == 2, timeout=5)
    assert time.time() - start < 5


def test_routing_is_assigned_locally_exactly_like_the_server(live) -> None:  # noqa: ANN001
    name = _name()
    v1 = publish(live.http, name, "A {x}")
    publish(live.http, name, "B {x}")
    publish(live.http, name, "C {x}")
    policy = {"sticky_key": "user", "split": [{"version": 1, "weight": 70}, {"version": 2, "weight": 30}],
              "segments": [{"name": "staff", "when": [{"key": "role", "op": "=", "value": "staff"}], "version": 3}]}
    r = live.http.put(f"/api/v1/prompts/{v1['prompt_id']}/labels/exp", json={"policy": policy})
    assert r.status_code == 200, r.text
    py = Promptyard(live.url, live.api_key, watch_changes=False)
    seen = set()
    for i in range(60):
        meta = {"user": f"u{i}"} | ({"role": "staff"} if i % 10 == 0 else {})
        p = py.get(name, label="exp", metadata=meta, variables={"x": i})
        server = live.http.get(f"/api/v1/fetch/{name}", params={"label": "exp"} | {
            f"meta.{k}": v for k, v in meta.items()}).json()
        assert (p.version, p.routing["rule"]) == (server["version"]["number"], server["routing"]["rule"])
        assert p.routing["unit"] == f"u{i}"
        seen.add(p.version)
    assert seen == {1, 2, 3}


def test_async_client_gets_and_logs(live) -> None:  # noqa: ANN001
    name = _name()
    publish(live.http, name, "hello {who}", labels=["production"])

    async def main() -> None:
        async with AsyncPromptyard(live.url, live.api_key, watch_changes=False) as py:
            p = await py.get(name, variables={"who": "x"})
            assert p.messages[0]["content"] == "hello x"
            again = await py.get(name)
            assert again.version == 1
            fb = await AsyncPromptyard(closed_port_url(), "k", watch_changes=False).get(
                name, fallback="plain {who}", variables={"who": "y"})
            assert fb.text == "plain y" and fb.is_fallback
            rid = py.log(provider="openai", model="m", output="ok", prompt=p)
            assert isinstance(rid, str)
            await py.flush(5)

    asyncio.run(main())


def test_cached_get_is_fast(live) -> None:  # noqa: ANN001
    name = _name()
    publish(live.http, name, "fast", labels=["production"])
    py = Promptyard(live.url, live.api_key, watch_changes=False)
    py.get(name)
    start = time.perf_counter()
    for _ in range(2000):
        py.get(name)
    per_call = (time.perf_counter() - start) / 2000
    assert per_call < 200e-6, per_call  # target is 20 us; generous bound for a shared CI machine


def test_many_callers_of_a_stale_entry_start_one_refresh() -> None:
    """Stale-while-revalidate: 20 threads reading a stale entry at once are all served the stale
    copy at once, and the key is fetched once, in the background."""
    import threading

    from promptyard.sdk.cache import PromptCache

    calls, release = [], threading.Event()

    def fetch(key):  # noqa: ANN001, ANN202 - the network, slow: the refresh is still running
        calls.append(key)
        release.wait(5)
        return {"version": 2}

    cache = PromptCache(fetch, ttl=0.01, stale_ttl=60)
    key = ("p", None, "production")
    cache.store(key, {"version": 1})
    time.sleep(0.05)
    served = []
    threads = [threading.Thread(target=lambda: served.append(cache.lookup(key)[0].bundle["version"]))
               for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert served == [1] * 20
    release.set()
    assert _wait(lambda: cache.entries[key].bundle["version"] == 2)
    assert calls == [key]
