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
(temperature, max_tokens, top_p, stop, ...; Anthropic gets max_tokens 1024 unless given).

The call is made by the official client of the connection's kind - `openai.OpenAI` (OpenAI, Azure OpenAI
and any OpenAI-compatible base URL; a query in the base URL, Azure's `?api-version=...`, rides on every
call) or `anthropic.Anthropic` - built for each call over `outbound.client(policy)`, the pooled HTTP client
whose every connection is checked by services/outbound.py. Retries are ours, not the SDKs': the clients
get `max_retries=0` and each attempt runs inside `outbound.attempts` (deadline `timeout_s` for the whole
call, retries on connection errors, 429 and 5xx with back-off and Retry-After), the same loop webhooks use.
The clients are given every credential explicitly, so none is taken from the server's environment
(OPENAI_API_KEY, OPENAI_ORG_ID, ANTHROPIC_API_KEY, ... are never sent to a workspace's provider).

Errors: Upstream (502) when the provider answered with an error (its status in `upstream_status`; the
provider's message, with the secret scrubbed out) or not at all; InvalidInput for a refused URL or bad
messages. The secret never appears in an error, a log line or a record.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import anthropic
import openai
from sqlalchemy import select
from sqlalchemy.orm import Session

from promptyard.domain import costs
from promptyard.errors import InvalidInput, NotFound, Upstream
from promptyard.services import outbound, providers, secrets
from promptyard.store.models import ProviderConnection

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


def _split_query(base_url: str) -> tuple[str, dict[str, str]]:
    """The base URL without its query, and the query (Azure's api-version) to send on every call."""
    parts = urlsplit(base_url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")), dict(parse_qsl(parts.query))


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") in ("text", None))
    return ""


def _client(c: Connection) -> tuple[openai.OpenAI | anthropic.Anthropic, dict[str, Any]]:
    """The official client for this connection over the checked HTTP client, and the headers each request
    adds. The secret goes in the header the connection names (default: OpenAI's bearer token, Anthropic's
    x-api-key); what the SDK would otherwise take from the environment is given or omitted here."""
    base_url, query = _split_query(c.base_url)
    common = {"base_url": base_url, "default_query": query or None, "max_retries": 0,
              "http_client": outbound.client(c.policy)}
    named = {c.secret_header: c.secret} if c.secret and c.secret_header else {}
    if c.kind == "anthropic":
        named = named or ({"x-api-key": c.secret} if c.secret else {})
        return anthropic.Anthropic(api_key=c.secret or "", default_headers={**c.headers, **named}, **common), \
            {"Authorization": anthropic.Omit()}
    bearer = bool(c.secret) and not named
    client = openai.OpenAI(api_key=c.secret if bearer else "-", organization=None, project=None,
                           default_headers={**c.headers, **named, "OpenAI-Organization": openai.Omit(),
                                            "OpenAI-Project": openai.Omit()}, **common)
    return client, {} if bearer else {"Authorization": openai.Omit()}


def _create(c: Connection, messages: list[dict[str, Any]], model: str, params: dict[str, Any]) -> Any:
    """The SDK's create call (raw: the answer is read after our retry loop), as a function of the timeout."""
    client, headers = _client(c)
    if c.kind == "anthropic":
        system = "\n\n".join(_text(m["content"]) for m in messages if m["role"] in ("system", "developer"))
        turns = [{"role": m["role"], "content": m["content"]} for m in messages if m["role"] not in ("system", "developer")]
        rest = dict(params)
        max_tokens = rest.pop("max_tokens", ANTHROPIC_MAX_TOKENS)
        extra = {"system": system} if system else {}
        return lambda timeout: client.messages.with_raw_response.create(
            model=model, max_tokens=max_tokens, messages=turns, **extra, extra_body=rest or None,
            extra_headers=headers, timeout=timeout)
    return lambda timeout: client.chat.completions.with_raw_response.create(
        model=model, messages=messages, extra_body=params or None, extra_headers=headers or None, timeout=timeout)


def _attempt(create: Any, answered: list[Any]) -> Any:
    """One attempt for outbound.attempts: the HTTP answer (the SDK's error answers too), or what httpx2
    raised when none came. The parsed success is kept in `answered`."""

    def attempt(timeout: Any) -> Any:
        try:
            raw = create(timeout)
        except (openai.APIStatusError, anthropic.APIStatusError) as exc:
            return exc.response
        except (openai.APIConnectionError, anthropic.APIConnectionError) as exc:
            if exc.__cause__ is not None:  # httpx2's own error: outbound decides about retrying it
                raise exc.__cause__ from None
            raise
        answered.append(raw)
        return raw.http_response

    return attempt


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
    answered: list[Any] = []
    started = time.perf_counter()
    try:
        response = outbound.attempts(c.policy, c.base_url, _attempt(_create(c, messages, model, params), answered),
                                     timeout_s=timeout_s)
    except (openai.OpenAIError, anthropic.AnthropicError):
        raise Upstream("errors.outbound.unreachable", url=outbound.shown(c.base_url)) from None
    latency_ms = (time.perf_counter() - started) * 1000
    try:
        answer = answered[-1].parse() if response.status_code < 400 and answered else None
    except (ValueError, openai.OpenAIError, anthropic.AnthropicError):
        answer = None
    if answer is None or isinstance(answer, str):
        try:
            said = _provider_message(response.json())
        except ValueError:
            said = ""
        said = secrets.scrub(said or response.text[:300], c.secret)[:500]
        raise Upstream("errors.llm.provider_error", upstream_status=response.status_code,
                       status=response.status_code, said=said or "-")
    if c.kind == "anthropic":
        text = "".join(getattr(b, "text", "") or "" for b in answer.content or [] if getattr(b, "type", "") == "text")
        usage = answer.usage
        tokens_in, tokens_out = getattr(usage, "input_tokens", None), getattr(usage, "output_tokens", None)
        finish = answer.stop_reason
    else:
        choice = answer.choices[0] if answer.choices else None
        text = _text(choice.message.content) if choice is not None and choice.message else ""
        usage = answer.usage
        tokens_in, tokens_out = getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None)
        finish = choice.finish_reason if choice is not None else None
    used = answer.model if isinstance(answer.model, str) and answer.model else model
    tokens_in = tokens_in if isinstance(tokens_in, int) else None
    tokens_out = tokens_out if isinstance(tokens_out, int) else None
    return Completion(text=text, messages=[*messages, {"role": "assistant", "content": text}],
                      input_tokens=tokens_in, output_tokens=tokens_out, cost=costs.cost(used, tokens_in, tokens_out),
                      latency_ms=round(latency_ms, 3), model=used, raw_status=response.status_code,
                      finish_reason=finish)
