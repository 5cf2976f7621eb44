"""Reading the request log: a request by its id or number, pages newest first (keyset cursors
both ways), one request with everything linked (and, for the detail page, the score names in
use), every match of a filter in batches (for exports), and the names the filter helpers
suggest. Writing is services/request_ingest.py and services/request_annotations.py; statistics
are services/log_stats.py, exports services/exports.py."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any, Iterator

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.orm import Session

from promptyard.domain import access, query, text_tokens
from promptyard.domain.logs import text_of
from promptyard.domain.numbers import ROW_ID_MAX, ascii_int
from promptyard.domain.records import Principal
from promptyard.errors import InvalidInput, NotFound
from promptyard.services import redaction, traces
from promptyard.services.render_pool import TemplateEngine
from promptyard.store import bulk, query_plan
from promptyard.store.models import Prompt, PromptVersion, Request, RequestMetadata, RequestTag, Score
from promptyard.store.types import utcnow

SUGGESTIONS = 50  # names per helper list; more would not help anyone pick from a datalist


def find(session: Session, p: Principal, ref: str) -> int | None:
    """The row id of a request by its client id or its number; None when there is none."""
    cond = Request.client_id == ref
    number = ascii_int(ref, hi=ROW_ID_MAX)
    if number is not None:
        cond = or_(cond, Request.id == number)
    return session.scalar(select(Request.id).where(Request.workspace_id == p.workspace_id, cond).limit(1))


def encode_cursor(start_time: datetime, number: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([start_time.isoformat(), number]).encode()).decode()


def decode_cursor(value: str) -> tuple[datetime, int]:
    try:
        t, rid = json.loads(base64.urlsafe_b64decode(value.encode()))
        return datetime.fromisoformat(t), int(rid)
    except (ValueError, TypeError):
        raise InvalidInput("errors.requests.cursor_cursor_server_gave") from None


def _scope(session: Session, p: Principal, prompt: str | None, version: int | None) -> tuple[list[Any], bool]:
    """One prompt (or version) by its id when the registry knows it: the (prompt_id, start_time)
    and (prompt_version_id, start_time) indexes then give a page at once however rare the prompt
    is (by name, a prompt with few logs meant scanning the whole log: 1.8 s on a million). Logs
    of a name the registry does not know are matched by name. True when scoped by id."""
    if not prompt:
        return [], False
    pid = session.scalar(select(Prompt.id).where(Prompt.workspace_id == p.workspace_id, Prompt.name == prompt))
    if pid is None:
        return [Request.prompt_name == prompt] + ([Request.version_number == version] if version else []), False
    if not version:
        return [Request.prompt_id == pid], True
    vid = session.scalar(select(PromptVersion.id).where(PromptVersion.prompt_id == pid,
                                                        PromptVersion.number == version))
    return ([Request.prompt_version_id == vid] if vid is not None else [false()]), True


def browse(session: Session, p: Principal, *, node: query.Node | None, prompt: str | None = None,
           version: int | None = None, limit: int = 50, after: str | None = None,
           before: str | None = None, full: bool = False, count: bool = False,
           plan: str | int | None = None) -> dict[str, Any]:
    """One page newest first, keyset-paged on (start_time, id) with cursors both ways: `after`
    pages to older logs, `before` back to newer ones. Pages stay put while new logs arrive.
    `full`: the items carry their input and output too (see summaries). `count`: the answer
    has `matching` {count, more}: how many logs match, exact up to query_plan.count_bound, else
    `more` (more than count). store/query_plan.py picks how the rows are read (`plan` forces
    one, for tests and benchmarks); the rows are the same whichever it picks."""
    access.require(p, "read")
    scope, by_id = _scope(session, p, prompt, version)
    chosen = query_plan.choose(session, node, p.workspace_id, limit=limit, force=plan)
    now = utcnow()
    # Scoped by prompt id, "+ 0" keeps the workspace check but out of the planner's choice of
    # index: SQLite (without statistics) otherwise walks the workspace's time index and scans
    # the whole log for a rare prompt instead of reading the prompt's own time index.
    ws = Request.workspace_id + 0 if by_id else chosen.workspace()
    q = select(Request).where(ws == p.workspace_id, chosen.where(now), *scope)
    out = _page(session, q, limit, after, before, full, node)
    if count:
        counting = query_plan.counting(session, chosen)
        cws = Request.workspace_id + 0 if by_id else counting.workspace()
        n, more = query_plan.count(session, counting.ids(now).where(cws == p.workspace_id, *scope),
                                   query_plan.count_bound(session, counting))
        out["matching"] = {"count": n, "more": more}
    return out


def _page(session: Session, q: Any, limit: int, after: str | None, before: str | None,
          full: bool, node: query.Node | None) -> dict[str, Any]:
    if before:
        t, rid = decode_cursor(before)
        q = q.where(or_(Request.start_time > t, and_(Request.start_time == t, Request.id > rid)))
        rows = session.scalars(q.order_by(Request.start_time.asc(), Request.id.asc()).limit(limit + 1)).all()
        more = len(rows) > limit
        items = _highlighted(summaries(session, list(reversed(rows[:limit])), full=full),
                             list(reversed(rows[:limit])), node)
        return {"items": items, "next": _edge(items[-1]) if items else None,
                "prev": _edge(items[0]) if more else None}
    if after:
        t, rid = decode_cursor(after)
        q = q.where(or_(Request.start_time < t, and_(Request.start_time == t, Request.id < rid)))
    rows = session.scalars(q.order_by(Request.start_time.desc(), Request.id.desc()).limit(limit + 1)).all()
    items = _highlighted(summaries(session, rows[:limit], full=full), rows[:limit], node)
    # Any page reached by `after` has newer logs: at least the page it came from. An emptied
    # page (its logs deleted) still leads back through its own cursor.
    return {"items": items, "next": _edge(items[-1]) if len(rows) > limit else None,
            "prev": (_edge(items[0]) if items else after) if after else None}


def _highlighted(items: list[dict], rows: list[Request], node: query.Node | None) -> list[dict]:
    """Under a text filter each item carries `match`: where its text matched (domain/text_tokens.first_match)."""
    queries = text_tokens.text_queries(node)
    if queries:
        for item, r in zip(items, rows):
            item["match"] = text_tokens.first_match(queries, {"input": text_of(r.input), "output": text_of(r.output)})
    return items


def _edge(item: dict[str, Any]) -> str:
    return encode_cursor(item["start_time"], item["number"])


def search(session: Session, p: Principal, *, node: query.Node | None = None, prompt: str | None = None,
           version: int | None = None, limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
    """One page newest first (`items`), the cursor of the next (older) one (`next_cursor`) and
    how many logs match (`matching`): browse() one way, as the API answers."""
    found = browse(session, p, node=node, prompt=prompt, version=version, limit=limit, after=cursor or None,
                   count=True)
    return {"items": found["items"], "next_cursor": found["next"], "matching": found["matching"]}


SORTS = {"time": Request.start_time, "input_tokens": Request.input_tokens, "output_tokens": Request.output_tokens,
         "cost": Request.cost, "latency": Request.latency_ms, "status": Request.status}


def numbered(session: Session, p: Principal, *, node: query.Node | None, sort: str = "time",
             descending: bool = True, page: int = 1, per_page: int = 25) -> dict[str, Any]:
    """Page `page` (1 first) of `per_page` matches sorted by `sort` (SORTS; logs without the value
    last, ties in number order the same way), with `total`, the exact number of matches: for
    APIs paged by number (PromptLayer's search). Our own pages are keyset-paged (browse): they
    stay put while logs arrive, numbered pages shift."""
    access.require(p, "read")
    if sort not in SORTS:
        raise InvalidInput("errors.compat_reads.sort_key", sorts=", ".join(SORTS))
    chosen = query_plan.choose(session, node, p.workspace_id, limit=per_page * page)
    now = utcnow()
    col = SORTS[sort]
    order = ([] if sort == "time" else [col.is_(None)]) + (
        [col.desc(), Request.id.desc()] if descending else [col.asc(), Request.id.asc()])
    rows = session.scalars(select(Request).where(chosen.workspace() == p.workspace_id, chosen.where(now))
                           .order_by(*order).limit(per_page).offset((page - 1) * per_page)).all()
    counting = query_plan.counting(session, chosen)
    total = session.scalar(select(func.count()).select_from(
        counting.ids(now).where(counting.workspace() == p.workspace_id).subquery())) or 0
    return {"items": summaries(session, list(rows)), "total": total}


def summaries(session: Session, rows: list[Request], *, full: bool = False) -> list[dict]:
    """The list fields of each request with its metadata, scores and the trace and span it came
    from (`trace_id`, `span_id`: null for a log not sent as a span; `full`: with the input and
    output too, for exports). Plain rows, not ORM objects: an export reads a million of them."""
    ids = [r.id for r in rows]
    meta: dict[int, dict] = {i: {} for i in ids}
    scores: dict[int, dict] = {i: {} for i in ids}
    if ids:
        for rid, key, value in session.execute(select(RequestMetadata.request_id, RequestMetadata.key,
                                                      RequestMetadata.value).where(bulk.one_of(RequestMetadata.request_id, ids))):
            meta[rid][key] = value
        for rid, name, value in session.execute(select(Score.request_id, Score.name, Score.value)
                                                .where(bulk.one_of(Score.request_id, ids))):
            scores[rid][name] = value
    links = traces.links_of(session, rows[0].workspace_id, ids) if rows else {}
    out = [_summary(r, meta[r.id], scores[r.id]) | _trace_ids(links.get(r.id)) for r in rows]
    if full:
        for item, r in zip(out, rows):
            item.update(input=r.input, output=r.output, input_text=text_of(r.input), output_text=text_of(r.output),
                        error=_error(r), input_variables=r.input_variables, routing=r.routing)
    return out


def _trace_ids(link: dict[str, str] | None) -> dict[str, str | None]:
    return {"trace_id": link["trace_id"], "span_id": link["span_id"]} if link else {"trace_id": None, "span_id": None}


def _error(r: Request) -> dict | None:
    return {"type": r.error_type, "message": r.error_message} if r.status == "error" else None


def _summary(r: Request, meta: dict, scores: dict) -> dict:
    return {"id": r.client_id, "number": r.id, "start_time": r.start_time, "end_time": r.end_time,
            "latency_ms": r.latency_ms, "provider": r.provider, "model": r.model, "status": r.status,
            "prompt": r.prompt_name, "version": r.version_number, "label": r.label,
            "input_tokens": r.input_tokens, "output_tokens": r.output_tokens, "total_tokens": r.total_tokens,
            "cost": r.cost, "tags": list(r.tags or []), "group": r.group_id, "metadata": meta, "scores": scores}


def get(session: Session, p: Principal, ref: str, engine: TemplateEngine) -> dict:
    """One request with everything linked, and the template version rendered with its variables."""
    access.require(p, "read")
    rid = find(session, p, ref)
    if rid is None:
        raise NotFound("errors.requests.no_request_id", ref=ref)
    r = session.get(Request, rid)
    out = _summary(r, {}, {})
    out["metadata"] = {m.key: m.value for m in session.scalars(
        select(RequestMetadata).where(RequestMetadata.request_id == rid))}
    out["scores"] = [{"name": s.name, "value": s.value, "comment": s.comment, "source": s.source,
                      "author": s.author, "created_at": s.created_at, "updated_at": s.updated_at}
                     for s in session.scalars(select(Score).where(Score.request_id == rid).order_by(Score.name))]
    out.update(input=r.input, output=r.output, parameters=r.parameters, function_name=r.function_name,
               error=_error(r),
               input_variables=r.input_variables, routing=r.routing, received_at=r.received_at,
               prompt_id=r.prompt_id, rendered_template=_rendered(session, r, engine),
               redacted=redaction.counts_of(session, p, rid), trace=traces.link_of(session, p.workspace_id, rid))
    return out


def _rendered(session: Session, r: Request, engine: TemplateEngine) -> dict | None:
    if not r.prompt_version_id:
        return None
    v = session.get(PromptVersion, r.prompt_version_id)
    try:  # in a bounded worker process, like every Jinja2 render
        return engine.render(v.kind, v.template, v.template_format, r.input_variables or {}, strict=False)
    except InvalidInput as exc:
        return {"error": exc.message}


def iterate(session: Session, p: Principal, node: query.Node | None, batch: int = 1000) -> Iterator[dict]:
    """Every matching request with its input and output, newest first, in keyset batches
    (constant memory for exports). The rights are checked now, not at the first batch: a
    streamed answer has started by then."""
    access.require(p, "read")

    def batches() -> Iterator[dict]:
        after = None
        while True:
            found = browse(session, p, node=node, limit=batch, after=after, full=True)
            yield from found["items"]
            after = found["next"]
            if not after:
                return

    return batches()


# --- for the browser UI's filter helpers, links and detail page --------------------------------


def scoped(node: query.Node | None, prompt: str | None, version: int | None) -> query.Node | None:
    """A prompt / version scope folded into the filter, for callers that take only a filter."""
    conds = [query.Cond("prompt", None, "=", prompt)] if prompt else []
    if prompt and version:
        conds.append(query.Cond("version", None, "=", version))
    items = tuple(conds) + ((node,) if node is not None else ())
    return None if not items else items[0] if len(items) == 1 else query.And(items)


def _distinct(session: Session, column: Any, ws_col: Any, workspace_id: int) -> list[str]:
    """Distinct values of an indexed (workspace_id, column) by index seeks (a loose index scan):
    a million rows with three names cost three seeks, not a scan."""
    out: list[str] = []
    while len(out) < SUGGESTIONS:
        cond = [ws_col == workspace_id] + ([column > out[-1]] if out else [])
        nxt = session.scalar(select(column).where(*cond).order_by(column).limit(1))
        if nxt is None:
            break
        out.append(nxt)
    return out


def suggestions(session: Session, p: Principal) -> dict[str, list[str]]:
    """Names for the filter helpers and the score form: metadata keys, score names, tags, prompts."""
    access.require(p, "read")
    ws = p.workspace_id
    prompts = session.scalars(select(Prompt.name).where(Prompt.workspace_id == ws)
                              .order_by(Prompt.name).limit(200)).all()
    return {"metadata_keys": _distinct(session, RequestMetadata.key, RequestMetadata.workspace_id, ws),
            "score_names": _distinct(session, Score.name, Score.workspace_id, ws),
            "tags": _distinct(session, RequestTag.tag, RequestTag.workspace_id, ws),
            "prompts": list(prompts)}


def prompt_ids(session: Session, p: Principal, names: set[str]) -> dict[str, int]:
    """Prompt ids by name, for links from a page of logs (which carry names)."""
    access.require(p, "read")
    if not names:
        return {}
    return dict(session.execute(select(Prompt.name, Prompt.id).where(
        Prompt.workspace_id == p.workspace_id, Prompt.name.in_(sorted(names)))).all())


def detail(session: Session, p: Principal, ref: str, engine: TemplateEngine) -> dict[str, Any]:
    """Everything the detail page shows: the request (get) and the score names in use
    in the workspace, so each can be set from the page."""
    out = get(session, p, ref, engine)
    names = set(_distinct(session, Score.name, Score.workspace_id, p.workspace_id))
    out["score_names"] = sorted(names | {s["name"] for s in out["scores"]})
    return out
