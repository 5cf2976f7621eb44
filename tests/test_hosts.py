"""Host header: only the names this server is reached by are served (PROMPTYARD_ALLOWED_HOSTS), and
absolute links (invitations) come from PROMPTYARD_PUBLIC_URL or the listen address, never the Host."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi.testclient import TestClient

from promptyard.settings import Settings
from promptyard.web.app import create_app
from tests.conftest import make_key
from tests.servers import start_server
from tests.ui_support import csrf_of, log_in, make_user

LINK = re.compile(r'id="invite-link" class="mono">([^<]+)<')


def _client(database, base: str = "http://127.0.0.1:8700", **settings) -> TestClient:  # noqa: ANN001
    app = create_app(Settings(data_dir="/nonexistent", **settings), database)
    return TestClient(app, base_url=base, raise_server_exceptions=False)


def _invite_link(client: TestClient, database, principal, email: str) -> str:  # noqa: ANN001
    admin = make_user(database, principal, "admin")
    assert log_in(client, admin).status_code == 303
    csrf = csrf_of(client.get("/ui/settings").text)
    answer = client.post("/ui/invitations", data={"csrf_token": csrf, "email": email, "role": "viewer"})
    assert answer.status_code == 200, answer.text
    return LINK.search(answer.text).group(1)


def test_invitation_link_comes_from_public_url_not_host(database, principal):
    client = _client(database, "http://prompts.example.com", public_url="https://prompts.example.com/",
                     allowed_hosts="prompts.example.com,evil.example")
    client.headers["Host"] = "evil.example"  # allowed here only to show the link ignores it
    link = _invite_link(client, database, principal, "a@example.com")
    assert link.startswith("https://prompts.example.com/ui/invite/") and "evil" not in link


def test_without_public_url_links_use_the_listen_address(database, principal):
    client = _client(database, "http://localhost:9123", host="127.0.0.1", port=9123)
    link = _invite_link(client, database, principal, "b@example.com")
    assert link.startswith("http://127.0.0.1:9123/ui/invite/"), link


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8700", "127.0.0.1.evil.example", "", "localhost.evil"])
def test_other_hosts_get_400_on_every_surface(database, principal, host):
    client = _client(database, public_url="https://prompts.example.com")
    key = make_key(database, principal)
    for path in ("/api/v1/prompts", "/ui/login", "/rest/prompt-templates"):
        r = client.get(path, headers={"Host": host, "X-API-Key": key})
        assert r.status_code == 400, (path, r.status_code)
        assert "PROMPTYARD_ALLOWED_HOSTS" in r.json()["error"]["message"]
    assert client.get("/-/health", headers={"Host": host}).status_code == 200  # load balancers probe by IP


@pytest.mark.parametrize("host", ["127.0.0.1:8700", "localhost", "LOCALHOST:1", "[::1]:8700", "prompts.example.com"])
def test_default_hosts_are_served(database, principal, host):
    client = _client(database, public_url="https://prompts.example.com")
    r = client.get("/api/v1/prompts", headers={"Host": host, "X-API-Key": make_key(database, principal)})
    assert r.status_code == 200, r.text


def test_allowed_hosts_list_and_star(database, principal):
    key = make_key(database, principal)
    listed = _client(database, allowed_hosts="a.example, B.example")
    assert listed.get("/api/v1/prompts", headers={"Host": "b.example:443", "X-API-Key": key}).status_code == 200
    assert listed.get("/api/v1/prompts", headers={"Host": "localhost", "X-API-Key": key}).status_code == 400
    star = _client(database, allowed_hosts="*")
    assert star.get("/api/v1/prompts", headers={"Host": "anything.example", "X-API-Key": key}).status_code == 200


def test_public_url_must_be_absolute():
    with pytest.raises(SystemExit, match="PROMPTYARD_PUBLIC_URL"):
        Settings(public_url="prompts.example.com")


def test_live_server_refuses_a_forged_host(tmp_path):
    server = start_server(tmp_path / "data", env={"PROMPTYARD_PUBLIC_URL": "https://prompts.example.com"})
    try:
        auth = {"Authorization": f"Bearer {server.api_key}"}
        assert httpx.get(server.url + "/api/v1/prompts", headers=auth).status_code == 200
        r = httpx.get(server.url + "/api/v1/prompts", headers=auth | {"Host": "evil.example"})
        assert r.status_code == 400 and "evil.example" in r.json()["error"]["message"]
        r = httpx.get(server.url + "/ui/login", headers={"Host": "prompts.example.com"})
        assert r.status_code == 200
    finally:
        server.stop()
