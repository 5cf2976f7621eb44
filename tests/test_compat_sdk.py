"""The official `promptlayer` SDK (1.5.16), unchanged, against a real `promptyard serve` process
(SQLite and PostgreSQL), with the real `openai` / `anthropic` clients calling the fake provider.
What the SDK wrote is checked through OUR API: same rows as our own clients and UI.

The SDK's synchronous client sends every log, score and fetch on the caller's thread before the
call returns (its only background thread is the OTLP exporter, not used here), so the checks
below read the server right after each call: nothing to wait for."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.servers import LiveServer
from tests.support import chat_template, ours, pl_publish, unique

promptlayer = pytest.importorskip("promptlayer")


# --- registry -------------------------------------------------------------------------------


def test_publish_get_by_version_label_and_variables_and_list(pl, live):  # noqa: ANN001
    name = unique("pharmacy/answer")  # '/' travels percent-encoded in the fetch path
    first = pl_publish(pl, name, "You help pharmacists.", labels=["prod"])
    assert first["prompt_name"] == name and first["version_number"] == 1 and first["release_labels"] == ["prod"]
    second = pl_publish(pl, name, "You help pharmacists. Be brief.", commit="shorter answers")
    assert second["version_number"] == 2 and second["id"] == first["id"]

    latest = pl.templates.get(name)
    assert latest["version"] == 2 and latest["commit_message"] == "shorter answers"
    assert latest["prompt_template"]["input_variables"] == ["question"]
    # with llm_kwargs, missing variables render empty - as the SDK's own cached renderer does
    assert latest["prompt_template"]["messages"][1]["content"] == [{"type": "text", "text": ""}]
    assert latest["metadata"]["model"] == {"provider": "openai", "name": "gpt-4o-mini",
                                           "parameters": {"temperature": 0.2}}
    assert pl.templates.get(name, {"version": 1})["prompt_template"]["messages"][0]["content"][0]["text"] == \
        "You help pharmacists."
    assert pl.templates.get(name, {"label": "prod"})["version"] == 1
    rendered = pl.templates.get(name, {"input_variables": {"question": "Max dose?"}})
    assert rendered["prompt_template"]["messages"][1]["content"][0]["text"] == "Max dose?"
    assert rendered["llm_kwargs"] == {"model": "gpt-4o-mini", "temperature": 0.2, "messages": [
        {"role": "system", "content": "You help pharmacists. Be brief."}, {"role": "user", "content": "Max dose?"}]}

    listed = {t["prompt_name"]: t for t in pl.templates.all(per_page=100)}
    assert listed[name]["version"] == 2
    assert {t["prompt_name"]: t["version"] for t in pl.templates.all(label="prod", per_page=100)}[name] == 1

    # the same registry rows through our API: versions, commit messages, model, label
    prompt = ours(live, "GET", f"/api/v1/prompts/by-name/{name}")
    assert prompt["latest_version"] == 2 and prompt["tags"] == ["compat"]
    assert [(lab["name"], lab["version"]) for lab in prompt["labels"]] == [("prod", 1)]
    versions = ours(live, "GET", f"/api/v1/prompts/{prompt['id']}/versions")["items"]
    assert [(v["number"], v["commit_message"], v["model"]["name"]) for v in versions] == [
        (2, "shorter answers", "gpt-4o-mini"), (1, "first", "gpt-4o-mini")]


def test_sdk_cache_mode_renders_like_the_server(pl, live):  # noqa: ANN001
    name = unique("cached")
    pl_publish(pl, name, "You help {who}.")
    cached = promptlayer.PromptLayer(cache_ttl_seconds=60)
    variables = {"input_variables": {"who": "pharmacists", "question": "Dose?"}}
    first, again = cached.templates.get(name, variables), cached.templates.get(name, variables)  # 2nd: local
    direct = pl.templates.get(name, variables)
    assert first["llm_kwargs"] == again["llm_kwargs"] == direct["llm_kwargs"]
    assert direct["llm_kwargs"]["messages"] == [{"role": "system", "content": "You help pharmacists."},
                                                {"role": "user", "content": "Dose?"}]
    assert again["prompt_template"] == direct["prompt_template"]


def test_ab_split_with_metadata_segment_resolves_through_metadata_filters(pl, live):  # noqa: ANN001
    name = unique("ab")
    pl_publish(pl, name, "Version one.")
    pl_publish(pl, name, "Version two.", commit="two")
    pl_publish(pl, name, "Version three.", commit="three")
    prompt = ours(live, "GET", f"/api/v1/prompts/by-name/{name}")
    policy = {"sticky_key": "user", "split": [{"version": 1, "weight": 50}, {"version": 2, "weight": 50}],
              "segments": [{"name": "pharmacists", "when": [{"key": "plan", "op": "=", "value": "pharmacy"}],
                            "version": 3}]}
    ours(live, "PUT", f"/api/v1/prompts/{prompt['id']}/labels/beta", json={"policy": policy, "reason": "ab"})

    segment = {pl.templates.get(name, {"label": "beta", "metadata_filters": {"plan": "pharmacy", "user": str(i)}})
               ["version"] for i in range(10)}
    assert segment == {3}
    split = {pl.templates.get(name, {"label": "beta", "metadata_filters": {"user": str(i)}})["version"]
             for i in range(40)}
    assert split == {1, 2}


# --- wrapped provider clients -----------------------------------------------------------------


def test_openai_wrapper_logs_with_tags_then_prompt_metadata_scores(pl, live, fake_llm):  # noqa: ANN001
    name = unique("wrapped")
    pl_publish(pl, name, "You help pharmacists.", labels=["prod"])
    client = pl.openai.OpenAI()
    response, request_id = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "How much ibuprofen?"}],
        pl_tags=["pharmacy", "compat"], return_pl_id=True)
    assert response.choices[0].message.content == "echo: How much ibuprofen?"
    assert isinstance(request_id, int)

    assert pl.track.prompt(request_id, name, {"question": "How much ibuprofen?"}, label="prod") is True
    assert pl.track.metadata(request_id, {"user_id": "u-42", "plan": "pharmacy"}) is True
    assert pl.track.metadata(request_id, {"plan": "clinic"}) is True  # later keys overwrite
    assert pl.track.score(request_id, 90, score_name="follows_manual") is True
    assert pl.track.score(request_id, 70, score_name="medically_correct") is True
    assert pl.track.score(request_id, 55) is True

    stored = ours(live, "GET", f"/api/v1/requests/{request_id}")
    assert stored["provider"] == "openai" and stored["model"] == "gpt-4o-mini" and stored["status"] == "ok"
    assert stored["tags"] == ["pharmacy", "compat"]
    assert stored["output"]["content"] == "echo: How much ibuprofen?"
    assert stored["input_tokens"] == 3 and stored["output_tokens"] == 4 and stored["latency_ms"] >= 0
    assert (stored["prompt"], stored["version"], stored["label"]) == (name, 1, "prod")
    assert stored["input_variables"] == {"question": "How much ibuprofen?"}
    assert stored["metadata"] == {"user_id": "u-42", "plan": "clinic"}
    assert {s["name"]: s["value"] for s in stored["scores"]} == {
        "follows_manual": 90, "medically_correct": 70, "default": 55}
    assert "api_key" not in str(stored)

    # our search, with our filter language, finds it by version, metadata and score
    found = ours(live, "POST", "/api/v1/requests/search",
                 json={"filter": "score.follows_manual >= 80 and metadata.plan = \"clinic\"", "prompt": name})
    assert [item["number"] for item in found["items"]] == [request_id]
    assert found["items"][0]["version"] == 1


def test_openai_wrapper_streaming_returns_request_id(pl, live):  # noqa: ANN001
    client = pl.openai.OpenAI()
    chunks = list(client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "stream please"}], stream=True,
        pl_tags=["stream"], return_pl_id=True))
    ids = [rid for _, rid in chunks if rid is not None]
    assert len(ids) == 1  # logged once, on the chunk with finish_reason
    text = "".join(c.choices[0].delta.content or "" for c, _ in chunks if c.choices)
    assert text == "echo: stream please"
    stored = ours(live, "GET", f"/api/v1/requests/{ids[0]}")
    assert stored["tags"] == ["stream"] and stored["model"] == "gpt-4o-mini"
    assert stored["output"] is None  # the SDK sends only the last chunk: output not captured


def test_anthropic_wrapper(pl, live):  # noqa: ANN001
    client = pl.anthropic.Anthropic()
    message, request_id = client.messages.create(
        model="claude-3-5-haiku-latest", max_tokens=100, system="Be kind.",
        messages=[{"role": "user", "content": "Hello there"}], pl_tags=["claude"], return_pl_id=True)
    assert message.content[0].text == "echo: Hello there"
    stored = ours(live, "GET", f"/api/v1/requests/{request_id}")
    assert stored["provider"] == "anthropic" and stored["tags"] == ["claude"]
    assert stored["output"]["content"][0]["text"] == "echo: Hello there"
    assert stored["input_tokens"] == 4 and stored["output_tokens"] == 3


# --- groups and custom logs ---------------------------------------------------------------------


def test_groups_and_log_request(pl, live):  # noqa: ANN001
    name = unique("custom")
    pl_publish(pl, name, "You help pharmacists.")
    group_id = pl.group.create()
    assert isinstance(group_id, int)
    logged = pl.log_request(
        provider="openai", model="gpt-4o", request_start_time=1_764_000_000.25, request_end_time=1_764_000_001.5,
        input={"type": "chat", "messages": [{"role": "user", "content": [{"type": "text", "text": "Dose?"}]}]},
        output={"type": "chat", "messages": [{"role": "assistant", "content": [{"type": "text", "text": "Two."}]}]},
        parameters={"temperature": 0.1}, tags=["custom"], metadata={"user_id": "u-7"}, prompt_name=name,
        prompt_version_number=1, prompt_input_variables={"question": "Dose?"}, input_tokens=5, output_tokens=1,
        score=80, score_name="helpful")
    assert logged["prompt_version"]["prompt_template"]["messages"][-1]["content"][-1]["text"] == "Two."
    assert pl.track.group(logged["id"], group_id) is True

    stored = ours(live, "GET", f"/api/v1/requests/{logged['id']}")
    assert stored["group"] == str(group_id) and stored["tags"] == ["custom"]
    assert stored["latency_ms"] == pytest.approx(1250)
    assert (stored["prompt"], stored["version"]) == (name, 1)
    assert {s["name"]: s["value"] for s in stored["scores"]} == {"helpful": 80}
    assert stored["metadata"] == {"user_id": "u-7"}

    plain = pl.log_request(provider="openai", model="gpt-4o", request_start_time=1_764_000_002.0,
                           request_end_time=1_764_000_003.0,
                           input={"type": "chat", "messages": []}, output={"type": "chat", "messages": []})
    assert ours(live, "GET", f"/api/v1/requests/{plain['id']}")["scores"] == []  # the default score=0 is no score


# --- run() ------------------------------------------------------------------------------------


def test_run_end_to_end_with_label_metadata_and_stream(pl, live, fake_llm):  # noqa: ANN001
    name = unique("run")
    pl_publish(pl, name, "Version one.", labels=["prod"])
    pl_publish(pl, name, "Version two.", commit="two")
    prompt = ours(live, "GET", f"/api/v1/prompts/by-name/{name}")
    policy = {"split": [{"version": 1, "weight": 100}],
              "segments": [{"name": "pharmacy", "when": [{"key": "plan", "op": "=", "value": "pharmacy"}],
                            "version": 2}]}
    ours(live, "PUT", f"/api/v1/prompts/{prompt['id']}/labels/prod", json={"policy": policy, "reason": "segment"})
    group_id = pl.group.create()

    result = pl.run(prompt_name=name, input_variables={"question": "What dose?"}, prompt_release_label="prod",
                    metadata={"plan": "pharmacy", "user_id": "u-1"}, tags=["run"], group_id=group_id)
    assert result["raw_response"].choices[0].message.content == "echo: What dose?"
    assert result["prompt_blueprint"]["prompt_template"]["messages"][-1]["content"][-1]["text"] == "echo: What dose?"
    stored = ours(live, "GET", f"/api/v1/requests/{result['request_id']}")
    assert (stored["prompt"], stored["version"]) == (name, 2)  # the segment's version, as served
    assert stored["metadata"] == {"plan": "pharmacy", "user_id": "u-1"} and stored["tags"] == ["run"]
    assert stored["input_variables"] == {"question": "What dose?"} and stored["group"] == str(group_id)

    other = pl.run(prompt_name=name, input_variables={"question": "Hi"}, prompt_release_label="prod",
                   metadata={"plan": "clinic"})
    assert ours(live, "GET", f"/api/v1/requests/{other['request_id']}")["version"] == 1

    items = list(pl.run(prompt_name=name, prompt_version=2, input_variables={"question": "streamed"}, stream=True))
    assert items[-1]["request_id"] is not None
    assert items[-1]["prompt_blueprint"]["prompt_template"]["messages"][-1]["content"][-1]["text"] == "echo: streamed"
    streamed = ours(live, "GET", f"/api/v1/requests/{items[-1]['request_id']}")
    assert streamed["version"] == 2 and streamed["output"]["content"] == "echo: streamed"


def test_run_with_anthropic_template(pl, live):  # noqa: ANN001
    name = unique("claude")
    pl_publish(pl, name, "Be kind.", provider="anthropic", model="claude-3-5-haiku-latest",
            parameters={"max_tokens": 200})
    result = pl.run(prompt_name=name, input_variables={"question": "Hello"})
    assert result["raw_response"].content[0].text == "echo: Hello"
    stored = ours(live, "GET", f"/api/v1/requests/{result['request_id']}")
    assert stored["provider"] == "anthropic" and (stored["prompt"], stored["version"]) == (name, 1)


# --- release label and folder REST endpoints --------------------------------------------------


def pl_rest(live: LiveServer, method: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.request(method, live.url + path, headers={"X-API-KEY": live.api_key}, **kw)


def test_release_label_rest_endpoints_move_our_labels(pl, live):  # noqa: ANN001
    name = unique("labels/rest")
    first = pl_publish(pl, name, "One.")
    pl_publish(pl, name, "Two.", commit="two")
    made = pl_rest(live, "POST", f"/prompts/{first['id']}/label", json={"name": "staging", "prompt_version_number": 1})
    assert made.status_code == 200 and made.json()["prompt_version_number"] == 1
    label_id = made.json()["id"]
    listed = pl_rest(live, "GET", f"/prompt-templates/{name}/labels").json()["release_labels"]
    assert listed == [{"release_label": "staging", "release_label_id": label_id,
                       "prompt_version_id": made.json()["prompt_version_id"], "prompt_version_number": 1}]
    moved = pl_rest(live, "PATCH", f"/prompt-labels/{label_id}", json={"prompt_version_number": 2})
    assert moved.json()["prompt_version_number"] == 2
    assert pl.templates.get(name, {"label": "staging"})["version"] == 2
    history = ours(live, "GET", f"/api/v1/prompts/{first['id']}/label-history", params={"label": "staging"})
    assert [(e["from_version"], e["to_version"]) for e in history["items"]] == [(1, 2), (None, 1)]
    assert pl_rest(live, "DELETE", f"/prompt-labels/{label_id}").status_code == 204
    assert pl_rest(live, "GET", f"/prompt-templates/{first['id']}/labels").json() == {"release_labels": []}
    missing = pl_rest(live, "PATCH", f"/prompt-labels/{label_id}", json={"prompt_version_number": 1})
    assert missing.status_code == 404 and missing.json()["success"] is False


def test_folder_rest_endpoints_and_publish_into_a_folder(pl, live):  # noqa: ANN001
    top = pl_rest(live, "POST", "/api/public/v2/folders", json={"name": unique("team")}).json()
    sub = pl_rest(live, "POST", "/api/public/v2/folders", json={"name": "pharmacy", "parent_id": top["id"]}).json()
    assert sub["path"] == f"{top['name']}/pharmacy" and sub["parent_id"] == top["id"]
    assert pl_rest(live, "GET", "/api/public/v2/folders/resolve-id", params={"path": sub["path"]}).json()["id"] == \
        sub["id"]
    renamed = pl_rest(live, "PATCH", f"/api/public/v2/folders/{sub['id']}", json={"name": "clinic"}).json()
    assert renamed["path"] == f"{top['name']}/clinic"
    name = unique("in-folder")
    pl.templates.publish({"prompt_name": name, "folder_id": sub["id"], "commit_message": "c",
                          "prompt_template": chat_template("Hi.")})
    assert ours(live, "GET", f"/api/v1/prompts/by-name/{name}")["folder"] == renamed["path"]
    item = {t["prompt_name"]: t for t in pl.templates.all(per_page=100)}[name]
    assert item["full_folder_path"] == renamed["path"] and item["parent_folder_name"] == "clinic"
    bad = pl_rest(live, "POST", "/api/public/v2/folders", json={"name": "a/b"})
    assert bad.status_code == 400 and bad.json()["success"] is False


def test_async_client_fetch_wrapper_and_score(pl, live):  # noqa: ANN001
    import asyncio

    name = unique("async")
    pl_publish(pl, name, "Async {question}")

    async def flow() -> tuple[dict, int]:
        apl = promptlayer.AsyncPromptLayer()
        template = await apl.templates.get(name, {"input_variables": {"question": "hi"}})
        _, rid = await apl.openai.AsyncOpenAI().chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "async"}], pl_tags=["async"],
            return_pl_id=True)
        assert await apl.track.score(rid, 42, score_name="async_score") is True
        return template, rid

    template, rid = asyncio.run(flow())
    assert template["llm_kwargs"]["messages"][0]["content"] == "Async hi"
    stored = ours(live, "GET", f"/api/v1/requests/{rid}")
    assert stored["tags"] == ["async"] and {s["name"]: s["value"] for s in stored["scores"]} == {"async_score": 42}
