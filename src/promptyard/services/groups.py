"""Request groups with integer ids (PromptLayer's `/create-group`, `/track-group`): a group is a
bucket of requests (e.g. one conversation); requests store the id as their `group`."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from promptyard.domain import access
from promptyard.domain.records import Principal
from promptyard.errors import NotFound
from promptyard.services import request_annotations
from promptyard.store.models import RequestGroup


def create(session: Session, p: Principal) -> int:
    access.require(p, "ingest")
    group = RequestGroup(workspace_id=p.workspace_id)
    session.add(group)
    session.flush()
    return group.id


def attach(session: Session, p: Principal, ref: str, group_id: int) -> None:
    """Put a logged request into a group created by `create` in the same workspace."""
    access.require(p, "ingest")
    found = session.scalar(select(RequestGroup.id).where(RequestGroup.workspace_id == p.workspace_id,
                                                         RequestGroup.id == group_id))
    if found is None:
        raise NotFound("errors.users.no_group_id", group_id=group_id)
    request_annotations.set_group(session, p, ref, str(group_id))
