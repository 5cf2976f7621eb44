"""Fixtures: every storage, service and API test runs on SQLite and on PostgreSQL.

PostgreSQL: a fresh database per test run (per xdist worker), created and dropped here. Under
CI=true a missing PostgreSQL or browser is a failure; locally such tests skip with a loud message.
Each test works in a workspace of its own, so tests never see each other's data.
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
