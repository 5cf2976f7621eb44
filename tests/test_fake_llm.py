"""The fake LLM provider, driven by the real openai and anthropic client libraries."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
import time

import anthropic
import httpx
import openai
import pytest

from tests.fakes.llm import REPO_ROOT, FakeLLMServer, content_text, run_fake_llm, run_fake_llm_process

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string"}, "days": {"type": "integer"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}}}
OTHER_TOOL = {"type": "function", "function": {"name": "other", "parameters": {"type": "object", "properties": {}}}}
ANTHROPIC_TOOL = {"name": "lookup", "description": "Look something up",
                  "input_schema": {"type": "object", "properties": {"query": {"type": "string"},
                                                                    "exact": {"type": "boolean"}}}}


@pytest.fixture()
def llm(fake_llm: FakeLLMServer) -> FakeLLMServer:
    """The session's fake with an empty request log, so assertions see only this test's requests."""
    fake_llm.requests.clear()
    return fake_llm


@pytest.fixture()
def oai(llm: FakeLLMServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=llm.openai_base_url, api_key="test", max_retries=0)


@pytest.fixture()
def claude(llm: FakeLLMServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=llm.anthropic_base_url, api_key="test", max_retries=0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def user(text: str | list) -> dict:
    return {"role": "user", "content": text}


# ------------------------------------------------------------------------------------- chat completions


def test_chat_completion_echoes_last_user_message_with_exact_usage(oai, llm) -> None:
    resp = oai.chat.completions.create(model="gpt-test", messages=[
        {"role": "system", "content": "You are terse."}, user("first question"),
        {"role": "assistant", "content": "an answer"}, user("hello big world")])
    assert resp.object == "chat.completion" and resp.id.startswith("chatcmpl-") and resp.model == "gpt-test"
    assert resp.created > 0
    assert resp.choices[0].message.content == "echo: hello big world"
    assert resp.choices[0].message.role == "assistant" and resp.choices[0].finish_reason == "stop"
    # 3 + 2 + 2 + 3 input words; "echo: hello big world" is 4 words.
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens, resp.usage.total_tokens) == (10, 4, 14)

    [req] = llm.requests.snapshot()
    assert (req.method, req.path) == ("POST", "/v1/chat/completions")
    assert req.headers["authorization"] == "Bearer test"
    assert req.body["model"] == "gpt-test" and req.body["messages"][-1] == user("hello big world")


def test_chat_content_blocks_and_min_one_prompt_token(oai) -> None:
    resp = oai.chat.completions.create(model="m", messages=[user([
        {"type": "text", "text": "look at"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}},
        {"type": "text", "text": "this picture"}])])
    assert resp.choices[0].message.content == "echo: look at this picture"
    assert resp.usage.prompt_tokens == 4

    empty = oai.chat.completions.create(model="m", messages=[user("")])
    assert empty.choices[0].message.content == "echo: "
    assert (empty.usage.prompt_tokens, empty.usage.completion_tokens) == (1, 1)


def test_chat_stream_with_usage(oai) -> None:
    chunks = list(oai.chat.completions.create(model="gpt-s", messages=[user("stream me please")], stream=True,
                                              stream_options={"include_usage": True}))
    assert all(c.object == "chat.completion.chunk" and c.model == "gpt-s" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    content_chunks = [c for c in chunks if c.choices]
    assert content_chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in content_chunks) == "echo: stream me please"
    assert len([c for c in content_chunks if c.choices[0].delta.content]) == 4  # one word per chunk
    assert content_chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in content_chunks)
    assert chunks[-1].choices == []
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens, chunks[-1].usage.total_tokens) == (3, 4, 7)


def test_chat_stream_without_usage_has_no_usage_chunk(oai) -> None:
    chunks = list(oai.chat.completions.create(model="m", messages=[user("hi")], stream=True))
    assert all(c.choices and c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_chat_stream_wire_format(llm) -> None:
    # The clients hide some wire details (a null usage reads like a missing one), so look at the raw SSE.
    body = {"model": "m", "messages": [user("raw words")], "stream": True, "stream_options": {"include_usage": True}}
    with httpx.Client() as http, http.stream("POST", llm.openai_base_url + "/chat/completions", json=body) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        events = [line.removeprefix("data: ") for line in resp.iter_lines() if line]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all("usage" in c for c in chunks) and [c["usage"] for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    assert chunks[-1]["usage"]["total_tokens"] == 5


def test_chat_stream_helper_accumulates(oai) -> None:
    with oai.chat.completions.stream(model="m", messages=[user("one two")]) as stream:
        deltas = [e.delta for e in stream if e.type == "content.delta"]
        final = stream.get_final_completion()
    assert "".join(deltas) == final.choices[0].message.content == "echo: one two"


def test_chat_max_tokens_cuts_the_answer(oai) -> None:
    resp = oai.chat.completions.create(model="m", messages=[user("a b c d e")], max_tokens=3)
    assert resp.choices[0].message.content == "echo: a b"
    assert resp.choices[0].finish_reason == "length" and resp.usage.completion_tokens == 3


# ------------------------------------------------------------------------------------------ tool calls


def test_chat_tool_call_uses_first_tool(oai) -> None:
    resp = oai.chat.completions.create(model="m", tools=[WEATHER_TOOL, OTHER_TOOL],
                                       messages=[user("please CALL_TOOL for Paris")])
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    [call] = choice.message.tool_calls
    assert call.id.startswith("call_") and call.type == "function" and call.function.name == "get_weather"
    args = json.loads(call.function.arguments)
    assert args == {"city": "please CALL_TOOL for Paris", "days": 1, "unit": "celsius"}
    assert resp.usage.completion_tokens == len(call.function.arguments.split())


def test_chat_no_tool_call_without_trigger_or_tools_or_after_tool_result(oai) -> None:
    plain = oai.chat.completions.create(model="m", tools=[WEATHER_TOOL], messages=[user("weather in Paris")])
    assert plain.choices[0].finish_reason == "stop" and plain.choices[0].message.tool_calls is None
    no_tools = oai.chat.completions.create(model="m", messages=[user("CALL_TOOL")])
    assert no_tools.choices[0].message.content == "echo: CALL_TOOL"

    first = oai.chat.completions.create(model="m", tools=[WEATHER_TOOL], messages=[user("CALL_TOOL Paris")])
    call = first.choices[0].message.tool_calls[0]
    # An agent loop feeds the result back: the fake must answer with text, or the loop would never end.
    follow_up = oai.chat.completions.create(model="m", tools=[WEATHER_TOOL], messages=[
        user("CALL_TOOL Paris"), first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"}])
    assert follow_up.choices[0].finish_reason == "stop"
    assert follow_up.choices[0].message.content == "echo: CALL_TOOL Paris"


def test_chat_tool_call_stream(oai) -> None:
    with oai.chat.completions.stream(model="m", tools=[WEATHER_TOOL],
                                     messages=[user("CALL_TOOL Rome")], stream_options={"include_usage": True}) as s:
        events = list(s)
        final = s.get_final_completion()
    assert any(e.type == "tool_calls.function.arguments.delta" for e in events)
    [call] = final.choices[0].message.tool_calls
    assert final.choices[0].finish_reason == "tool_calls" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments)["city"] == "CALL_TOOL Rome"
    assert final.usage.prompt_tokens == 2


# ---------------------------------------------------------------------------- completions and responses


def test_completions_non_stream_and_stream(oai) -> None:
    resp = oai.completions.create(model="davinci-fake", prompt="say this")
    assert resp.object == "text_completion" and resp.model == "davinci-fake"
    assert resp.choices[0].text == "echo: say this" and resp.choices[0].finish_reason == "stop"
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens, resp.usage.total_tokens) == (2, 3, 5)

    chunks = list(oai.completions.create(model="m", prompt="say this", stream=True,
                                         stream_options={"include_usage": True}))
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "echo: say this"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage.total_tokens == 5


def test_responses_non_stream(oai) -> None:
    resp = oai.responses.create(model="gpt-r", instructions="Be kind.", input="hello there")
    assert resp.object == "response" and resp.status == "completed" and resp.model == "gpt-r"
    assert resp.output_text == "echo: hello there"
    assert (resp.usage.input_tokens, resp.usage.output_tokens, resp.usage.total_tokens) == (4, 3, 7)

    listed = oai.responses.create(model="m", input=[
        {"role": "user", "content": [{"type": "input_text", "text": "from a list"}]}])
    assert listed.output_text == "echo: from a list"


def test_responses_stream_and_tool_call(oai) -> None:
    with oai.responses.stream(model="m", input="stream it") as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_response()
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert kinds.count("response.output_text.delta") == 3
    assert final.output_text == "echo: stream it" and final.usage.output_tokens == 3

    tool = {"type": "function", "name": "find", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}
    resp = oai.responses.create(model="m", input="CALL_TOOL now", tools=[tool])
    [item] = resp.output
    assert item.type == "function_call" and item.name == "find" and json.loads(item.arguments) == {"q": "CALL_TOOL now"}


# ---------------------------------------------------------------------------------------------- anthropic


def test_anthropic_message_with_system_and_blocks(claude, llm) -> None:
    msg = claude.messages.create(model="claude-test", max_tokens=256, system="You are terse.", messages=[
        user([{"type": "text", "text": "hello"}, {"type": "text", "text": "claude friend"}])])
    assert msg.type == "message" and msg.role == "assistant" and msg.model == "claude-test"
    assert msg.id.startswith("msg_") and msg.stop_reason == "end_turn"
    assert [b.type for b in msg.content] == ["text"] and msg.content[0].text == "echo: hello claude friend"
    assert (msg.usage.input_tokens, msg.usage.output_tokens) == (6, 4)

    [req] = llm.requests.snapshot()
    assert req.path == "/v1/messages" and "anthropic-version" in req.headers
    # Older anthropic clients send x-api-key, newer ones a bearer token.
    assert req.headers.get("x-api-key") == "test" or req.headers.get("authorization") == "Bearer test"
    assert req.body["system"] == "You are terse."


def test_anthropic_stream_event_order_and_usage(claude) -> None:
    events = list(claude.messages.create(model="c", max_tokens=100, messages=[user("one two three")], stream=True))
    assert [e.type for e in events] == ["message_start", "content_block_start", *["content_block_delta"] * 4,
                                        "content_block_stop", "message_delta", "message_stop"]
    assert events[0].message.usage.input_tokens == 3
    assert "".join(e.delta.text for e in events if e.type == "content_block_delta") == "echo: one two three"
    assert events[-2].delta.stop_reason == "end_turn" and events[-2].usage.output_tokens == 4

    with claude.messages.stream(model="c", max_tokens=100, messages=[user("one two three")]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == final.content[0].text == "echo: one two three"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (3, 4)


def test_anthropic_tool_use_and_tool_result(claude) -> None:
    first = claude.messages.create(model="c", max_tokens=100, tools=[ANTHROPIC_TOOL],
                                   messages=[user("CALL_TOOL cats")])
    assert first.stop_reason == "tool_use"
    [block] = first.content
    assert block.type == "tool_use" and block.name == "lookup" and block.id.startswith("toolu_")
    assert block.input == {"query": "CALL_TOOL cats", "exact": True}

    with claude.messages.stream(model="c", max_tokens=100, tools=[ANTHROPIC_TOOL],
                                messages=[user("CALL_TOOL cats")]) as stream:
        streamed = stream.get_final_message()
    assert streamed.content[0].input == block.input

    answer = claude.messages.create(model="c", max_tokens=100, tools=[ANTHROPIC_TOOL], messages=[
        user("CALL_TOOL cats"), {"role": "assistant", "content": [block.model_dump(exclude_none=True)]},
        user([{"type": "tool_result", "tool_use_id": block.id, "content": "CALL_TOOL said: cats purr"}])])
    # A tool result never triggers another call, whatever it says, so agent loops end.
    assert answer.stop_reason == "end_turn" and answer.content[0].text == "echo: CALL_TOOL said: cats purr"


def test_anthropic_max_tokens_and_count_tokens(claude) -> None:
    msg = claude.messages.create(model="c", max_tokens=2, messages=[user("a b c")])
    assert msg.stop_reason == "max_tokens" and msg.content[0].text == "echo: a"
    assert claude.messages.count_tokens(model="c", messages=[user("a b c")]).input_tokens == 3


# --------------------------------------------------------------------------------------------------- async


def test_async_clients(llm) -> None:
    async def run() -> tuple:
        oai = openai.AsyncOpenAI(base_url=llm.openai_base_url, api_key="test", max_retries=0)
        claude = anthropic.AsyncAnthropic(base_url=llm.anthropic_base_url, api_key="test", max_retries=0)
        plain, stream, msg = await asyncio.gather(
            oai.chat.completions.create(model="m", messages=[user("async hi")]),
            oai.chat.completions.create(model="m", messages=[user("async stream")], stream=True),
            claude.messages.create(model="c", max_tokens=50, messages=[user("async claude")]))
        streamed = "".join([c.choices[0].delta.content or "" async for c in stream])
        async with claude.messages.stream(model="c", max_tokens=50, messages=[user("a s")]) as s:
            claude_streamed = await s.get_final_text()
        await oai.close()
        await claude.close()
        return plain.choices[0].message.content, streamed, msg.content[0].text, claude_streamed

    assert asyncio.run(run()) == ("echo: async hi", "echo: async stream", "echo: async claude", "echo: a s")


# ----------------------------------------------------------------------------------------- faults, timing


@pytest.mark.parametrize(("model", "error"), [("fail-500", openai.InternalServerError),
                                              ("fail-429", openai.RateLimitError),
                                              ("fail-401", openai.AuthenticationError),
                                              ("fail-400", openai.BadRequestError)])
def test_openai_fault_models_raise_typed_errors(oai, model, error) -> None:
    with pytest.raises(error) as raised:
        oai.chat.completions.create(model=model, messages=[user("x")])
    assert raised.value.status_code == int(model[-3:])
    assert set(raised.value.body) >= {"message", "type", "code"}  # the client unwraps {"error": {...}}
    with pytest.raises(error):
        oai.chat.completions.create(model=model, messages=[user("x")], stream=True)
    with pytest.raises(error):
        oai.responses.create(model=model, input="x")


@pytest.mark.parametrize(("model", "error", "kind"), [
    ("fail-500", anthropic.InternalServerError, "api_error"),
    ("fail-429", anthropic.RateLimitError, "rate_limit_error"),
    ("fail-401", anthropic.AuthenticationError, "authentication_error")])
def test_anthropic_fault_models_raise_typed_errors(claude, model, error, kind) -> None:
    with pytest.raises(error) as raised:
        claude.messages.create(model=model, max_tokens=10, messages=[user("x")])
    assert raised.value.status_code == int(model[-3:])
    assert raised.value.body["type"] == "error" and raised.value.body["error"]["type"] == kind
    with pytest.raises(error):
        with claude.messages.stream(model=model, max_tokens=10, messages=[user("x")]) as stream:
            stream.get_final_message()


def test_unknown_endpoint_and_missing_model(oai, llm) -> None:
    with pytest.raises(openai.NotFoundError):
        oai.embeddings.create(model="m", input="x")
    with pytest.raises(openai.BadRequestError):
        oai.post("/chat/completions", body={"messages": []}, cast_to=object)
    assert [r.path for r in llm.requests] == ["/v1/embeddings", "/v1/chat/completions"]


def test_slow_model_delays_and_client_timeout(oai) -> None:
    start = time.monotonic()
    resp = oai.chat.completions.create(model="slow-300", messages=[user("patience")])
    assert time.monotonic() - start >= 0.3 and resp.choices[0].message.content == "echo: patience"
    with pytest.raises(openai.APITimeoutError):
        oai.with_options(timeout=0.1).chat.completions.create(model="slow-1000", messages=[user("x")])


def test_concurrent_requests_are_served_in_parallel(llm) -> None:
    client = openai.OpenAI(base_url=llm.openai_base_url, api_key="test", max_retries=0)
    answers: list[str] = []

    def call(i: int) -> None:
        resp = client.chat.completions.create(model="slow-300", messages=[user(f"n{i}")])
        answers.append(resp.choices[0].message.content)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(6)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert time.monotonic() - start < 1.5  # six sequential calls would take 1.8 s
    assert sorted(answers) == [f"echo: n{i}" for i in range(6)]
    assert len(llm.requests.wait_for(6, timeout=1)) == 6


def test_connections_are_kept_alive(oai, llm) -> None:
    for text in ("one", "two", "three"):
        oai.chat.completions.create(model="m", messages=[user(text)])
    assert len({r.client_port for r in llm.requests}) == 1


def test_content_text_shapes() -> None:
    assert content_text([{"type": "tool_result", "content": [{"type": "text", "text": "a"}]}, "b"]) == "a b"
    assert content_text({"type": "function_call_output", "output": "out"}) == "out"
    assert content_text(None) == ""


def test_run_fake_llm_context_manager_stops_the_server() -> None:
    with run_fake_llm() as server:
        client = openai.OpenAI(base_url=server.openai_base_url, api_key="test", max_retries=0)
        assert client.chat.completions.create(model="m", messages=[user("x")]).choices[0].message.content == "echo: x"
    with pytest.raises(openai.APIConnectionError):
        client.with_options(timeout=2).chat.completions.create(model="m", messages=[user("x")])


# ------------------------------------------------------------------------------------------ process mode


def test_subprocess_mode_serves_records_and_stops() -> None:
    with run_fake_llm_process() as fake:
        claude = anthropic.Anthropic(base_url=fake.anthropic_base_url, api_key="test", max_retries=0)
        assert claude.messages.create(model="c", max_tokens=9, messages=[user("hi proc")]).content[0].text == \
            "echo: hi proc"
        oai = openai.OpenAI(base_url=fake.openai_base_url, api_key="test", max_retries=0)
        with pytest.raises(openai.RateLimitError):
            oai.chat.completions.create(model="fail-429", messages=[user("x")])
        recorded = fake.recorded()
        assert [(r["path"], r["body"]["model"]) for r in recorded] == [("/v1/messages", "c"),
                                                                       ("/v1/chat/completions", "fail-429")]
    assert fake.process.returncode == 0  # SIGTERM is a clean shutdown


def test_subprocess_mode_explicit_port() -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tests.fakes.llm", "--port", str(port)], cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == f"READY {port}"
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="test", max_retries=0)
        assert client.completions.create(model="m", prompt="p").choices[0].text == "echo: p"
    finally:
        proc.terminate()
        assert proc.wait(10) == 0


def test_judge_models_grade_the_answer_by_the_checklist(oai, claude) -> None:
    messages = [{"role": "system", "content": "Grade it.\nChecklist: dose, Meals, doctor"},
                user("Question: dose of aspirin with meals?\nAnswer: echo: take one dose after meals")]
    answer = oai.chat.completions.create(model="judge-medical", messages=messages).choices[0].message.content
    assert json.loads(answer) == {"score": 3.7, "reason": "2 of 3 checklist points: dose, Meals"}  # the question's words do not count
    msg = claude.messages.create(model="judge", max_tokens=100, system=messages[0]["content"], messages=messages[1:])
    assert json.loads(msg.content[0].text)["score"] == 3.7
    bare = oai.chat.completions.create(model="judge", messages=[user("Answer: anything")]).choices[0].message.content
    assert json.loads(bare)["score"] == 1.0
    plain = oai.chat.completions.create(model="judgement", messages=messages).choices[0].message.content
    assert plain.startswith("echo: Question:")  # only judge and judge-<name> grade


def test_flaky_models_tell_how_long_to_wait_and_redirect_models_point_at_metadata(oai, llm) -> None:
    model = "flaky-429-1-after2.5-" + str(time.monotonic_ns())
    with pytest.raises(openai.RateLimitError) as raised:
        oai.chat.completions.create(model=model, messages=[user("x")])
    assert raised.value.response.headers["retry-after"] == "2.5"
    assert oai.chat.completions.create(model=model, messages=[user("x")]).choices[0].message.content == "echo: x"
    first, second = llm.requests.for_path("/v1/chat/completions")[-2:]
    assert 0 < first.at <= second.at <= time.monotonic()
    # Not through the SDK: its default HTTP client follows redirects (services/outbound.py's does not).
    moved = httpx.post(llm.openai_base_url + "/chat/completions", json={"model": "redirect-302", "messages": [user("x")]})
    assert moved.status_code == 302 and moved.headers["location"] == "http://169.254.169.254/latest/meta-data/"
