"""Users and their membership (role) in workspaces; passwords hashed with argon2."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from promptyard.domain import access
from promptyard.errors import Conflict, InvalidInput, Unauthorized
from promptyard.services import audit
from promptyard.store.models import Membership, User

_hasher = PasswordHasher()
MIN_PASSWORD = 10
_dummy: list[str] = []


def _dummy_hash() -> str:
    if not _dummy:
        _dummy.append(_hasher.hash("no such user"))
    return _dummy[0]


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0


def create_user(session: Session, workspace_id: int, *, email: str, password: str, role: str = "viewer",
                name: str = "", actor: str = "system") -> int:
    """A new user with a role in the workspace; returns the user id."""
    email = (email or "").strip().lower()
    if "@" not in email or len(email) > 320 or any(c.isspace() for c in email):
        raise InvalidInput("errors.users.invalid_email_address", email=email)
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise InvalidInput("errors.users.password_least_characters_long", min_password=MIN_PASSWORD)
    if role not in access.ROLES:
        raise InvalidInput("errors.users.role_roles", roles=', '.join(access.ROLES))
    if session.scalar(select(User.id).where(User.email == email)):
        raise Conflict("errors.users.user_email_already_exists", email=email)
    user = User(email=email, name=name or email.split("@")[0], password_hash=_hasher.hash(password))
    session.add(user)
    session.flush()
    session.add(Membership(workspace_id=workspace_id, user_id=user.id, role=role))
    audit.record(session, workspace_id, actor, "user.create", "user", user.id, {"email": email, "role": role})
    return user.id


def check_password(session: Session, email: str, password: str) -> int:
    """The user id when email and password match; Unauthorized otherwise (same message either way)."""
    user = session.scalar(select(User).where(User.email == (email or "").strip().lower()))
    try:
        # An unknown email costs one hash check too, so the answer time does not tell which
        # emails have accounts.
        _hasher.verify(user.password_hash if user else _dummy_hash(), password or "")
        if user is None:
            raise VerifyMismatchError
    except (VerifyMismatchError, InvalidHashError):
        raise Unauthorized("errors.users.wrong_email_password") from None
    return user.id
