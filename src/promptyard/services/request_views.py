"""What the browser UI needs on top of the request log: the names its filter helpers suggest,
prompt links, one call for the request detail page, and annotations of stored requests only.
Pages of logs are request_reads.browse; exports are services/exports.py."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from promptyard.domain import access, query
from promptyard.domain.records import Principal
from promptyard.errors import NotFound
from promptyard.services import request_log, request_reads
from promptyard.services.render_pool import TemplateEngine
from promptyard.store.models import Prompt, RequestMetadata, RequestTag, Score

SUGGESTIONS = 50  # names per helper list; more would not help anyone pick from a datalist


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


def annotate(session: Session, p: Principal, ref: str, kind: str, payload: Any, *, grace_s: int) -> dict:
    """Metadata or a score from the UI, for a stored request only: an unknown id is NotFound here,
    never kept as a pending update (that is for SDKs whose log is still on its way)."""
    access.require(p, "ingest")
    if request_log.find(session, p, ref) is None:
        raise NotFound(f"no request with id {ref}")
    return request_log.annotate(session, p, ref, kind, payload, grace_s=grace_s)


def detail(session: Session, p: Principal, ref: str, engine: TemplateEngine) -> dict[str, Any]:
    """Everything the detail page shows: the request (request_reads.get) and the score names in use
    in the workspace, so each can be set from the page."""
    out = request_reads.get(session, p, ref, engine)
    names = set(_distinct(session, Score.name, Score.workspace_id, p.workspace_id))
    out["score_names"] = sorted(names | {s["name"] for s in out["scores"]})
    return out
