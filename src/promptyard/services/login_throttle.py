"""Login throttling: after too many failed password checks for one account or from one address
within a sliding window, further attempts are refused (RateLimited, 429) without checking the
password, until enough of those failures are older than the window.

Failures are rows in the database, so several server processes behind a load balancer share the
count. Unknown accounts are counted exactly like known ones, and the refusal is worded the same,
so neither the answer nor its timing tells which emails have accounts (users.check_password also
hashes a dummy password for unknown emails). Check and record are two transactions: concurrent
attempts can pass the limit by the number in flight, which bounds guessing all the same.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from promptyard.errors import RateLimited
from promptyard.store.models import LoginFailure
from promptyard.store.types import utcnow


@dataclass(frozen=True)
class Limits:
    per_account: int = 5
    per_address: int = 20
    window_s: int = 900


def _subjects(email: str, address: str | None) -> list[tuple[str, str]]:
    """(kind, stored subject) for the account and the address; hashed, because people sometimes
    type their password into the email field."""
    def digest(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()

    out = [("account", "account:" + digest((email or "").strip().lower()))]
    if address:
        out.append(("address", "address:" + digest(address)))
    return out


def check(session: Session, *, email: str, address: str | None, limits: Limits) -> None:
    """RateLimited when the account or the address has reached its limit in the window."""
    now = utcnow()
    since = now - timedelta(seconds=limits.window_s)
    for kind, subject in _subjects(email, address):
        limit = limits.per_account if kind == "account" else limits.per_address
        if limit <= 0:
            continue
        recent = list(session.scalars(
            select(LoginFailure.created_at).where(LoginFailure.subject == subject, LoginFailure.created_at > since)
            .order_by(LoginFailure.created_at.desc()).limit(limit)))
        if len(recent) >= limit:
            # Sliding window: one more attempt is allowed when the oldest of the last `limit`
            # failures leaves the window.
            wait = math.ceil((recent[-1] + timedelta(seconds=limits.window_s) - now).total_seconds())
            wait = max(wait, 1)
            raise RateLimited("errors.users.too_many_failed_logins", retry_after_s=wait,
                              details={"reason": kind})


def failed(session: Session, *, email: str, address: str | None, limits: Limits) -> None:
    """Count one failed attempt (and drop failures that have left the window, so the table stays small)."""
    now = utcnow()
    session.execute(delete(LoginFailure).where(LoginFailure.created_at <= now - timedelta(seconds=limits.window_s)))
    session.add_all(LoginFailure(subject=subject, created_at=now) for _, subject in _subjects(email, address))


def succeeded(session: Session, *, email: str) -> None:
    """A correct password clears the account's failures (not the address's: a caller with one
    account of their own must not be able to reset the count that guards everyone else's)."""
    subjects = [s for kind, s in _subjects(email, None) if kind == "account"]
    session.execute(delete(LoginFailure).where(LoginFailure.subject.in_(subjects)))
