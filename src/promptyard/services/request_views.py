"""Read models the browser UI needs on top of the request log: pages that go both ways, the
names its filter helpers suggest and one call for the request detail page. Everything goes
through request_log / log_stats for the rules; exports are services/exports.py."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from sqlalchemy import and_, false, or_, select
from sqlalchemy.orm import Session

from promptyard.domain import access, query
from promptyard.domain.records import Principal
from promptyard.errors import InvalidInput, NotFound
from promptyard.services import request_log
from promptyard.store.models import Prompt, PromptVersion, Request, RequestMetadata, RequestTag, Score
from promptyard.store.query_sql import where
from promptyard.store.types import utcnow

SUGGESTIONS = 50  # names per helper list; more would not help anyone pick from a datalist


def encode_cursor(start_time: datetime, number: int) -> str:
    """The same cursor format as request_log.search, so either function accepts the other's."""
    return base64.urlsafe_b64encode(json.dumps([start_time.isoformat(), number]).encode()).decode()


def decode_cursor(value: str) -> tuple[datetime, int]:
    try:
        t, rid = json.loads(base64.urlsafe_b64decode(value.encode()))
        return datetime.fromisoformat(t), int(rid)
    except (ValueError, TypeError):
        raise InvalidInput("cursor: not a cursor this server gave out") from None


def scoped(node: query.Node | None, prompt: str | None, version: int | None) -> query.Node | None:
    """A prompt / version scope folded into the filter, for callers that take only a filter."""
    conds = [query.Cond("prompt", None, "=", prompt)] if prompt else []
    if prompt and version:
        conds.append(query.Cond("version", None, "=", version))
    items = tuple(conds) + ((node,) if node is not None else ())
    return None if not items else items[0] if len(items) == 1 else query.And(items)


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
           before: str | None = None) -> dict[str, Any]:
    """One page newest first, keyset-paged on (start_time, id) with cursors both ways: `after`
    pages to older logs, `before` back to newer ones. Pages stay put while new logs arrive."""
    access.require(p, "read")
    scope, by_id = _scope(session, p, prompt, version)
    # Scoped by prompt id, "+ 0" keeps the workspace check but out of the planner's choice of
    # index: SQLite (without statistics) otherwise walks the workspace's time index and scans
    # the whole log for a rare prompt instead of reading the prompt's own time index.
    ws = Request.workspace_id + 0 if by_id else Request.workspace_id
    q = select(Request).where(ws == p.workspace_id, where(node, utcnow()), *scope)
    if before:
        t, rid = decode_cursor(before)
        q = q.where(or_(Request.start_time > t, and_(Request.start_time == t, Request.id > rid)))
        rows = session.scalars(q.order_by(Request.start_time.asc(), Request.id.asc()).limit(limit + 1)).all()
        more = len(rows) > limit
        items = request_log.summaries(session, list(reversed(rows[:limit])))
        return {"items": items, "next": _edge(items[-1]) if items else None,
                "prev": _edge(items[0]) if more else None}
    if after:
        t, rid = decode_cursor(after)
        q = q.where(or_(Request.start_time < t, and_(Request.start_time == t, Request.id < rid)))
    rows = session.scalars(q.order_by(Request.start_time.desc(), Request.id.desc()).limit(limit + 1)).all()
    items = request_log.summaries(session, rows[:limit])
    # Any page reached by `after` has newer logs: at least the page it came from. An emptied
    # page (its logs deleted) still leads back through its own cursor.
    return {"items": items, "next": _edge(items[-1]) if len(rows) > limit else None,
            "prev": (_edge(items[0]) if items else after) if after else None}


def _edge(item: dict[str, Any]) -> str:
    return encode_cursor(item["start_time"], item["number"])


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


def annotate(session: Session, p: Principal, ref: str, kind: str, payload: Any, *, grace_s: int) -> dict:
    """Metadata or a score from the UI, for a stored request only: an unknown id is NotFound here,
    never kept as a pending update (that is for SDKs whose log is still on its way)."""
    access.require(p, "ingest")
    cond = Request.client_id == ref
    if ref.isdigit() and len(ref) < 16:
        cond = or_(cond, Request.id == int(ref))
    if session.scalar(select(Request.id).where(Request.workspace_id == p.workspace_id, cond).limit(1)) is None:
        raise NotFound(f"no request with id {ref}")
    return request_log.annotate(session, p, ref, kind, payload, grace_s=grace_s)


def detail(session: Session, p: Principal, ref: str) -> dict[str, Any]:
    """Everything the detail page shows: the request (request_log.get) and the score names in use
    in the workspace, so each can be set from the page."""
    out = request_log.get(session, p, ref)
    names = set(_distinct(session, Score.name, Score.workspace_id, p.workspace_id))
    out["score_names"] = sorted(names | {s["name"] for s in out["scores"]})
    return out
