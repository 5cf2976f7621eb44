"""wrap(openai_client | anthropic_client): the same client object, with its calls logged.

Only the given client instance changes (its `chat.completions.create`, `completions.create` or
`messages.create` attribute is replaced on that resource object): no global monkey-patching,
other clients of the same library are untouched. Extra keyword arguments the wrapper pops:
`prompt=` (a fetched Prompt: links the log to its version), `tags=`, `metadata=` (Promptyard
request metadata), `request_id=`, and `provider_metadata=` (passed to the provider as its own
`metadata` argument). Prompts' `openai_kwargs()` / `anthropic_kwargs()` are linked without
`prompt=`: their message list remembers the prompt.
"""

from __future__ import annotations

import functools
import time
import uuid
from typing import Any

from promptyard.sdk.streams import AnthropicAccumulator, AsyncStream, OpenAIChatAccumulator, SyncStream
from promptyard.sdk.text import plain

_default: Any = None
_NOT_INPUT = frozenset({"model", "stream", "stream_options", "extra_headers", "extra_query", "extra_body",
                        "timeout"})


def default_client() -> Any:
    """A Promptyard client configured from PROMPTYARD_URL / PROMPTYARD_API_KEY, made once."""
    global _default
    if _default is None:
        from promptyard.sdk.client import Promptyard

        _default = Promptyard()
    return _default


def wrap(client: Any, promptyard: Any = None) -> Any:
    """Log every chat/completions (OpenAI) or messages (Anthropic) call of `client`; returns it."""
    py = promptyard or default_client()
    library = type(client).__module__.split(".")[0]
    is_async = type(client).__name__.startswith("Async")
    if library == "openai":
        _patch(client.chat.completions, py, "openai", "chat", is_async)
        _patch(client.completions, py, "openai", "completion", is_async)
    elif library == "anthropic":
        _patch(client.messages, py, "anthropic", "messages", is_async)
    else:
        raise TypeError(f"wrap() supports openai and anthropic clients, not {type(client).__name__}")
    return client


class _Call:
    """One provider call: what the wrapper pops from the arguments, and its log when it ends."""

    def __init__(self, py: Any, provider: str, kind: str, kwargs: dict[str, Any]):
        self.py, self.provider, self.kind = py, provider, kind
        self.prompt = kwargs.pop("prompt", None) if kind != "completion" or not isinstance(
            kwargs.get("prompt"), (str, list)) else None
        self.tags = kwargs.pop("tags", None)
        self.metadata = kwargs.pop("metadata", None)
        self.request_id = kwargs.pop("request_id", None) or str(uuid.uuid4())
        if "provider_metadata" in kwargs:
            kwargs["metadata"] = kwargs.pop("provider_metadata")
        if self.prompt is None:
            self.prompt = getattr(kwargs.get("messages"), "promptyard_prompt", None)
        self.kwargs = kwargs
        self.stream = bool(kwargs.get("stream"))
        self.start = time.time()

    def finish(self, output: Any, usage: dict[str, Any] | None, model: str | None,
               error: BaseException | None = None) -> None:
        self.py.log(provider=self.provider, model=model or self.kwargs.get("model"),
                    input={k: v for k, v in self.kwargs.items() if k not in _NOT_INPUT}, output=output,
                    start_time=self.start, end_time=time.time(), error=error, usage=usage, tags=self.tags,
                    metadata=self.metadata, prompt=self.prompt, request_id=self.request_id)

    def finish_response(self, response: Any) -> Any:
        output, usage = _read_response(self.provider, self.kind, response)
        self.finish(output, usage, getattr(response, "model", None))
        try:
            setattr(response, "promptyard_request_id", self.request_id)  # so callers can score it
        except Exception:  # noqa: BLE001 - a response type that refuses extra attributes
            pass
        return response

    def finish_stream(self, accumulator: Any, error: BaseException | None) -> None:
        self.finish(accumulator.output(), accumulator.usage_dict(), accumulator.model, error)

    def accumulator(self) -> Any:
        return AnthropicAccumulator() if self.provider == "anthropic" else OpenAIChatAccumulator()


def _read_response(provider: str, kind: str, response: Any) -> tuple[Any, dict[str, Any] | None]:
    usage = getattr(response, "usage", None)
    if provider == "anthropic":
        output = {"role": "assistant", "content": [plain(b) for b in getattr(response, "content", None) or []],
                  "stop_reason": getattr(response, "stop_reason", None)}
        tokens = {"input_tokens": getattr(usage, "input_tokens", None),
                  "output_tokens": getattr(usage, "output_tokens", None)} if usage else None
        return output, tokens
    choices = getattr(response, "choices", None) or []
    if kind == "completion":
        output: Any = getattr(choices[0], "text", None) if choices else None
    else:
        output = plain(choices[0].message) if choices else None
        if isinstance(output, dict):
            output = {k: v for k, v in output.items() if v is not None}
    tokens = {"input_tokens": getattr(usage, "prompt_tokens", None),
              "output_tokens": getattr(usage, "completion_tokens", None)} if usage else None
    return output, tokens


def _patch(resource: Any, py: Any, provider: str, kind: str, is_async: bool) -> None:
    original = resource.create
    if getattr(original, "__promptyard__", False):
        return  # wrapped already: log once, not twice

    if is_async:
        async def create(*args: Any, **kwargs: Any) -> Any:
            call = _Call(py, provider, kind, kwargs)
            try:
                result = await original(*args, **call.kwargs)
            except Exception as exc:
                call.finish(None, None, None, exc)
                raise
            if call.stream:
                return AsyncStream(result, call.accumulator(), call.finish_stream)
            return call.finish_response(result)
    else:
        def create(*args: Any, **kwargs: Any) -> Any:
            call = _Call(py, provider, kind, kwargs)
            try:
                result = original(*args, **call.kwargs)
            except Exception as exc:
                call.finish(None, None, None, exc)
                raise
            if call.stream:
                return SyncStream(result, call.accumulator(), call.finish_stream)
            return call.finish_response(result)

    functools.update_wrapper(create, original)
    create.__promptyard__ = True  # type: ignore[attr-defined]
    resource.create = create
