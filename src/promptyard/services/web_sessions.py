"""Browser logins: a random session token in an HttpOnly cookie, stored only as its SHA-256 hash
(like API keys: a stolen database copy cannot be replayed), with a per-session CSRF token and an
expiry time."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from promptyard.errors import NotFound, Unauthorized
from promptyard.services import audit
from promptyard.store.models import Membership, User, WebSession, Workspace
from promptyard.store.types import utcnow


@dataclass(frozen=True)
class WebLogin:
    """Who a session cookie belongs to, in which workspace and with which role."""

    session_id: int
    user_id: int
    email: str
    name: str
    workspace_id: int
    role: str
    locale: str | None
    time_zone: str | None
    csrf_token: str
    expires_at: datetime
    workspace_time_zone: str | None = None  # the workspace's display settings (services/workspace_display)
    currency: dict[str, Any] | None = None


def _hash(raw: str) -> str:
    # The token is 32 random bytes, so a fast hash is enough (nothing to guess from a dictionary).
    return hashlib.sha256(raw.encode()).hexdigest()


def open_session(session: Session, user_id: int, *, hours: int,
                 workspace_id: int | None = None) -> tuple[str, WebLogin]:
    """A new session for a user whose password was checked (users.check_password); returns the
    raw token (for the cookie) and the login. It opens in `workspace_id` when given (the user must
    be a member), else in the user's oldest membership."""
    q = select(Membership).where(Membership.user_id == user_id)
    if workspace_id is not None:
        q = q.where(Membership.workspace_id == workspace_id)
    membership = session.scalar(q.order_by(Membership.id).limit(1))
    if membership is None:
        raise Unauthorized("errors.users.account_member_any_workspace",
                           details={"reason": "no_workspace"})
    now = utcnow()
    # Expired sessions of this user are dropped here, so the table never grows without bound.
    session.execute(delete(WebSession).where(WebSession.user_id == user_id, WebSession.expires_at < now))
    raw = secrets.token_urlsafe(32)
    session.add(WebSession(token_hash=_hash(raw), user_id=user_id, workspace_id=membership.workspace_id,
                           csrf_token=secrets.token_urlsafe(32), expires_at=now + timedelta(hours=hours)))
    session.flush()
    found = lookup(session, raw)
    assert found is not None  # just created
    audit.record(session, membership.workspace_id, found.email, "user.login", "user", user_id)
    return raw, found


def lookup(session: Session, raw: str | None) -> WebLogin | None:
    """The login for a cookie value; None when unknown, expired, or the membership was removed."""
    if not raw or len(raw) > 200:
        return None
    q = (select(WebSession, User, Membership.role, Workspace.time_zone, Workspace.currency)
         .join(User, User.id == WebSession.user_id)
         .join(Workspace, Workspace.id == WebSession.workspace_id)
         .join(Membership, (Membership.user_id == WebSession.user_id)
               & (Membership.workspace_id == WebSession.workspace_id))
         .where(WebSession.token_hash == _hash(raw)))
    row = session.execute(q).first()
    if row is None:
        return None
    ws, user, role, zone, currency = row
    if ws.expires_at <= utcnow():
        return None
    return WebLogin(ws.id, user.id, user.email, user.name, ws.workspace_id, role, user.locale, user.time_zone,
                    ws.csrf_token, ws.expires_at, zone, currency)


def logout(session: Session, raw: str | None) -> None:
    if raw:
        session.execute(delete(WebSession).where(WebSession.token_hash == _hash(raw)))


def end_in_workspace(session: Session, user_id: int, workspace_id: int) -> None:
    """Close a user's sessions in one workspace (after removal from it); their sessions in other
    workspaces are not this workspace's admins' business."""
    session.execute(delete(WebSession).where(WebSession.user_id == user_id, WebSession.workspace_id == workspace_id))


def workspaces(session: Session, user_id: int) -> list[tuple[int, str, str]]:
    """(workspace id, name, role) of every workspace the user belongs to."""
    rows = session.execute(select(Workspace.id, Workspace.name, Membership.role)
                           .join(Membership, Membership.workspace_id == Workspace.id)
                           .where(Membership.user_id == user_id).order_by(Workspace.name))
    return [tuple(r) for r in rows]


def switch_workspace(session: Session, raw: str | None, workspace_id: int) -> None:
    """Move the session to another workspace of the same user (NotFound if not a member)."""
    login = lookup(session, raw)
    if login is None:
        raise Unauthorized("errors.users.login_required")
    member = session.scalar(select(Membership.id).where(Membership.user_id == login.user_id,
                                                        Membership.workspace_id == workspace_id))
    if member is None:
        raise NotFound("errors.users.you_are_member_workspace", workspace_id=workspace_id)
    row = session.get(WebSession, login.session_id)
    row.workspace_id = workspace_id
    audit.record(session, workspace_id, login.email, "user.switch_workspace", "user", login.user_id)
