"""The registry change feed: a cheap, monotonic list of "prompt X changed" events.

SDKs long-poll it (`since` = the last id they saw) and drop cached entries of the prompts
named, so a label move reaches every process within seconds without polling each prompt.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from promptyard.domain import access
from promptyard.domain.records import Principal
from promptyard.store.models import ChangeEvent


def cursor(session: Session, workspace_id: int) -> int:
    """The workspace's newest change id (0 before any change)."""
    return session.scalar(select(func.max(ChangeEvent.id)).where(ChangeEvent.workspace_id == workspace_id)) or 0


def latest_id(session: Session, p: Principal) -> int:
    access.require(p, "prompts:read")
    return cursor(session, p.workspace_id)


def since(session: Session, p: Principal, after_id: int, limit: int = 500) -> list[dict]:
    access.require(p, "prompts:read")
    rows = session.execute(
        select(ChangeEvent.id, ChangeEvent.prompt_name, ChangeEvent.kind)
        .where(ChangeEvent.workspace_id == p.workspace_id, ChangeEvent.id > after_id)
        .order_by(ChangeEvent.id).limit(limit)
    )
    return [{"id": r.id, "prompt": r.prompt_name, "kind": r.kind} for r in rows]
