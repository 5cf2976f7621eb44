"""The audit trail: who did what to which object."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from promptyard.domain import access
from promptyard.domain.records import AuditRecord, Principal
from promptyard.store.models import AuditEvent, ChangeEvent


def record(session: Session, workspace_id: int, actor: str, action: str, obj_type: str, obj_id: object,
           details: dict[str, Any] | None = None) -> AuditEvent:
    event = AuditEvent(workspace_id=workspace_id, actor=actor, action=action, object_type=obj_type,
                       object_id=str(obj_id), details=details or {})
    session.add(event)
    return event


def changed(session: Session, workspace_id: int, prompt_name: str, kind: str) -> None:
    """Append to the change feed that SDK caches follow (see services/changes.py)."""
    session.add(ChangeEvent(workspace_id=workspace_id, prompt_name=prompt_name, kind=kind))


def list_events(session: Session, p: Principal, *, object_type: str | None = None,
                object_id: str | None = None, limit: int = 100, before_id: int | None = None) -> list[AuditRecord]:
    access.require(p, "read")
    q = select(AuditEvent).where(AuditEvent.workspace_id == p.workspace_id)
    if object_type:
        q = q.where(AuditEvent.object_type == object_type)
    if object_id:
        q = q.where(AuditEvent.object_id == object_id)
    if before_id:
        q = q.where(AuditEvent.id < before_id)
    rows = session.scalars(q.order_by(AuditEvent.id.desc()).limit(min(max(limit, 1), 500)))
    return [AuditRecord(r.id, r.actor, r.action, r.object_type, r.object_id, r.details, r.created_at) for r in rows]
