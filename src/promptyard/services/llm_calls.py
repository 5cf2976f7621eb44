"""One chat completion through a workspace's provider connection: what evaluation runs, LLM judges
and the playground call.

    with db.read() as s:                       # a read: nothing is held open while the provider thinks
        answer = llm_calls.complete(s, connection_id, messages=[{"role": "user", "content": "Hi"}],
                                    params={"temperature": 0}, timeout_s=30)
    answer.text, answer.input_tokens, answer.cost, answer.latency_ms

Many calls over one connection (a run's workers): load it once, then call without a session -
`target = llm_calls.connection(s, connection_id)` and `llm_calls.complete(target, None, messages=...)`.

`messages` are OpenAI-shaped ({"role": "system" | "user" | "assistant", "content": text or blocks});
for Anthropic the system messages become its `system` parameter. `params` go into the request body
(temperature, max_tokens, top_p, stop, ...; Anthropic gets max_tokens 1024 unless given). Calls follow
services/outbound.py (address rules, deadline `timeout_s` for the whole call, retries on connection
errors, 429 and 5xx with back-off and Retry-After). Errors: Upstream (502) when the provider answered
with an error (its status in `upstream_status`; the provider's message, with the secret scrubbed
out) or not at all; InvalidInput for a refused URL or bad messages. The secret never appears in an
error, a log line or a record.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from promptyard.domain import costs
from promptyard.errors import InvalidInput, NotFound, Upstream
from promptyard.services import outbound, providers, secrets
from promptyard.store.models import ProviderConnection

ANTHROPIC_VERSION = "2023-06-01"
ANTHROPIC_MAX_TOKENS = 1024
_ROLES = ("system", "user", "assistant", "tool", "developer")
_RESERVED_PARAMS = frozenset({"model", "messages", "stream"})


@dataclass(frozen=True)
class Connection:
    """A provider connection loaded for calls (the secret decrypted, in memory only)."""

    id: int
    kind: str
    base_url: str
    default_model: str
    headers: dict[str, str]
    secret_header: str
    secret: str | None = field(repr=False)
    policy: outbound.Policy = field(repr=False)


@dataclass(frozen=True)
class Completion:
    text: str
    messages: list[dict[str, Any]]  # the messages sent, then the answer as an assistant message
    input_tokens: int | None
    output_tokens: int | None
    cost: float | None  # US dollars (domain/costs.py); None for a model without a known price
    latency_ms: float  # the whole call, retries included
    model: str  # as the provider named it in its answer
    raw_status: int  # the HTTP status of the answer (200)
    finish_reason: str | None = None  # stop | length | end_turn | max_tokens | ...


def connection(session: Session, connection_id: int, workspace_id: int | None = None) -> Connection:
    """Load a connection (of `workspace_id` when given: callers acting for a workspace pass it)."""
    q = select(ProviderConnection).where(ProviderConnection.id == connection_id)
    if workspace_id is not None:
        q = q.where(ProviderConnection.workspace_id == workspace_id)
    c = session.scalar(q)
    if c is None:
        raise NotFound("errors.providers.not_found", id=connection_id)
    plain = secrets.decrypt(session, c.secret, providers.context(c.id)) if c.secret else None
    return Connection(c.id, c.kind, c.base_url, c.default_model, dict(c.headers or {}), c.secret_header, plain,
                      outbound.policy_of(session))


def _messages(messages: Any) -> list[dict[str, Any]]:
    if not isinstance(messages, list) or not messages:
        raise InvalidInput("errors.llm.messages", field="messages")
    for m in messages:
        if not isinstance(m, dict) or m.get("role") not in _ROLES or "content" not in m:
            raise InvalidInput("errors.llm.messages", field="messages")
    return messages


def _endpoint(base_url: str, path: str) -> str:
    """`path` appended to the base URL's path, its query kept (Azure's ?api-version=...)."""
    parts = urlsplit(base_url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + path, parts.query, ""))


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") in ("text", None))
    return ""


def _request(c: Connection, messages: list[dict[str, Any]], model: str, params: dict[str, Any]) -> tuple[str, dict, dict]:
    headers = {"content-type": "application/json", **c.headers}
    if c.kind == "anthropic":
        system = "\n\n".join(_text(m["content"]) for m in messages if m["role"] in ("system", "developer"))
        turns = [{"role": m["role"], "content": m["content"]} for m in messages if m["role"] not in ("system", "developer")]
        body: dict[str, Any] = {"model": model, "max_tokens": ANTHROPIC_MAX_TOKENS, **params, "messages": turns}
        if system:
            body["system"] = system
        headers["anthropic-version"] = ANTHROPIC_VERSION
        if c.secret:
            headers[c.secret_header or "x-api-key"] = c.secret
        return _endpoint(c.base_url, "/v1/messages"), body, headers
    body = {"model": model, **params, "messages": messages}
    if c.secret:
        if c.secret_header:
            headers[c.secret_header] = c.secret
        else:
            headers["authorization"] = f"Bearer {c.secret}"
    return _endpoint(c.base_url, "/chat/completions"), body, headers


def _provider_message(body: Any) -> str:
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"]
        if isinstance(err, str):
            return err
        if isinstance(body.get("message"), str):
            return body["message"]
    return ""


def complete(source: Session | Connection, connection_id: int | None = None, *, messages: list[dict[str, Any]],
             model: str | None = None, params: dict[str, Any] | None = None, timeout_s: float | None = None,
             workspace_id: int | None = None) -> Completion:
    """One chat completion (see the module's docstring). `source`: a session (then `connection_id`
    names the connection) or a Connection loaded by `connection`."""
    c = source if isinstance(source, Connection) else connection(source, connection_id, workspace_id)
    messages = _messages(messages)
    params = dict(params or {})
    bad = sorted(_RESERVED_PARAMS & set(params))
    if bad:
        raise InvalidInput("errors.llm.reserved_param", field="params", name=bad[0])
    model = model or c.default_model
    if not model:
        raise InvalidInput("errors.llm.no_model", field="model")
    url, body, headers = _request(c, messages, model, params)
    started = time.perf_counter()
    response = outbound.send(c.policy, "POST", url, headers=headers, content=json.dumps(body).encode(),
                             timeout_s=timeout_s)
    latency_ms = (time.perf_counter() - started) * 1000
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if response.status_code >= 400 or not isinstance(answer, dict):
        said = secrets.scrub(_provider_message(answer) or response.text[:300], c.secret)[:500]
        raise Upstream("errors.llm.provider_error", upstream_status=response.status_code,
                       status=response.status_code, said=said or "-")
    if c.kind == "anthropic":
        text = "".join(b.get("text", "") for b in answer.get("content") or [] if isinstance(b, dict)
                       and b.get("type") == "text")
        usage = answer.get("usage") or {}
        tokens_in, tokens_out = usage.get("input_tokens"), usage.get("output_tokens")
        finish = answer.get("stop_reason")
    else:
        choices = answer.get("choices") or [{}]
        message = (choices[0] or {}).get("message") or {}
        text = _text(message.get("content")) if message.get("content") is not None else ""
        usage = answer.get("usage") or {}
        tokens_in, tokens_out = usage.get("prompt_tokens"), usage.get("completion_tokens")
        finish = (choices[0] or {}).get("finish_reason")
    used = answer.get("model") if isinstance(answer.get("model"), str) else model
    tokens_in = tokens_in if isinstance(tokens_in, int) else None
    tokens_out = tokens_out if isinstance(tokens_out, int) else None
    return Completion(text=text, messages=[*messages, {"role": "assistant", "content": text}],
                      input_tokens=tokens_in, output_tokens=tokens_out, cost=costs.cost(used, tokens_in, tokens_out),
                      latency_ms=round(latency_ms, 3), model=used, raw_status=response.status_code,
                      finish_reason=finish)
