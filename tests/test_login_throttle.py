"""Login throttling on SQLite and PostgreSQL: per account and per client address, a sliding window
stored in the database (so several server processes share it), 429 with Retry-After, and the same
answers for unknown accounts as for known ones."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from promptyard.services import login_throttle, members
from promptyard.store.types import utcnow
from promptyard.web.app import create_app
from tests.conftest import app_settings
from tests.ui_support import PASSWORD, accept_invitation, log_in, make_user

LIMITS = {"login_failures_per_account": 5, "login_failures_per_address": 8, "login_window_s": 900}


def _app(database):  # noqa: ANN001, ANN202
    return create_app(app_settings(**LIMITS), database)


@pytest.fixture()
def make_client(database):  # noqa: ANN001, ANN201
    """Clients from an address of this test's own (failures of other tests never count here)."""
    app = _app(database)
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"

    def make(addr: str = address, on=app) -> TestClient:  # noqa: ANN001
        return TestClient(on, client=(addr, 50000), raise_server_exceptions=False)

    return make


def _error(page) -> str:  # noqa: ANN001
    import re

    found = re.search(r'class="error[^"]*"[^>]*>([^<]+)<', page.text)
    return found.group(1).strip() if found else page.text[:200]


def test_wrong_passwords_get_429_after_the_limit(make_client, database, principal):
    email, client = make_user(database, principal), make_client()
    answers = [log_in(client, email, "wrong password!") for _ in range(7)]
    assert [a.status_code for a in answers] == [401] * 5 + [429] * 2
    wait = int(answers[5].headers["Retry-After"])
    assert 0 < wait <= 900 and "Too many failed logins" in answers[5].text
    right = log_in(client, email)  # locked: the right password is not even checked
    assert right.status_code == 429
    assert log_in(make_client("10.250.0.1"), email).status_code == 429  # per account, from anywhere


def test_unknown_accounts_answer_exactly_like_known_ones(make_client, database, principal):
    known, unknown = make_user(database, principal), f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    a, b = make_client(), make_client(f"10.251.{uuid.uuid4().int % 250}.1")
    seen_a = [log_in(a, known, "wrong password!") for _ in range(6)]
    seen_b = [log_in(b, unknown, "wrong password!") for _ in range(6)]
    assert [r.status_code for r in seen_a] == [r.status_code for r in seen_b] == [401] * 5 + [429]
    assert _error(seen_a[0]) == _error(seen_b[0]) and _error(seen_a[5]) == _error(seen_b[5])
    assert "Retry-After" in seen_b[5].headers


def test_per_address_limit_across_accounts(make_client, database, principal):
    client = make_client()
    for _ in range(8):  # one failure for each of eight accounts: no account reaches its limit
        assert log_in(client, make_user(database, principal), "wrong password!").status_code == 401
    fresh = make_user(database, principal)
    assert log_in(client, fresh).status_code == 429
    assert log_in(make_client("10.252.0.9"), fresh).status_code == 303


def test_several_server_processes_share_the_count(make_client, database, principal):
    email = make_user(database, principal)
    first, second = make_client(), make_client(on=_app(database))  # two apps, one database
    for _ in range(3):
        assert log_in(first, email, "wrong password!").status_code == 401
    for _ in range(2):
        assert log_in(second, email, "wrong password!").status_code == 401
    assert log_in(second, email).status_code == 429


def test_window_slides_and_success_clears_the_account(make_client, database, principal):
    email, client = make_user(database, principal), make_client()
    limits = login_throttle.Limits(5, 8, 900)
    with database.write() as s:  # five failures, the oldest about to leave the window
        login_throttle.failed(s, email=email, address=None, limits=limits)
    from promptyard.store.models import LoginFailure

    with database.write() as s:
        rows = s.query(LoginFailure).order_by(LoginFailure.id.desc()).limit(2).all()
        for row in rows:
            row.created_at = utcnow() - timedelta(seconds=895)
        for _ in range(4):
            login_throttle.failed(s, email=email, address=None, limits=limits)
    locked = log_in(client, email)
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) <= 6
    with database.write() as s:  # the oldest has left the window: one more try is allowed
        for row in s.query(LoginFailure).filter(LoginFailure.created_at < utcnow() - timedelta(seconds=800)):
            row.created_at = utcnow() - timedelta(seconds=901)
    assert log_in(client, email).status_code == 303
    other = make_client("10.253.0.1")
    for _ in range(5):  # the success cleared the account's count
        assert log_in(other, email, "wrong password!").status_code == 401


def test_invitation_accept_with_an_existing_account_is_throttled(make_client, database, principal):
    email = make_user(database, principal)
    from promptyard.services import keys

    with database.write() as s:
        ws_id, _ = keys.ensure_workspace(s, f"ws-{uuid.uuid4().hex[:8]}")
        _, token = members.invite(s, keys.system_principal(ws_id), email=email, role="viewer")
    client = make_client()
    answers = [accept_invitation(client, f"/ui/invite/{token}", password="wrong password!") for _ in range(6)]
    assert [a.status_code for a in answers] == [401] * 5 + [429]
    assert "Retry-After" in answers[5].headers
    assert accept_invitation(client, f"/ui/invite/{token}", password=PASSWORD).status_code == 429
