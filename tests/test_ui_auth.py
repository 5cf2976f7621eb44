"""UI login, logout, session expiry, CSRF, roles and the language/time-zone settings."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from promptyard.store.models import WebSession
from promptyard.store.types import utcnow
from tests.ui_support import PASSWORD, log_in, make_user


def test_pages_need_a_login(app):
    client = TestClient(app, raise_server_exceptions=False)
    answer = client.get("/ui/settings?folder=x", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/login?next=%2Fui%2Fsettings%3Ffolder%3Dx"


def test_the_server_root_leads_to_the_ui(app, database, principal):
    client = TestClient(app, raise_server_exceptions=False)
    answer = client.get("/", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/prompts"
    assert client.get("/").url.path == "/ui/login"  # not logged in: the login page, in one more hop
    log_in(client, make_user(database, principal, "viewer"))
    landed = client.get("/")
    assert landed.status_code == 200 and landed.url.path == "/ui/prompts"


def test_login_sets_a_safe_cookie_stored_hashed(app, database, principal):
    client = TestClient(app, raise_server_exceptions=False)
    email = make_user(database, principal, "viewer")
    answer = log_in(client, email, next_url="/ui/settings")
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/settings"
    cookie = next(h for h in answer.headers.get_list("set-cookie") if h.startswith("py_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=" in cookie and "expires=" in cookie
    raw = cookie.split(";")[0].split("=", 1)[1]
    with database.read() as s:
        stored = list(s.scalars(select(WebSession.token_hash)))
    assert raw not in stored and len(raw) > 30
    assert client.get("/ui/settings").status_code == 200


def test_wrong_password_rerenders_the_form(app, database, principal):
    client = TestClient(app, raise_server_exceptions=False)
    email = make_user(database, principal, "viewer")
    answer = log_in(client, email, password="not the password")
    assert answer.status_code == 401
    assert "Wrong email or password" in answer.text and email in answer.text
    assert "py_session" not in client.cookies


def test_login_form_without_its_cookie_is_refused(app, database, principal):
    email = make_user(database, principal, "viewer")
    client = TestClient(app, raise_server_exceptions=False)
    answer = client.post("/ui/login", data={"email": email, "password": PASSWORD, "login_token": "forged"})
    assert answer.status_code == 403


def test_open_redirect_after_login_is_refused(app, database, principal):
    client = TestClient(app, raise_server_exceptions=False)
    email = make_user(database, principal, "viewer")
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"):
        client.cookies.clear()
        assert log_in(client, email, next_url=target).headers["location"] == "/ui/"


def test_logout_needs_csrf_and_ends_the_session(ui):
    client = ui("viewer")
    assert client.post("/ui/logout", data={"csrf_token": "nope"}).status_code == 403
    assert client.get("/ui/settings").status_code == 200
    answer = client.post("/ui/logout", data={"csrf_token": client.csrf}, follow_redirects=False)
    assert answer.status_code == 303
    assert client.get("/ui/settings", follow_redirects=False).status_code == 303


def test_expired_session_goes_back_to_login(ui, database):
    client = ui("viewer")
    with database.write() as s:
        s.execute(update(WebSession).values(expires_at=utcnow() - timedelta(seconds=1))
                  .where(WebSession.csrf_token == client.csrf))
    answer = client.get("/ui/settings", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/ui/login")
    assert "session has ended" in client.get(answer.headers["location"]).text


def test_csrf_is_checked_on_every_form(ui):
    client = ui("admin")
    for path, data in [("/ui/settings", {"name": "x", "locale": "en", "time_zone": "UTC"}),
                       ("/ui/language", {"lang": "ja"})]:
        answer = client.post(path, data=data)
        assert answer.status_code == 403, path
        assert "did not come from this site" in answer.text


def test_language_choice_is_saved_and_translates_pages(ui):
    client = ui("viewer")
    assert "Settings" in client.get("/ui/settings").text
    client.post("/ui/language", data={"csrf_token": client.csrf, "lang": "ja", "next": "/ui/settings"})
    page = client.get("/ui/settings")
    assert '<html lang="ja">' in page.text and "設定" in page.text


def test_browser_language_is_the_default(ui, app):
    client = ui("viewer", lang="ja,en;q=0.5")
    assert '<html lang="ja">' in client.get("/ui/settings").text
    anonymous = TestClient(app, headers={"Accept-Language": "ja-JP"})
    assert "ログイン" in anonymous.get("/ui/login").text


def test_settings_form_errors_rerender_with_message(ui):
    client = ui("viewer")
    answer = client.post("/ui/settings", data={"csrf_token": client.csrf, "name": "me", "locale": "",
                                               "time_zone": "Mars/Olympus"})
    assert answer.status_code == 422 and "unknown time zone" in answer.text
    answer = client.post("/ui/settings", data={"csrf_token": client.csrf, "name": "me", "locale": "",
                                               "time_zone": "Asia/Tokyo"}, follow_redirects=False)
    assert answer.status_code == 303


def test_unknown_ui_path_is_an_html_404(app):
    answer = TestClient(app, raise_server_exceptions=False).get("/ui/no/such/page")
    assert answer.status_code == 404 and answer.headers["content-type"].startswith("text/html")


def test_security_headers(ui):
    page = ui("viewer").get("/ui/settings")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"


def test_no_template_needs_inline_styles():
    """The CSP allows no inline styles (style-src 'self'): a style attribute would be ignored."""
    from pathlib import Path

    from promptyard.web.ui import render as pages

    found = [str(p.relative_to(pages.TEMPLATES)) for p in Path(pages.TEMPLATES).rglob("*.html")
             if " style=" in p.read_text(encoding="utf-8") or "<style" in p.read_text(encoding="utf-8")]
    assert found == []
    assert "'unsafe-inline'" not in pages.SECURITY_HEADERS["Content-Security-Policy"]
