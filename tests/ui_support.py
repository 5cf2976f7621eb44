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
from datetime import datetime, timezone

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


# --- the request pages' tests: a log sent through the API, its number, the list's rows ---

T0 = datetime(2026, 11, 20, 1, 0, tzinfo=timezone.utc)


def log(api, **fields) -> dict:  # noqa: ANN001, ANN003
    body = {"id": uuid.uuid4().hex, "provider": "openai", "model": "gpt-4o",
            "input": {"messages": [{"role": "user", "content": "用量は?"}]},
            "output": {"role": "assistant", "content": "1日2回"}, "start_time": T0.isoformat()} | fields
    r = api.post("/api/v1/requests", json=body)
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    return body


def number_of(api, client_id: str) -> int:  # noqa: ANN001
    return api.get(f"/api/v1/requests/{client_id}").json()["number"]


def rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    return re.findall(r"<tr.*?</tr>", body, re.S)
