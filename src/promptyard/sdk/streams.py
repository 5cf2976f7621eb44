"""Streaming answers: proxies that hand every chunk to the caller unchanged and log the whole
answer once, when the stream ends (exhausted, failed, closed, or left behind)."""

from __future__ import annotations

import json
from typing import Any, Callable

from promptyard.sdk.text import plain


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


class OpenAIChatAccumulator:
    """Rebuilds the assistant message from chat.completions chunks (content and tool calls)."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.tool_calls: dict[int, dict[str, Any]] = {}
        self.finish_reason = self.model = None
        self.usage: Any = None

    def add(self, chunk: Any) -> None:
        self.model = _get(chunk, "model") or self.model
        self.usage = _get(chunk, "usage") or self.usage
        for choice in _get(chunk, "choices") or []:
            if _get(choice, "index", 0) != 0:
                continue
            self.finish_reason = _get(choice, "finish_reason") or self.finish_reason
            delta = _get(choice, "delta")
            if _get(choice, "text") is not None:  # legacy completions stream
                self.parts.append(_get(choice, "text"))
            if delta is None:
                continue
            if _get(delta, "content"):
                self.parts.append(_get(delta, "content"))
            for call in _get(delta, "tool_calls") or []:
                slot = self.tool_calls.setdefault(_get(call, "index", 0), {
                    "id": None, "type": "function", "function": {"name": "", "arguments": ""}})
                slot["id"] = _get(call, "id") or slot["id"]
                fn = _get(call, "function")
                if fn is not None:
                    slot["function"]["name"] += _get(fn, "name") or ""
                    slot["function"]["arguments"] += _get(fn, "arguments") or ""

    def output(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": "assistant", "content": "".join(self.parts) or None}
        if self.tool_calls:
            out["tool_calls"] = [self.tool_calls[i] for i in sorted(self.tool_calls)]
        if self.finish_reason:
            out["finish_reason"] = self.finish_reason
        return out

    def usage_dict(self) -> dict[str, Any] | None:
        if self.usage is None:
            return None
        return {"input_tokens": _get(self.usage, "prompt_tokens"), "output_tokens": _get(self.usage, "completion_tokens")}


class AnthropicAccumulator:
    """Rebuilds the message from Anthropic stream events (text and tool_use blocks)."""

    def __init__(self) -> None:
        self.blocks: dict[int, dict[str, Any]] = {}
        self.json_parts: dict[int, list[str]] = {}
        self.model = self.stop_reason = None
        self.input_tokens = self.output_tokens = None

    def add(self, event: Any) -> None:
        kind = _get(event, "type")
        if kind == "message_start":
            message = _get(event, "message")
            self.model = _get(message, "model")
            usage = _get(message, "usage")
            self.input_tokens = _get(usage, "input_tokens")
            self.output_tokens = _get(usage, "output_tokens")
        elif kind == "content_block_start":
            self.blocks[_get(event, "index", 0)] = dict(plain(_get(event, "content_block")))
        elif kind == "content_block_delta":
            index, delta = _get(event, "index", 0), _get(event, "delta")
            block = self.blocks.setdefault(index, {"type": "text", "text": ""})
            if _get(delta, "type") == "text_delta":
                block["text"] = (block.get("text") or "") + _get(delta, "text", "")
            elif _get(delta, "type") == "input_json_delta":
                self.json_parts.setdefault(index, []).append(_get(delta, "partial_json", ""))
        elif kind == "message_delta":
            self.stop_reason = _get(_get(event, "delta"), "stop_reason") or self.stop_reason
            self.output_tokens = _get(_get(event, "usage"), "output_tokens") or self.output_tokens

    def output(self) -> dict[str, Any]:
        for index, parts in self.json_parts.items():
            try:
                self.blocks[index]["input"] = json.loads("".join(parts) or "{}")
            except ValueError:
                self.blocks[index]["input"] = "".join(parts)
        out: dict[str, Any] = {"role": "assistant", "content": [self.blocks[i] for i in sorted(self.blocks)]}
        if self.stop_reason:
            out["stop_reason"] = self.stop_reason
        return out

    def usage_dict(self) -> dict[str, Any] | None:
        if self.input_tokens is None and self.output_tokens is None:
            return None
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens}


Finish = Callable[[Any, BaseException | None], None]


class _Proxy:
    def __init__(self, stream: Any, accumulator: Any, finish: Finish):
        self._stream, self._acc, self._finish, self._done = stream, accumulator, finish, False

    def _end(self, error: BaseException | None = None) -> None:
        if not self._done:
            self._done = True
            self._finish(self._acc, error)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def __del__(self) -> None:
        try:
            self._end()  # a stream the caller abandoned: log what arrived
        except Exception:  # noqa: BLE001 - never raise from a finaliser
            pass


class SyncStream(_Proxy):
    def __iter__(self) -> "SyncStream":
        return self

    def __next__(self) -> Any:
        try:
            item = next(self._iterator())
        except StopIteration:
            self._end()
            raise
        except BaseException as exc:
            self._end(exc)
            raise
        self._acc.add(item)
        return item

    def _iterator(self) -> Any:
        if "_it" not in self.__dict__:
            self.__dict__["_it"] = iter(self._stream)
        return self.__dict__["_it"]

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._end()

    def __enter__(self) -> "SyncStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncStream(_Proxy):
    def __aiter__(self) -> "AsyncStream":
        return self

    async def __anext__(self) -> Any:
        if "_it" not in self.__dict__:
            self.__dict__["_it"] = self._stream.__aiter__()
        try:
            item = await self.__dict__["_it"].__anext__()
        except StopAsyncIteration:
            self._end()
            raise
        except BaseException as exc:
            self._end(exc)
            raise
        self._acc.add(item)
        return item

    async def close(self) -> None:
        try:
            await self._stream.close()
        finally:
            self._end()

    async def __aenter__(self) -> "AsyncStream":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
