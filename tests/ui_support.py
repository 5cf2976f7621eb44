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
from html.parser import HTMLParser

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


# --- a page's form as a browser would send it ---

class _FormReader(HTMLParser):
    def __init__(self, form_id: str):
        super().__init__(convert_charrefs=True)
        self.form_id, self.inside, self.fields = form_id, False, []
        self._textarea: str | None = None
        self._select: list | None = None  # [name, first value, chosen value]
        self._option: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside:
            return
        if tag == "input" and a.get("name") and a.get("type") not in ("submit", "button"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields.append((a["name"], a.get("value") or ""))
        elif tag == "textarea":
            self._textarea = a.get("name")
            self.fields.append((self._textarea, ""))
        elif tag == "select":
            self._select = [a.get("name"), None, None]
        elif tag == "option" and self._select is not None:
            value = a.get("value") or ""
            self._select[1] = value if self._select[1] is None else self._select[1]
            if "selected" in a:
                self._select[2] = value

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            name, text = self.fields[-1]
            self.fields[-1] = (name, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "textarea" and self._textarea is not None:
            name, text = self.fields[-1]
            self.fields[-1] = (name, text.removeprefix("\n"))  # a newline right after <textarea> is not content
            self._textarea = None
        elif tag == "select" and self._select is not None:
            name, first, chosen = self._select
            if name and (chosen or first) is not None:
                self.fields.append((name, chosen if chosen is not None else first))
            self._select = None


def form_fields(html: str, form_id: str) -> dict[str, str]:
    """The fields of the form with that id as a browser would send them (without any button): text
    inputs, hidden ones, checked boxes, textareas, each select's chosen option (a name given twice
    keeps the last)."""
    reader = _FormReader(form_id)
    reader.feed(html)
    return dict(reader.fields)
