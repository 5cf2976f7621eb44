"""The fixtures every test module shares (helpers without state live in tests/support.py,
tests/ui_support.py, tests/browser.py, tests/sdk_support.py, tests/erasure_support.py).

- `database` (SQLite and PostgreSQL), `principal` (a fresh workspace), `app`, `api` (in-process);
- `ui` (logged-in in-process UI clients), `live` (a real `promptyard serve`), `pl` (the official
  `promptlayer` SDK pointed at `live`), `browser` (headless Chromium), `fake_llm` (tests/fakes/llm.py).

Every storage, service and API test runs on SQLite and on PostgreSQL. PostgreSQL: a fresh database
per test run (per xdist worker), created and dropped here. Under CI=true a missing PostgreSQL or
browser is a failure; locally such tests skip with a loud message. Each test works in a workspace of
its own, so tests never see each other's data. A module whose subject is not the storage (the SDKs,
the browser) says `pytestmark = pytest.mark.one_database`: its tests run on SQLite only.
"""

from __future__ import annotations

import os
import uuid
import warnings

import pytest

from promptyard.settings import Settings

PG_ADMIN_URL = os.environ.get("PROMPTYARD_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"

pytest_plugins = ["tests.fakes.llm"]


def pytest_configure(config) -> None:  # noqa: ANN001
    config.addinivalue_line("markers", "one_database: the storage is not the subject; run on SQLite only")


def pytest_collection_modifyitems(config, items) -> None:  # noqa: ANN001
    dropped = {i for i in items if i.get_closest_marker("one_database")
               and getattr(i, "callspec", None) and i.callspec.params.get("database") == "postgresql"}
    if dropped:
        config.hook.pytest_deselected(items=list(dropped))
        items[:] = [i for i in items if i not in dropped]


def missing(what: str) -> None:
    """Fail under CI, skip loudly elsewhere."""
    if IN_CI:
        pytest.fail(f"{what} is required under CI=true")
    warnings.warn(f"SKIPPING: {what} is not available", stacklevel=2)
    pytest.skip(f"{what} is not available (tests skipped; CI would fail)")


def _pg_database(worker: str):  # noqa: ANN202
    from sqlalchemy import create_engine

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"promptyard_test_{worker}_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # noqa: BLE001
        admin.dispose()
        missing(f"PostgreSQL at {PG_ADMIN_URL} ({exc.__class__.__name__})")
    return admin, name, PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database(request, tmp_path_factory):  # noqa: ANN001, ANN201
    from promptyard.store.db import Database
    from promptyard.store.migrate import upgrade

    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    admin = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'promptyard.db'}"
    else:
        admin, name, url = _pg_database(worker)
    db = Database(url)
    upgrade(db.engine)
    yield db
    db.dispose()
    if admin is not None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path):  # noqa: ANN001, ANN201
    """A database with no schema yet (migration tests), dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    admin, name, url = _pg_database("migrations")
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture()
def principal(database):  # noqa: ANN001, ANN201
    """Full rights in a fresh workspace of this test's own."""
    from promptyard.services import keys

    with database.write() as s:
        ws_id, _ = keys.ensure_workspace(s, f"ws-{uuid.uuid4().hex[:10]}")
    return keys.system_principal(ws_id, actor="tester")


def app_settings(**overrides) -> Settings:  # noqa: ANN003
    """Settings for an in-process app answered through TestClient (Host: testserver)."""
    return Settings(**{"data_dir": "/nonexistent", "public_url": "http://testserver", "allowed_hosts": "testserver",
                       # Every in-process client is 'testclient': its failed logins would add up
                       # across tests; tests/test_login_throttle.py covers the address limit.
                       "login_failures_per_address": 0, **overrides})


@pytest.fixture(scope="session")
def app(database):  # noqa: ANN001, ANN201
    from promptyard.web.app import create_app

    return create_app(app_settings(max_body_bytes=1_000_000), database)


def make_key(database, principal, scopes=("read", "write", "ingest", "admin"), **kw) -> str:  # noqa: ANN001
    from promptyard.services import keys

    with database.write() as s:
        _, raw = keys.create_key(s, principal, name=f"k-{uuid.uuid4().hex[:6]}", scopes=list(scopes), **kw)
    return raw


@pytest.fixture()
def api(app, database, principal):  # noqa: ANN001, ANN201
    """An HTTP client for the in-process app, authenticated with an admin key of a fresh workspace."""
    from fastapi.testclient import TestClient

    client = TestClient(app, raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {make_key(database, principal)}"
    client.principal = principal
    return client


@pytest.fixture()
def ui(app, database, principal):  # noqa: ANN001, ANN201
    """A factory of logged-in TestClients (one per call) in this test's workspace:
    `client = ui("editor", lang="ja")`; `client.csrf` is its form token."""
    from fastapi.testclient import TestClient

    from tests.ui_support import csrf_of, log_in, make_user

    def make(role: str = "admin", name: str = "", lang: str | None = None):  # noqa: ANN202
        client = TestClient(app, raise_server_exceptions=False)
        if lang:
            client.headers["Accept-Language"] = lang
        client.email = make_user(database, principal, role, name)
        answer = log_in(client, client.email)
        assert answer.status_code == 303, answer.text
        client.csrf = csrf_of(client.get("/ui/settings").text)
        client.principal = principal
        return client

    return make


@pytest.fixture(scope="module")
def live(tmp_path_factory, database):  # noqa: ANN001, ANN201
    """A real `promptyard serve` process per test module and database (tests/servers.py
    start_live): `live.url`, `live.api_key`, `live.http` (an authenticated httpx client); on SQLite
    also the first-run admin login. A test that needs a server of its own (other settings, a
    server it breaks) calls start_server / start_live itself."""
    from tests.servers import start_live

    server = start_live(tmp_path_factory.mktemp("live"), database)
    yield server
    server.stop()


@pytest.fixture()
def pl(live, fake_llm, monkeypatch):  # noqa: ANN001, ANN201
    """The official PromptLayer client configured the way the migration guide says: two variables
    (the base URL with a trailing slash, as users paste it), plus the providers' own settings."""
    promptlayer = pytest.importorskip("promptlayer")
    monkeypatch.setenv("PROMPTLAYER_BASE_URL", live.url + "/")
    monkeypatch.setenv("PROMPTLAYER_API_KEY", live.api_key)
    monkeypatch.setenv("OPENAI_BASE_URL", fake_llm.openai_base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_llm.anthropic_base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-fake")
    return promptlayer.PromptLayer()


@pytest.fixture(scope="module")
def browser():  # noqa: ANN201
    """Headless Chromium through Playwright (Debian's `chromium`, no browser download)."""
    from tests.browser import ARGS, CHROMIUM

    if not CHROMIUM:
        missing("Chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()
