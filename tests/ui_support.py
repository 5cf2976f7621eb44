"""Helpers for in-process UI tests: users in the test's workspace, logging in, CSRF tokens. The
`ui` fixture (conftest.py) builds on them:

    def test_x(ui):
        client = ui("editor")             # logged in as a new editor of a fresh workspace
        page = client.get("/ui/prompts")
        client.post("/ui/...", data={"csrf_token": client.csrf, ...})
"""

from __future__ import annotations

import re
import uuid

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_LOGIN = re.compile(r'name="login_token" value="([^"]+)"')


def make_user(database, principal, role: str = "editor", name: str = "") -> str:  # noqa: ANN001
    from promptyard.services import users

    email = f"{role}-{uuid.uuid4().hex[:8]}@example.com"
    with database.write() as s:
        users.create_user(s, principal.workspace_id, email=email, password=PASSWORD, role=role, name=name)
    return email


def log_in(client, email: str, password: str = PASSWORD, next_url: str = "/ui/"):  # noqa: ANN001, ANN201
    page = client.get("/ui/login")
    token = _LOGIN.search(page.text).group(1)
    return client.post("/ui/login", data={"email": email, "password": password, "login_token": token,
                                          "next": next_url}, follow_redirects=False)


def csrf_of(html: str) -> str:
    return _CSRF.search(html).group(1)


def accept_invitation(client, path: str, **fields: str):  # noqa: ANN001, ANN201
    """Open an invitation link and send its form (with the page's login token)."""
    token = _LOGIN.search(client.get(path).text).group(1)
    return client.post(path, data={"login_token": token, **fields}, follow_redirects=False)
