"""wrap() on the real openai / anthropic libraries, pointed at the fake LLM provider: sync,
async and streaming calls are logged once each, linked to the prompt version that made them."""

from __future__ import annotations

import asyncio
import uuid

import anthropic
import openai
import pytest

from promptyard import Promptyard, wrap
from tests.fakes.llm import run_fake_llm
from tests.sdk_support import Sink
from tests.support import publish

pytestmark = pytest.mark.one_database  # the storage is not the subject: SQLite only


@pytest.fixture(scope="module")
def llm():  # noqa: ANN201
    with run_fake_llm() as server:
        yield server


@pytest.fixture()
def sink(live):  # noqa: ANN001, ANN201
    s = Sink(upstream=live.url)
    yield s
    s.stop()


@pytest.fixture()
def py(sink, live):  # noqa: ANN001, ANN201
    client = Promptyard(sink.url, live.api_key, flush_interval=0.05, watch_changes=False)
    yield client
    client.shutdown()


def _logs(py: Promptyard, sink: Sink) -> list[dict]:
    assert py.flush(5)
    return list(sink.logs.values())


def test_openai_sync_call_is_logged_and_linked_to_the_prompt(py, sink, live, llm) -> None:  # noqa: ANN001
    name = f"w-{uuid.uuid4().hex[:8]}"
    publish(live.http, name, "Say {word}", labels=["production"], model={"provider": "openai", "name": "gpt-4o-mini",
                                                                "parameters": {"temperature": 0}})
    client = wrap(openai.OpenAI(base_url=llm.openai_base_url, api_key="x"), py)
    other = openai.OpenAI(base_url=llm.openai_base_url, api_key="x")  # not wrapped: not logged
    prompt = py.get(name, variables={"word": "hi"})
    answer = client.chat.completions.create(**prompt.openai_kwargs(), tags=["t1"], metadata={"user": "u1"})
    other.chat.completions.create(model="m", messages=[{"role": "user", "content": "quiet"}])
    [log] = _logs(py, sink)
    assert log["id"] == answer.promptyard_request_id
    assert log["provider"] == "openai" and log["model"] == "gpt-4o-mini" and log["status"] == "ok"
    assert log["prompt"] == {"name": name, "version": 1, "label": "production", "variables": {"word": "hi"}}
    assert log["output"]["content"] == answer.choices[0].message.content
    assert log["usage"]["input_tokens"] == answer.usage.prompt_tokens
    assert log["tags"] == ["t1"] and log["metadata"] == {"user": "u1"}
    assert log["input"]["messages"] == [{"role": "system", "content": "Say hi"}]
    assert log["input"]["temperature"] == 0


def test_openai_stream_logs_the_whole_answer_once(py, sink, llm) -> None:  # noqa: ANN001
    client = wrap(openai.OpenAI(base_url=llm.openai_base_url, api_key="x"), py)
    stream = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "one two three"}],
                                            stream=True, stream_options={"include_usage": True})
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    [log] = _logs(py, sink)
    assert text == "echo: one two three" and log["output"]["content"] == text
    assert log["usage"]["output_tokens"] == 4


def test_openai_errors_are_logged_and_raised(py, sink, llm) -> None:  # noqa: ANN001
    client = wrap(openai.OpenAI(base_url=llm.openai_base_url, api_key="x", max_retries=0), py)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="fail-500", messages=[{"role": "user", "content": "x"}])
    [log] = _logs(py, sink)
    assert log["status"] == "error" and log["error"]["type"] == "InternalServerError"


def test_openai_async_and_async_stream(py, sink, llm) -> None:  # noqa: ANN001
    client = wrap(openai.AsyncOpenAI(base_url=llm.openai_base_url, api_key="x"), py)

    async def main() -> str:
        await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "a"}])
        stream = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "b c"}],
                                                      stream=True)
        return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

    assert asyncio.run(main()) == "echo: b c"
    outputs = sorted(log["output"]["content"] for log in _logs(py, sink))
    assert outputs == ["echo: a", "echo: b c"]


def test_anthropic_sync_stream_and_async(py, sink, live, llm) -> None:  # noqa: ANN001
    name = f"a-{uuid.uuid4().hex[:8]}"
    publish(live.http, name, "Be brief", labels=["production"], model={"provider": "anthropic", "name": "claude-x"})
    prompt = py.get(name)
    client = wrap(anthropic.Anthropic(base_url=llm.anthropic_base_url, api_key="x"), py)
    kwargs = prompt.anthropic_kwargs()
    kwargs["messages"].append({"role": "user", "content": "hello there"})
    answer = client.messages.create(**kwargs)
    with client.messages.create(model="claude-x", max_tokens=100, stream=True,
                                messages=[{"role": "user", "content": "streamed words"}]) as stream:
        events = list(stream)
    aclient = wrap(anthropic.AsyncAnthropic(base_url=llm.anthropic_base_url, api_key="x"), py)

    async def main() -> None:
        await aclient.messages.create(model="claude-x", max_tokens=50, messages=[{"role": "user", "content": "z"}])

    asyncio.run(main())
    logs = {log["id"]: log for log in _logs(py, sink)}
    assert len(logs) == 3 and events
    first = logs[answer.promptyard_request_id]
    assert first["prompt"]["name"] == name and first["input"]["system"] == "Be brief"
    texts = sorted(log["output"]["content"][0]["text"] for log in logs.values())
    assert texts == ["echo: hello there", "echo: streamed words", "echo: z"]
    assert all(log["provider"] == "anthropic" and log["usage"]["output_tokens"] for log in logs.values())


def test_wrapping_twice_logs_once(py, sink, llm) -> None:  # noqa: ANN001
    client = wrap(wrap(openai.OpenAI(base_url=llm.openai_base_url, api_key="x"), py), py)
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert len(_logs(py, sink)) == 1
