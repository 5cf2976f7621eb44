"""Members of a workspace (role per user), invitations, and each user's own profile settings.

Rules: managing members needs the admin scope; only an owner may make or unmake owners; a
workspace always keeps at least one owner."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from promptyard.domain import access
from promptyard.domain.records import Principal
from promptyard.errors import Conflict, Forbidden, InvalidInput, NotFound
from promptyard.services import audit, users, web_sessions
from promptyard.store.models import Invitation, Membership, User
from promptyard.store.types import utcnow

LOCALES = ("en", "ja")
INVITATION_DAYS = 7


@dataclass(frozen=True)
class MemberRecord:
    user_id: int
    email: str
    name: str
    role: str
    joined_at: datetime


@dataclass(frozen=True)
class InvitationRecord:
    id: int
    email: str
    role: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    workspace_id: int


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def list_members(session: Session, p: Principal) -> list[MemberRecord]:
    access.require(p, "read")
    rows = session.execute(select(User, Membership).join(Membership, Membership.user_id == User.id)
                           .where(Membership.workspace_id == p.workspace_id).order_by(User.email))
    return [MemberRecord(u.id, u.email, u.name, m.role, m.created_at) for u, m in rows]


def _membership(session: Session, p: Principal, user_id: int) -> Membership:
    m = session.scalar(select(Membership).where(Membership.workspace_id == p.workspace_id,
                                                Membership.user_id == user_id).with_for_update())
    if m is None:
        raise NotFound("errors.users.no_member_user_id", user_id=user_id)
    return m


def _check_owner_rules(session: Session, p: Principal, m: Membership, new_role: str | None) -> None:
    if (m.role == "owner" or new_role == "owner") and p.role != "owner" and p.user_id is not None:
        raise Forbidden("errors.users.only_owner_can_give")
    if m.role == "owner" and new_role != "owner":
        owners = session.scalar(select(func.count()).select_from(Membership).where(
            Membership.workspace_id == p.workspace_id, Membership.role == "owner"))
        if (owners or 0) <= 1:
            raise Conflict("errors.users.workspace_needs_least_owner")


def set_role(session: Session, p: Principal, user_id: int, role: str) -> MemberRecord:
    access.require(p, "admin")
    if role not in access.ROLES:
        raise InvalidInput("errors.users.role_roles", roles=', '.join(access.ROLES))
    m = _membership(session, p, user_id)
    if m.role != role:
        _check_owner_rules(session, p, m, role)
        audit.record(session, p.workspace_id, p.actor, "member.role", "user", user_id, {"from": m.role, "to": role})
        m.role = role
    user = session.get(User, user_id)
    return MemberRecord(user.id, user.email, user.name, m.role, m.created_at)


def remove(session: Session, p: Principal, user_id: int) -> None:
    access.require(p, "admin")
    if user_id == p.user_id:
        raise InvalidInput("errors.users.you_cannot_remove_yourself")
    m = _membership(session, p, user_id)
    _check_owner_rules(session, p, m, None)
    session.delete(m)
    web_sessions.end_in_workspace(session, user_id, p.workspace_id)  # their open sessions here end now
    audit.record(session, p.workspace_id, p.actor, "member.remove", "user", user_id, {"role": m.role})


def _invitation_record(i: Invitation) -> InvitationRecord:
    return InvitationRecord(i.id, i.email, i.role, i.created_by, i.created_at, i.expires_at, i.accepted_at,
                            i.workspace_id)


def invite(session: Session, p: Principal, *, email: str, role: str) -> tuple[InvitationRecord, str]:
    """An invitation link token (shown once, stored hashed) for `email` to join with `role`."""
    access.require(p, "admin")
    email = (email or "").strip().lower()
    if "@" not in email or len(email) > 320 or any(c.isspace() for c in email):
        raise InvalidInput("errors.users.invalid_email_address", email=email)
    if role not in access.ROLES:
        raise InvalidInput("errors.users.role_roles", roles=', '.join(access.ROLES))
    if role == "owner" and p.role != "owner" and p.user_id is not None:
        raise Forbidden("errors.users.only_owner_can_invite")
    member = session.scalar(select(Membership.id).join(User, User.id == Membership.user_id).where(
        Membership.workspace_id == p.workspace_id, User.email == email))
    if member:
        raise Conflict("errors.users.already_member_workspace", email=email)
    raw = secrets.token_urlsafe(32)
    row = Invitation(workspace_id=p.workspace_id, email=email, role=role, token_hash=_hash(raw), created_by=p.actor,
                     expires_at=utcnow() + timedelta(days=INVITATION_DAYS))
    session.add(row)
    session.flush()
    audit.record(session, p.workspace_id, p.actor, "member.invite", "invitation", row.id,
                 {"email": email, "role": role})
    return _invitation_record(row), raw


def list_invitations(session: Session, p: Principal) -> list[InvitationRecord]:
    access.require(p, "admin")
    rows = session.scalars(select(Invitation).where(Invitation.workspace_id == p.workspace_id,
                                                    Invitation.accepted_at.is_(None)).order_by(Invitation.id.desc()))
    return [_invitation_record(i) for i in rows]


def revoke_invitation(session: Session, p: Principal, invitation_id: int) -> None:
    access.require(p, "admin")
    n = session.execute(delete(Invitation).where(Invitation.workspace_id == p.workspace_id,
                                                 Invitation.id == invitation_id,
                                                 Invitation.accepted_at.is_(None))).rowcount
    if not n:
        raise NotFound("errors.users.no_open_invitation_id", invitation_id=invitation_id)
    audit.record(session, p.workspace_id, p.actor, "member.uninvite", "invitation", invitation_id)


def _open_invitation(session: Session, raw: str | None, *, lock: bool = False) -> Invitation:
    q = select(Invitation).where(Invitation.token_hash == _hash(raw or ""))
    row = session.scalar(q.with_for_update() if lock else q)
    if row is None or row.accepted_at is not None or row.expires_at <= utcnow():
        raise NotFound("errors.users.invitation_link_unknown_already")
    return row


def invitation(session: Session, raw: str | None) -> tuple[InvitationRecord, bool]:
    """An open invitation by its token, and whether its email already has an account."""
    row = _open_invitation(session, raw)
    return _invitation_record(row), session.scalar(select(User.id).where(User.email == row.email)) is not None


def accept(session: Session, raw: str | None, *, password: str, name: str = "") -> tuple[int, int]:
    """Join the invitation's workspace: a new account with `password`, or - when the email already
    has one - that account after checking its password. Returns (user id, workspace id)."""
    row = _open_invitation(session, raw, lock=True)
    existing = session.scalar(select(User.id).where(User.email == row.email))
    if existing is None:
        user_id = users.create_user(session, row.workspace_id, email=row.email, password=password, role=row.role,
                                    name=name.strip(), actor=row.email)
    else:
        user_id = users.check_password(session, row.email, password)
        # Two open invitations for one email: the second finds the membership the first made.
        if session.scalar(select(Membership.id).where(Membership.workspace_id == row.workspace_id,
                                                      Membership.user_id == user_id)):
            raise Conflict("errors.users.already_member_workspace_log", email=row.email)
        session.add(Membership(workspace_id=row.workspace_id, user_id=user_id, role=row.role))
    row.accepted_at = utcnow()
    audit.record(session, row.workspace_id, row.email, "member.join", "user", user_id, {"role": row.role})
    return user_id, row.workspace_id


def update_profile(session: Session, p: Principal, *, locale: str | None = None, time_zone: str | None = None,
                   name: str | None = None) -> None:
    """The calling user's own language ('' = follow the browser), time zone and display name."""
    if p.user_id is None:
        raise InvalidInput("errors.users.only_logged_user_has")
    user = session.get(User, p.user_id)
    if locale is not None:
        if locale not in (*LOCALES, ""):
            raise InvalidInput("errors.users.language_locales", locales=', '.join(LOCALES))
        user.locale = locale or None
    if time_zone is not None:  # '' = the workspace's zone, else the browser's
        try:
            if time_zone:
                ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput("errors.users.unknown_time_zone_asia", time_zone=time_zone) from None
        user.time_zone = time_zone or None
    if name is not None:
        if not name.strip() or len(name) > 200:
            raise InvalidInput("errors.users.name_1_200_characters")
        user.name = name.strip()
