"""The playground: try a changed prompt on a logged request's inputs, as an unsaved draft.

A draft starts from a logged request (`start`): its prompt version (template, format, model and
parameters) with the variables the log carried; a log linked to no version starts from the messages it
sent, as an f-string template that renders them as they were. A draft lives only in the page's form:
nothing is stored until it is run or saved, and it never touches the registry or a label.

Running a draft (`prepare`, then `call` - or `call_all` for several at once - outside any transaction,
then `store`) renders it
(services/render_pool), sends it through a provider connection (services/llm_calls) and stores the
answer the way evaluation runs store theirs (services/evaluation_runner): a request log through the
normal ingest (redaction included) with its own source (`playground`), a tag (`playground`) and
metadata (`promptyard.source` = playground, `promptyard.playground_from`: the request it started
from, `promptyard.playground_draft`: A or B, and `promptyard.playground_prompt` / `_version` when the
draft started from a version), and NOT linked to a prompt version: it never counts in the version's
analytics or in an experiment. Search finds them: `tag = "playground"`.

Saving a draft is services/versions.publish (a new version; no label moves). Rights: opening a draft
needs read; running one needs write, like picking a connection (providers.choices), since a run costs
money and writes a log; scoring its output needs ingest (request_annotations); saving needs write.
"""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from promptyard.domain import access, templates
from promptyard.domain.logs import text_of
from promptyard.domain.records import Principal
from promptyard.errors import InvalidInput, NotFound, PromptyardError
from promptyard.services import llm_calls, request_ingest, request_reads, versions
from promptyard.services.render_pool import TemplateEngine
from promptyard.store.models import Request
from promptyard.store.types import utcnow

SOURCE = TAG = "playground"
METADATA_SOURCE = "promptyard.source"
METADATA_FROM = "promptyard.playground_from"
METADATA_DRAFT = "promptyard.playground_draft"
METADATA_PROMPT = "promptyard.playground_prompt"
METADATA_VERSION = "promptyard.playground_version"
TIMEOUT_S = 60.0  # one run's provider call, retries included
MAX_VARIABLES = 100


@dataclass(frozen=True)
class Draft:
    """A draft's starting point, with the field names of a VersionRecord (web/ui/version_form.py
    reads either)."""

    kind: str
    template: dict[str, Any]
    template_format: str
    provider: str | None
    model: str | None
    parameters: dict[str, Any]


@dataclass(frozen=True)
class Start:
    request: dict[str, Any]  # request_reads.get: the logged request, its output and scores
    draft: Draft
    variables: dict[str, str]  # the logged variables as the form shows them (JSON for non-text values)
    prompt_id: int | None  # the registry prompt a draft is saved to (None: the log names none)
    version: int | None  # the version the draft started from


@dataclass(frozen=True)
class Prepared:
    """A draft ready to send: what `call` needs and what `store` records."""

    connection: llm_calls.Connection
    messages: list[dict[str, Any]]
    model: str | None
    params: dict[str, Any]
    metadata: dict[str, str] = field(default_factory=dict)


def start(session: Session, p: Principal, ref: str, engine: TemplateEngine) -> Start:
    """The draft a logged request opens: its version, or the messages it sent."""
    item = request_reads.get(session, p, ref, engine)
    if item["prompt_id"] and item["version"]:
        v = versions.get(session, p, item["prompt_id"], item["version"])
        draft = Draft(v.kind, v.template, v.template_format, v.provider, v.model, dict(v.parameters or {}))
    else:
        draft = Draft("chat", {"messages": _sent_messages(item["input"])}, "f-string", item["provider"],
                      item["model"], dict(item["parameters"] or {}))
    given = item["input_variables"] if isinstance(item["input_variables"], dict) else {}
    shown = {str(k): v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for k, v in given.items()}
    return Start(item, draft, shown, item["prompt_id"], item["version"] if item["prompt_id"] else None)


def _sent_messages(logged: Any) -> list[dict[str, str]]:
    """A log's input messages as a template rendering to the same texts (braces doubled)."""
    messages = logged.get("messages") if isinstance(logged, dict) else logged
    out = []
    for m in messages if isinstance(messages, list) else []:
        if isinstance(m, dict) and m.get("role") in templates.ROLES:
            out.append({"role": m["role"], "content": templates.escape_fstring(text_of(m.get("content")))})
    if not out:  # a shape without messages: its text as one user message
        out = [{"role": "user", "content": templates.escape_fstring(text_of(logged))}]
    return out


def values(texts: dict[str, str]) -> dict[str, Any]:
    """The variables typed into the form: text as it is, except a JSON array or object, which is sent
    as that value (a Jinja2 template can loop over it)."""
    if len(texts) > MAX_VARIABLES:
        raise InvalidInput("errors.playground.too_many_variables", field="variables", limit=MAX_VARIABLES)
    out: dict[str, Any] = {}
    for name, text in texts.items():
        value: Any = text
        if text.lstrip()[:1] in ("[", "{"):
            try:
                value = json.loads(text)
            except ValueError:
                value = text
        out[name] = value
    return out


def prepare(session: Session, p: Principal, ref: str, draft: dict[str, Any], variables: dict[str, Any],
            connection_id: int | None, engine: TemplateEngine, column: str = "A") -> Prepared:
    """A draft (`VersionForm.draft()`: kind, template, template_format, model, parameters) rendered with
    `variables` (strict: a variable without a value is an error) for connection `connection_id`."""
    access.require(p, "write")
    origin = request_reads.find(session, p, ref)
    if origin is None:
        raise NotFound("errors.requests.no_request_id", ref=ref)
    if connection_id is None:
        raise InvalidInput("errors.playground.no_connection", field="connection")
    connection = llm_calls.connection(session, connection_id, p.workspace_id)
    rendered = engine.render(draft["kind"], draft["template"], draft["template_format"], variables, strict=True)
    logged = session.get(Request, origin)
    meta = {METADATA_SOURCE: SOURCE, METADATA_FROM: str(origin), METADATA_DRAFT: column}
    if logged.prompt_id and logged.version_number:
        meta |= {METADATA_PROMPT: logged.prompt_name, METADATA_VERSION: str(logged.version_number)}
    return Prepared(connection, templates.as_messages(draft["kind"], rendered), draft["model"],
                    dict(draft["parameters"]), meta)


@dataclass(frozen=True)
class Ran:
    answer: llm_calls.Completion
    started: datetime
    ended: datetime


def call(prepared: Prepared) -> Ran:
    """The provider's answer (Upstream when it fails); hold no transaction open around it."""
    started = utcnow()
    answer = llm_calls.complete(prepared.connection, None, messages=prepared.messages, model=prepared.model,
                                params=prepared.params, timeout_s=TIMEOUT_S)
    return Ran(answer, started, utcnow())


def call_all(drafts: list[Prepared]) -> list[Ran | PromptyardError]:
    """Each draft's answer, or the error that stopped it, the drafts sent at the same time (a page's
    two drafts take as long as the slower one)."""
    def one(prepared: Prepared) -> Ran | PromptyardError:
        try:
            return call(prepared)
        except PromptyardError as exc:
            return exc

    if len(drafts) < 2:
        return [one(d) for d in drafts]
    with ThreadPoolExecutor(len(drafts), thread_name_prefix="promptyard-playground") as pool:
        return list(pool.map(one, drafts))


def store(session: Session, p: Principal, prepared: Prepared, ran: Ran) -> int:
    """The run's answer as a playground request log (see the module's docstring); its number."""
    client_id, answer = f"playground-{uuid.uuid4().hex}", ran.answer
    raw = {"id": client_id, "start_time": ran.started.isoformat(), "end_time": ran.ended.isoformat(),
           "provider": prepared.connection.kind, "model": answer.model,
           "input": {"messages": prepared.messages, "parameters": prepared.params},
           "output": {"messages": [{"role": "assistant", "content": answer.text}]},
           "usage": {"input_tokens": answer.input_tokens, "output_tokens": answer.output_tokens},
           "cost": answer.cost, "metadata": prepared.metadata, "tags": [TAG]}
    result = request_ingest.ingest(session, p, [raw], max_batch=1, source=SOURCE)
    if result["errors"]:
        raise InvalidInput("errors.playground.not_stored", reason=result["errors"][0]["message"])
    return request_reads.find(session, p, client_id)
