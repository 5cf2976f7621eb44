"""First start: a default workspace, an admin login and an admin API key, shown once."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session

from promptyard.services import keys, users

ADMIN_EMAIL = "admin@localhost"


@dataclass(frozen=True)
class FirstRun:
    workspace_id: int
    admin_email: str | None = None
    admin_password: str | None = None
    api_key: str | None = None


def first_run(session: Session) -> FirstRun:
    """Create what a fresh installation needs; on later starts, change nothing."""
    ws_id, created = keys.ensure_workspace(session)
    if not created and users.count(session):
        return FirstRun(ws_id)
    password = secrets.token_urlsafe(12)
    users.create_user(session, ws_id, email=ADMIN_EMAIL, password=password, role="owner", name="admin")
    _, raw = keys.create_key(session, keys.system_principal(ws_id), name="first-run admin key",
                             scopes=["read", "write", "ingest", "admin"])
    return FirstRun(ws_id, ADMIN_EMAIL, password, raw)
