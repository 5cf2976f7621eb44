"""A fake OpenAI/Anthropic-compatible LLM provider for tests (no real provider is reachable here).

Tests point the REAL `openai` / `anthropic` client libraries at it. Served endpoints:

- OpenAI:    POST /v1/chat/completions, /v1/completions, /v1/responses (all with `stream: true` SSE too)
- Anthropic: POST /v1/messages (stream too), /v1/messages/count_tokens
- Control:   GET /_fake/requests (the request log as JSON), DELETE /_fake/requests (clear it); meant for
             the subprocess mode, where `server.requests` is out of reach. Control calls are not logged.

Deterministic behaviour, so tests can assert exact values:

- Answer text is ``"echo: " + <text of the last user message>`` (completions: ``"echo: " + prompt``). Content may
  be a string or a list of blocks; the text blocks are joined with single spaces.
- Prompt tokens = whitespace-separated words over ALL input messages, including the Anthropic `system` param and
  the Responses `instructions` (min 1). Completion tokens = words in the answer.
- `max_tokens` / `max_completion_tokens` / `max_output_tokens` smaller than the answer cuts it to that many words
  and reports it like the provider does (finish_reason "length", stop_reason "max_tokens", status "incomplete").
- Tool calls: when the request has (function) tools and the LAST message is a user turn containing "CALL_TOOL",
  the answer is a call of the first tool. Its arguments fill every schema property (string: the user text,
  integer/number: 1, boolean: true, enum: first value, array: [], object: recursively). Completion tokens = words
  of the arguments JSON. A conversation that ends with a tool result gets a text answer, so agent loops end.
- A checklist judge through the model name: a model named ``judge`` or ``judge-<anything>`` answers like an
  LLM judge, ``{"score": S, "reason": "..."}`` on a 1-5 scale: the input's line ``Checklist: a, b, c`` names
  the points, the text after the last ``Answer:`` is graded, and S = 1 + 4 * (points found) / (points), to one
  decimal (a point is found when it occurs in the answer, case-insensitively). No checklist: S = 1.
- Fault injection through the model name: ``fail-<status>`` (e.g. fail-500, fail-429, fail-401) answers with that
  status and the provider's JSON error shape; ``slow-<ms>`` sleeps that long before answering;
  ``flaky-<status>-<n>[-after<seconds>][-<anything>]`` answers the first n requests naming that exact model with
  that status (with ``Retry-After: <seconds>``, 0 unless given) and the later ones normally - a 429 or 500 that a
  retry gets past. Give each test a model name of its own (the suffix): the count is per name, for the server's
  life. ``redirect-<status>`` answers with that 3xx status and ``Location: REDIRECT_TARGET`` (a cloud metadata
  URL: a client that follows it is caught).
- Every recorded request carries `at` (time.monotonic() on arrival), so tests can measure the waits between
  retries.

Use `run_fake_llm()` (context manager) or the session fixture `fake_llm` in-process, or
``python -m tests.fakes.llm --port N`` (prints ``READY <port>``; port 0 picks a free one) / `run_fake_llm_process()`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
import traceback
import urllib.request
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

TOOL_TRIGGER = "CALL_TOOL"
REPO_ROOT = Path(__file__).resolve().parents[2]
_FAIL_MODEL = re.compile(r"fail-(\d{3})")
_SLOW_MODEL = re.compile(r"slow-(\d+)")
_FLAKY_MODEL = re.compile(r"flaky-(\d{3})-(\d+)(?:-after(\d+(?:\.\d+)?))?(?:-[\w.-]*)?")
_REDIRECT_MODEL = re.compile(r"redirect-(3\d\d)")
REDIRECT_TARGET = "http://169.254.169.254/latest/meta-data/"
_JUDGE_MODEL = re.compile(r"judge(?:-[\w.-]*)?")
_CHECKLIST = re.compile(r"^\s*Checklist:\s*(.+)$", re.M | re.I)


# --------------------------------------------------------------------------------------------- request log


@dataclass
class RecordedRequest:
    method: str
    path: str  # without the query string
    query: str
    headers: dict[str, str]  # names lower-cased
    body: Any  # parsed JSON; None when the body was empty or not JSON
    client_port: int  # the same port on two requests means the connection was kept alive
    at: float = 0.0  # time.monotonic() when it arrived


class RequestLog:
    """Every request the fake received, in arrival order; safe to read while handler threads append."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._items: list[RecordedRequest] = []

    def append(self, item: RecordedRequest) -> None:
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()

    def clear(self) -> None:
        with self._cond:
            self._items.clear()

    def snapshot(self) -> list[RecordedRequest]:
        with self._cond:
            return list(self._items)

    def for_path(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.snapshot() if r.path == path]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least `count` requests arrived (for code that calls the provider in the background)."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._items) >= count, timeout):
                raise TimeoutError(f"expected {count} requests, got {len(self._items)} within {timeout}s")
            return list(self._items)

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def __iter__(self) -> Iterator[RecordedRequest]:
        return iter(self.snapshot())

    def __getitem__(self, index: int) -> RecordedRequest:
        with self._cond:
            return self._items[index]


# ----------------------------------------------------------------------------------- text and token rules


def words(text: str) -> int:
    return len(text.split())


def content_text(content: Any) -> str:
    """Plain text of message content in any provider's shape: string, list of blocks, or one block/message."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(t for t in (content_text(block) for block in content) if t)
    if isinstance(content, dict):
        # "text": text blocks; "content": messages and tool_result blocks; "output": Responses tool outputs.
        for key in ("text", "content", "output"):
            if key in content:
                return content_text(content[key])
        return ""
    return str(content)


def _has_tool_result(message: dict) -> bool:
    blocks = message.get("content")
    return isinstance(blocks, list) and any(isinstance(b, dict) and b.get("type") == "tool_result" for b in blocks)


@dataclass
class Conversation:
    texts: list[str]  # every input text, for prompt token counting
    last_user: str
    ends_with_user: bool  # the last message is a user turn (not a tool result): only then may a tool be called


def conversation(messages: Any, extra: Iterable[Any] = ()) -> Conversation:
    msgs = [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []
    texts = [content_text(x) for x in extra] + [content_text(m) for m in msgs]
    users = [m for m in msgs if m.get("role") == "user"]
    ends_with_user = bool(msgs) and msgs[-1].get("role") == "user" and not _has_tool_result(msgs[-1])
    return Conversation(texts, content_text(users[-1]) if users else "", ends_with_user)


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any]
    suffix: str = field(default_factory=lambda: uuid.uuid4().hex[:24])  # ids: call_<suffix>, toolu_<suffix>

    @property
    def arguments_json(self) -> str:
        return json.dumps(self.arguments)


@dataclass
class Reply:
    text: str
    prompt_tokens: int
    completion_tokens: int
    truncated: bool = False
    tool_call: ToolCall | None = None

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def sample_value(schema: Any, text: str) -> Any:
    """A deterministic value that satisfies a (simple) JSON schema."""
    if not isinstance(schema, dict):
        return text
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object" or "properties" in schema:
        return {name: sample_value(sub, text) for name, sub in (schema.get("properties") or {}).items()}
    return {"integer": 1, "number": 1, "boolean": True, "array": [], "null": None}.get(kind, text)


def judge_verdict(texts: list[str]) -> str:
    """The checklist judge's answer (see the module docstring) to a conversation's texts."""
    text = "\n".join(texts)
    found = _CHECKLIST.search(text)
    points = [w.strip() for w in found.group(1).split(",") if w.strip()] if found else []
    answer = text.rpartition("Answer:")[2].lower()
    hits = [w for w in points if w.lower() in answer]
    score = round(1 + 4 * len(hits) / len(points), 1) if points else 1.0
    return json.dumps({"score": score, "reason": f"{len(hits)} of {len(points)} checklist points: "
                                                 + (", ".join(hits) or "none")})


def make_reply(conv: Conversation, tools: list[tuple[str, Any]], max_tokens: int | None,
               model: str = "") -> Reply:
    prompt_tokens = max(1, sum(words(t) for t in conv.texts))
    if _JUDGE_MODEL.fullmatch(model):
        verdict = judge_verdict(conv.texts)
        return Reply(verdict, prompt_tokens, words(verdict))
    if tools and conv.ends_with_user and TOOL_TRIGGER in conv.last_user:
        name, schema = tools[0]
        args = sample_value(schema or {"type": "object"}, conv.last_user)
        call = ToolCall(name, args if isinstance(args, dict) else {})
        return Reply("", prompt_tokens, max(1, words(call.arguments_json)), tool_call=call)
    text = "echo: " + conv.last_user
    parts = text.split()
    if max_tokens is not None and max_tokens < len(parts):
        return Reply(" ".join(parts[:max_tokens]), prompt_tokens, max_tokens, truncated=True)
    return Reply(text, prompt_tokens, len(parts))


def _positive_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def pieces(text: str) -> list[str]:
    """Stream chunks: one word each, trailing whitespace kept so the chunks join back to `text` exactly."""
    return [p for p in re.findall(r"\S*\s*", text) if p]


def _id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:24]


# ----------------------------------------------------------------------------------------- error shapes

_OPENAI_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", None, "You are not allowed to access this resource."),
    404: ("invalid_request_error", "not_found", "The requested resource does not exist."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again in 1s."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
}
_ANTHROPIC_ERRORS: dict[int, str] = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "not_found_error",
    413: "request_too_large", 429: "rate_limit_error", 500: "api_error", 529: "overloaded_error",
}


def openai_error(status: int, message: str | None = None) -> dict:
    default = ("server_error", None, f"Error {status}.") if status >= 500 else ("invalid_request_error", None,
                                                                              f"Error {status}.")
    kind, code, text = _OPENAI_ERRORS.get(status, default)
    return {"error": {"message": message or text, "type": kind, "param": None, "code": code}}


def anthropic_error(status: int, message: str | None = None) -> dict:
    kind = _ANTHROPIC_ERRORS.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": message or f"Error {status} ({kind})."},
            "request_id": _id("req_")}


# ---------------------------------------------------------------------------------------------- server


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps connections alive between calls, as httpx expects; every answer therefore carries a
    # Content-Length or is chunked.
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # small SSE writes would otherwise wait for delayed ACKs
    timeout = 60  # idle keep-alive connections are dropped after this
    server: FakeLLMServer
    _streaming = False

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, open_=True)

    def finish(self) -> None:
        self.server.track(self.connection, open_=False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # one line per request would drown pytest's captured output

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch()

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch()

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch()

    # -- plumbing

    def _read_body(self) -> bytes:
        if "chunked" not in self.headers.get("Transfer-Encoding", "").lower():
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = []
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            parts.append(self.rfile.read(size))
            self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return b"".join(parts)

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self._send_ids()
        self.end_headers()
        self.wfile.write(data)

    def _send_ids(self) -> None:
        # The clients expose these as `_request_id` / in error messages; cheap realism.
        request_id = _id("req_")
        self.send_header("x-request-id", request_id)
        self.send_header("request-id", request_id)

    def _start_stream(self) -> None:
        self._streaming = True
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self._send_ids()
        self.end_headers()

    def _event(self, data: Any, event: str | None = None) -> None:
        text = (f"event: {event}\n" if event else "") + f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n"
        chunk = text.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")

    def _error(self, anthropic: bool, status: int, message: str | None = None,
               headers: dict[str, str] | None = None) -> None:
        self._send_json(status, anthropic_error(status, message) if anthropic else openai_error(status, message),
                        headers)

    # -- routing

    def _dispatch(self) -> None:
        self._streaming = False  # the handler object lives on across keep-alive requests
        path, _, query = self.path.partition("?")
        raw = self._read_body()
        if path.startswith("/_fake/"):
            return self._control(path)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        self.server.requests.append(RecordedRequest(self.command, path, query,
                                                    {k.lower(): v for k, v in self.headers.items()}, body,
                                                    self.client_address[1], time.monotonic()))
        anthropic = path.startswith("/v1/messages")
        route = _ROUTES.get((self.command, path))
        if route is None:
            return self._error(anthropic, 404, f"Unknown endpoint {self.command} {path}")
        if not isinstance(body, dict):
            return self._error(anthropic, 400, "The request body must be a JSON object.")
        if not isinstance(body.get("model"), str) or not body["model"]:
            return self._error(anthropic, 400, "You must provide a model parameter.")
        if fail := _FAIL_MODEL.fullmatch(body["model"]):
            return self._error(anthropic, int(fail.group(1)))
        if (flaky := _FLAKY_MODEL.fullmatch(body["model"])) and self.server.count(body["model"]) <= int(flaky.group(2)):
            return self._error(anthropic, int(flaky.group(1)), headers={"Retry-After": flaky.group(3) or "0"})
        if redirect := _REDIRECT_MODEL.fullmatch(body["model"]):
            return self._error(anthropic, int(redirect.group(1)), headers={"Location": REDIRECT_TARGET})
        if slow := _SLOW_MODEL.fullmatch(body["model"]):
            time.sleep(int(slow.group(1)) / 1000)
        self._run(route, body, anthropic)

    def _run(self, route: Any, body: dict, anthropic: bool) -> None:
        try:
            route(self, body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away mid-stream, e.g. it stopped iterating
        except Exception as exc:  # noqa: BLE001
            traceback.print_exc()
            if self._streaming:
                self.close_connection = True  # headers are out; a cut connection is all we can signal
            else:
                self._error(anthropic, 500, f"fake LLM bug: {exc!r}")

    def _control(self, path: str) -> None:
        if path == "/_fake/requests" and self.command == "GET":
            return self._send_json(200, [asdict(r) for r in self.server.requests])
        if path == "/_fake/requests" and self.command == "DELETE":
            self.server.requests.clear()
            return self._send_json(200, {"cleared": True})
        self._send_json(404, {"error": f"unknown control endpoint {self.command} {path}"})

    # -- OpenAI: chat completions

    def _chat(self, body: dict) -> None:
        tools = [(t["function"].get("name", ""), t["function"].get("parameters")) for t in body.get("tools") or []
                 if isinstance(t, dict) and isinstance(t.get("function"), dict)]
        max_tokens = _positive_int(body.get("max_completion_tokens", body.get("max_tokens")))
        reply = make_reply(conversation(body.get("messages")), tools, max_tokens, body["model"])
        base = {"id": _id("chatcmpl-"), "created": int(time.time()), "model": body["model"],
                "system_fingerprint": "fp_fakellm"}
        call = reply.tool_call
        finish = "tool_calls" if call else ("length" if reply.truncated else "stop")
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": None if call else reply.text,
                                       "refusal": None, "annotations": []}
            if call:
                message["tool_calls"] = [{"id": "call_" + call.suffix, "type": "function",
                                          "function": {"name": call.name, "arguments": call.arguments_json}}]
            choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            return self._send_json(200, {**base, "object": "chat.completion", "choices": [choice],
                                         "usage": _openai_usage(reply)})
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def chunk(delta: dict, finish_reason: str | None = None) -> dict:
            payload = {**base, "object": "chat.completion.chunk",
                       "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}
            return {**payload, "usage": None} if include_usage else payload

        self._start_stream()
        self._event(chunk({"role": "assistant", "content": None if call else "", "refusal": None}))
        if call:
            self._event(chunk({"tool_calls": [{"index": 0, "id": "call_" + call.suffix, "type": "function",
                                               "function": {"name": call.name, "arguments": ""}}]}))
            for piece in pieces(call.arguments_json):
                self._event(chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
        else:
            for piece in pieces(reply.text):
                self._event(chunk({"content": piece}))
        self._event(chunk({}, finish))
        if include_usage:
            self._event({**base, "object": "chat.completion.chunk", "choices": [], "usage": _openai_usage(reply)})
        self._event("[DONE]")
        self._end_stream()

    # -- OpenAI: legacy completions

    def _completions(self, body: dict) -> None:
        prompt = body.get("prompt", "")
        prompts = prompt if isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt) \
            else [prompt if isinstance(prompt, str) else json.dumps(prompt)]
        max_tokens = _positive_int(body.get("max_tokens"))
        replies = [make_reply(Conversation([p], p, False), [], max_tokens) for p in prompts]
        usage = Reply("", max(1, sum(words(p) for p in prompts)), sum(r.completion_tokens for r in replies))
        base = {"id": _id("cmpl-"), "object": "text_completion", "created": int(time.time()), "model": body["model"],
                "system_fingerprint": "fp_fakellm"}
        if not body.get("stream"):
            choices = [{"index": i, "text": r.text, "logprobs": None, "finish_reason": "length" if r.truncated else "stop"}
                       for i, r in enumerate(replies)]
            return self._send_json(200, {**base, "choices": choices, "usage": _openai_usage(usage)})
        self._start_stream()
        for i, r in enumerate(replies):
            for piece in pieces(r.text):
                self._event({**base, "choices": [{"index": i, "text": piece, "logprobs": None, "finish_reason": None}]})
            finish = "length" if r.truncated else "stop"
            self._event({**base, "choices": [{"index": i, "text": "", "logprobs": None, "finish_reason": finish}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            self._event({**base, "choices": [], "usage": _openai_usage(usage)})
        self._event("[DONE]")
        self._end_stream()

    # -- OpenAI: responses

    def _responses(self, body: dict) -> None:
        raw_input = body.get("input", "")
        items = [{"role": "user", "content": raw_input}] if isinstance(raw_input, str) else raw_input
        tools = [(t.get("name", ""), t.get("parameters")) for t in body.get("tools") or []
                 if isinstance(t, dict) and t.get("type") == "function"]
        reply = make_reply(conversation(items, [body.get("instructions")]), tools,
                           _positive_int(body.get("max_output_tokens")))
        item = _response_item(reply)
        response = {
            "id": _id("resp_"), "object": "response", "created_at": int(time.time()), "model": body["model"],
            "status": "incomplete" if reply.truncated else "completed", "error": None,
            "incomplete_details": {"reason": "max_output_tokens"} if reply.truncated else None,
            "instructions": body.get("instructions"), "max_output_tokens": body.get("max_output_tokens"),
            "metadata": body.get("metadata") or {}, "output": [item], "parallel_tool_calls": True,
            "previous_response_id": body.get("previous_response_id"), "temperature": body.get("temperature", 1.0),
            "top_p": body.get("top_p", 1.0), "text": {"format": {"type": "text"}},
            "tool_choice": body.get("tool_choice", "auto"), "tools": body.get("tools") or [], "truncation": "disabled",
            "usage": {"input_tokens": reply.prompt_tokens, "input_tokens_details": {"cached_tokens": 0},
                      "output_tokens": reply.completion_tokens, "output_tokens_details": {"reasoning_tokens": 0},
                      "total_tokens": reply.total_tokens},
        }
        if not body.get("stream"):
            return self._send_json(200, response)
        self._stream_response(response, item, reply)

    def _stream_response(self, response: dict, item: dict, reply: Reply) -> None:
        sequence = iter(range(1_000_000))

        def emit(kind: str, **data: Any) -> None:
            self._event({"type": kind, "sequence_number": next(sequence), **data}, event=kind)

        pending = {**response, "status": "in_progress", "incomplete_details": None, "output": [], "usage": None}
        ids = {"item_id": item["id"], "output_index": 0}
        self._start_stream()
        emit("response.created", response=pending)
        emit("response.in_progress", response=pending)
        if reply.tool_call:
            emit("response.output_item.added", output_index=0, item={**item, "arguments": "", "status": "in_progress"})
            for piece in pieces(reply.tool_call.arguments_json):
                emit("response.function_call_arguments.delta", **ids, delta=piece)
            emit("response.function_call_arguments.done", **ids, name=item["name"], arguments=item["arguments"])
        else:
            emit("response.output_item.added", output_index=0, item={**item, "content": [], "status": "in_progress"})
            part = item["content"][0]
            emit("response.content_part.added", **ids, content_index=0, part={**part, "text": ""})
            for piece in pieces(reply.text):
                emit("response.output_text.delta", **ids, content_index=0, delta=piece, logprobs=[])
            emit("response.output_text.done", **ids, content_index=0, text=reply.text, logprobs=[])
            emit("response.content_part.done", **ids, content_index=0, part=part)
        emit("response.output_item.done", output_index=0, item=item)
        emit("response.incomplete" if reply.truncated else "response.completed", response=response)
        self._end_stream()

    # -- Anthropic: messages

    def _anthropic_reply(self, body: dict) -> Reply:
        tools = [(t["name"], t.get("input_schema")) for t in body.get("tools") or []
                 if isinstance(t, dict) and "name" in t and "input_schema" in t]  # custom tools, not server tools
        return make_reply(conversation(body.get("messages"), [body.get("system")]), tools,
                          _positive_int(body.get("max_tokens")), body["model"])

    def _count_tokens(self, body: dict) -> None:
        self._send_json(200, {"input_tokens": self._anthropic_reply(body).prompt_tokens})

    def _messages(self, body: dict) -> None:
        reply = self._anthropic_reply(body)
        call = reply.tool_call
        block = ({"type": "tool_use", "id": "toolu_" + call.suffix, "name": call.name, "input": call.arguments}
                 if call else {"type": "text", "text": reply.text})
        stop = "tool_use" if call else ("max_tokens" if reply.truncated else "end_turn")
        usage = {"input_tokens": reply.prompt_tokens, "output_tokens": reply.completion_tokens,
                 "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
        message = {"id": _id("msg_"), "type": "message", "role": "assistant", "model": body["model"],
                   "content": [block], "stop_reason": stop, "stop_sequence": None, "usage": usage}
        if not body.get("stream"):
            return self._send_json(200, message)
        # Like the real API: message_start reports 1 output token, message_delta the cumulative total.
        start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
        self._start_stream()
        self._event({"type": "message_start", "message": start}, event="message_start")
        self._event({"type": "ping"}, event="ping")
        empty = {**block, "input": {}} if call else {**block, "text": ""}
        self._event({"type": "content_block_start", "index": 0, "content_block": empty}, event="content_block_start")
        deltas = ([{"type": "input_json_delta", "partial_json": p} for p in pieces(call.arguments_json)] if call
                  else [{"type": "text_delta", "text": p} for p in pieces(reply.text)])
        for delta in deltas:
            self._event({"type": "content_block_delta", "index": 0, "delta": delta}, event="content_block_delta")
        self._event({"type": "content_block_stop", "index": 0}, event="content_block_stop")
        self._event({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                     "usage": {"output_tokens": reply.completion_tokens}}, event="message_delta")
        self._event({"type": "message_stop"}, event="message_stop")
        self._end_stream()


def _openai_usage(reply: Reply) -> dict:
    return {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
            "total_tokens": reply.total_tokens, "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0}}


def _response_item(reply: Reply) -> dict:
    call = reply.tool_call
    if call:
        return {"type": "function_call", "id": _id("fc_"), "call_id": "call_" + call.suffix, "name": call.name,
                "arguments": call.arguments_json, "status": "completed"}
    return {"type": "message", "id": _id("msg_"), "status": "incomplete" if reply.truncated else "completed",
            "role": "assistant", "content": [{"type": "output_text", "text": reply.text, "annotations": [],
                                              "logprobs": []}]}


_ROUTES = {
    ("POST", "/v1/chat/completions"): _Handler._chat,
    ("POST", "/v1/completions"): _Handler._completions,
    ("POST", "/v1/responses"): _Handler._responses,
    ("POST", "/v1/messages"): _Handler._messages,
    ("POST", "/v1/messages/count_tokens"): _Handler._count_tokens,
}


class FakeLLMServer(ThreadingHTTPServer):
    """The fake provider; `start()` serves it from a daemon thread, `stop()` shuts it down."""

    daemon_threads = True  # idle keep-alive connections must not block shutdown
    # socketserver's default backlog of 5 drops the SYNs of a burst of new connections (32 workers starting
    # together), which the client's kernel resends after a second: a real provider's queue is long.
    request_queue_size = 256

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        super().__init__((host, port), _Handler)
        self.requests = RequestLog()
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def count(self, name: str) -> int:
        """How many requests named `name` so far, this one included (flaky-* models)."""
        with self._connections_lock:
            self._counts[name] = self._counts.get(name, 0) + 1
            return self._counts[name]

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name via getfqdn(), which can stall on machines without DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def track(self, conn: socket.socket, open_: bool) -> None:
        with self._connections_lock:
            (self._connections.add if open_ else self._connections.discard)(conn)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients drop idle keep-alive connections at will; that is not worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return self.url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    def start(self) -> FakeLLMServer:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"fake-llm-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        # Handler threads keep serving kept-alive connections after shutdown(); cut them so a stopped fake
        # really is unreachable.
        with self._connections_lock:
            for conn in self._connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(5)


@contextlib.contextmanager
def run_fake_llm(port: int = 0) -> Iterator[FakeLLMServer]:
    server = FakeLLMServer(port).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def fake_llm() -> Iterator[FakeLLMServer]:
    """The fake provider, shared by the session: clear `fake_llm.requests` before asserting on it."""
    with run_fake_llm() as server:
        yield server


# ---------------------------------------------------------------------------------------- process mode


@dataclass
class FakeLLMProcess:
    process: subprocess.Popen
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return self.url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    def recorded(self) -> list[dict]:
        """The process's request log (RecordedRequest fields as dicts)."""
        with urllib.request.urlopen(self.url + "/_fake/requests", timeout=5) as resp:
            return json.load(resp)

    def stop(self) -> int:
        self.process.terminate()
        try:
            return self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


@contextlib.contextmanager
def run_fake_llm_process(port: int = 0, timeout: float = 20) -> Iterator[FakeLLMProcess]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    proc = subprocess.Popen([sys.executable, "-m", "tests.fakes.llm", "--port", str(port)], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, text=True)
    watchdog = threading.Timer(timeout, proc.kill)  # readline() below would otherwise wait forever on a hang
    watchdog.start()
    try:
        line = proc.stdout.readline()
    finally:
        watchdog.cancel()
    if not line.startswith("READY "):
        proc.kill()
        raise RuntimeError(f"fake LLM process did not start (exit {proc.wait()}): {line!r}")
    fake = FakeLLMProcess(proc, int(line.split()[1]))
    try:
        yield fake
    finally:
        fake.stop()


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # lets serve_forever unwind and close the socket


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fake OpenAI/Anthropic-compatible LLM provider for tests")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    server = FakeLLMServer(args.port, args.host)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    print(f"READY {server.port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.05)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
