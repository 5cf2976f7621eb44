"""Faults: the database going away or filling up, concurrent first starts, schemas newer than
the code, expensive searches, stopping with long polls in flight, and what the log may say."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from promptyard.store.faults import Outage
from tests.conftest import _pg_database, app_settings, missing
from tests.servers import LiveServer, free_port, start_server
from tests.tcp_proxy import TcpProxy

_LOGIN = re.compile(r'name="login_token" value="([^"]+)"')


def _ui_client(server: LiveServer) -> httpx.Client:
    client = httpx.Client(base_url=server.url, timeout=30)
    token = _LOGIN.search(client.get("/ui/login").text).group(1)
    answer = client.post("/ui/login", data={"email": server.admin_email, "password": server.admin_password,
                                            "login_token": token, "next": "/ui/"})
    assert answer.status_code == 303, answer.text
    return client


def _server_log(server: LiveServer) -> str:
    """What the server printed after its start-up lines (which start_server read)."""
    server.stop()
    return server.process.stdout.read()


def _assert_refused(server: LiveServer, ui: httpx.Client) -> None:
    """Every surface answers 503 with Retry-After, in its own shape."""
    api = httpx.Client(base_url=server.url, timeout=30, headers={"Authorization": f"Bearer {server.api_key}"})
    answer = api.get("/api/v1/prompts")
    assert answer.status_code == 503 and answer.headers["Retry-After"].isdigit(), answer.text
    assert answer.json()["error"]["code"] == "unavailable"
    answer = api.get("/prompt-templates", headers={"X-API-KEY": server.api_key})
    assert answer.status_code == 503 and answer.headers["Retry-After"].isdigit(), answer.text
    assert answer.json()["success"] is False
    answer = ui.get("/ui/prompts")
    assert answer.status_code == 503 and answer.headers["Retry-After"].isdigit(), answer.text
    assert answer.headers["content-type"].startswith("text/html")


def _settle_and_serve(server: LiveServer) -> None:
    """The outage ends (and its summary is logged) at a success after SETTLE_S without failures."""
    time.sleep(Outage.SETTLE_S + 0.5)
    assert _wait_until_served(server).status_code == 200


def _wait_until_served(server: LiveServer, timeout: float = 30) -> httpx.Response:
    api = httpx.Client(base_url=server.url, timeout=30, headers={"Authorization": f"Bearer {server.api_key}"})
    deadline = time.monotonic() + timeout
    while True:
        answer = api.get("/api/v1/prompts")
        if answer.status_code == 200 or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


def _assert_one_outage_logged(log: str) -> None:
    """One line when it starts, one when it ends, nothing per request (before: two tracebacks per
    request, 10 MB in 25 s). The size bound leaves room for what is left of the start-up banner."""
    assert log.count("the database is unavailable") == 1, log
    assert re.search(r"the database is back; it was unavailable for [\d.]+ s and refused \d+ transactions", log), log
    assert "Traceback" not in log and len(log) < 1500, log


@pytest.fixture()
def pg_proxy():  # noqa: ANN201
    admin, name, url = _pg_database("faults")
    proxy = TcpProxy(("127.0.0.1", 5432))
    yield proxy, re.sub(r"@[^/]+/", f"@127.0.0.1:{proxy.port}/", url)
    proxy.close()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def test_postgresql_outage_is_503_logged_once_and_service_resumes(tmp_path, pg_proxy):
    proxy, url = pg_proxy
    # A fast ramp tick: background work during the outage must not log either.
    server = start_server(tmp_path / "data", url, env={"PROMPTYARD_RAMP_TICK_S": "0.2"})
    try:
        ui = _ui_client(server)
        assert _wait_until_served(server).status_code == 200
        proxy.down()
        for _ in range(5):
            _assert_refused(server, ui)
        health = httpx.get(f"{server.url}/-/health")
        assert health.status_code == 503 and "unreachable" in health.json()["error"]["message"]
        time.sleep(1)  # several ramp ticks fail meanwhile
        proxy.up()
        assert _wait_until_served(server).status_code == 200
        assert ui.get("/ui/prompts").status_code == 200
        _settle_and_serve(server)
        assert httpx.get(f"{server.url}/-/health").status_code == 200  # healthy again once settled
    finally:
        log = _server_log(server)
    _assert_one_outage_logged(log)


def _log(text: str) -> dict:
    return {"id": str(uuid.uuid4()), "provider": "openai", "model": "gpt-4o",
            "input": {"messages": [{"role": "user", "content": text}]}, "output": {"text": "ok"},
            "start_time": "2026-11-20T10:00:00Z", "end_time": "2026-11-20T10:00:01Z"}


@pytest.fixture()
def small_disk(tmp_path):  # noqa: ANN201
    """A real 8 MB filesystem (tmpfs; needs root) to fill up."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        missing(f"a small tmpfs for the disk-full test ({done.stderr.decode().strip()})")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(path: Path) -> None:
    """Take every free byte of the filesystem that holds `path`."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)


def test_sqlite_disk_full_is_503_logged_once_and_service_resumes(small_disk):
    server = start_server(small_disk / "data", env={"PROMPTYARD_RAMP_TICK_S": "0.2"})
    api = httpx.Client(base_url=server.url, timeout=30, headers={"Authorization": f"Bearer {server.api_key}"})
    try:
        ui = _ui_client(server)
        assert api.post("/api/v1/requests", json=_log("before")).status_code == 200
        _fill(small_disk / "filler")
        big = "x" * 400_000  # more than the write-ahead log has room for already
        for _ in range(3):
            answer = api.post("/api/v1/requests", json=_log(big))
            assert answer.status_code == 503 and answer.headers["Retry-After"].isdigit(), answer.text
            assert answer.json()["error"]["code"] == "unavailable"
        health = httpx.get(f"{server.url}/-/health")  # reads still work, but the server is not healthy
        assert health.status_code == 503 and "is failing" in health.json()["error"]["message"]
        (small_disk / "filler").unlink()
        answer = api.post("/api/v1/requests", json=_log(big))
        assert answer.status_code == 200, answer.text
        assert ui.get("/ui/prompts").status_code == 200
        _settle_and_serve(server)
        assert httpx.get(f"{server.url}/-/health").status_code == 200
    finally:
        log = _server_log(server)
    _assert_one_outage_logged(log)


SECRET = "patient-secret-4711"


@pytest.fixture()
def failing_app(database):  # noqa: ANN001, ANN201
    """The real app plus one route whose database statement fails with stored text in the error
    (PostgreSQL's DETAIL quotes the duplicate key; both drivers' messages carry the parameters)."""
    from fastapi.testclient import TestClient
    from sqlalchemy import text

    from promptyard.web.app import create_app

    app = create_app(app_settings(), database)

    def boom() -> None:
        with database.write() as s:
            s.execute(text("CREATE TEMP TABLE IF NOT EXISTS fault_probe (v TEXT UNIQUE)"))
            s.execute(text("INSERT INTO fault_probe (v) VALUES (:v)"), [{"v": SECRET}, {"v": SECRET}])

    for path in ("/api/v1/fault-probe", "/ui/fault-probe", "/fault-probe"):
        app.add_api_route(path, boom)
    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize("path", ["/api/v1/fault-probe", "/ui/fault-probe", "/fault-probe"])
def test_unexpected_database_error_logs_request_id_not_stored_text(failing_app, caplog, path):
    caplog.set_level(logging.INFO)
    answer = failing_app.get(path, headers={"X-Request-Id": "lb-7f3a.42"})
    assert answer.status_code == 500 and answer.headers["X-Request-Id"] == "lb-7f3a.42"
    assert "lb-7f3a.42" in answer.text and SECRET not in answer.text
    logged = caplog.text
    assert SECRET not in logged, logged
    assert "request id lb-7f3a.42" in logged and "IntegrityError" in logged and "test_faults.py" in logged
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1  # once, not twice


def test_request_ids_are_made_when_missing_or_not_sane(failing_app):
    made = failing_app.get("/-/health").headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    odd = failing_app.get("/-/health", headers={"X-Request-Id": "a b<script>" + "x" * 100}).headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", odd) and odd != made
    assert failing_app.get("/api/v1/fault-probe").json()["error"]["request_id"]


def test_stop_answers_long_polls_and_exits_quickly(tmp_path):
    """SIGTERM with an SDK's change-feed long poll in flight: the poll gets its (empty) answer and
    the process exits at once (it waited for the poll's whole `wait` before)."""
    server = start_server(tmp_path / "data")
    headers = {"Authorization": f"Bearer {server.api_key}"}
    cursor = httpx.get(f"{server.url}/api/v1/changes", headers=headers).json()["cursor"]
    answers: list[httpx.Response] = []
    poll = threading.Thread(target=lambda: answers.append(httpx.get(
        f"{server.url}/api/v1/changes", params={"since": cursor, "wait": 60}, headers=headers, timeout=90)))
    poll.start()
    time.sleep(1)  # the poll is waiting on the server
    started = time.monotonic()
    server.process.terminate()
    try:
        server.process.wait(15)
    finally:
        server.stop()
    took = time.monotonic() - started
    poll.join(5)
    assert answers and answers[0].status_code == 200 and answers[0].json() == {"cursor": cursor, "items": []}
    assert took < 10, took  # generous: the fix takes ~0.2 s; without it, 60 s


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):  # noqa: ANN001, ANN201
    """(url, data dir) of a database with no schema yet."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared' / 'promptyard.db'}", tmp_path
        return
    admin, name, url = _pg_database("faults")
    yield url, tmp_path
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def test_servers_started_at_once_on_an_empty_database_all_come_up(empty_database):
    """Migrations and first-run setup run once, under a lock; the others wait and find them done
    (before: 6 of 9 healthy on SQLite, 3 of 9 on PostgreSQL)."""
    from promptyard.services import users
    from promptyard.store.db import Database

    url, base = empty_database
    servers: list[LiveServer] = []
    failures: list[BaseException] = []

    def start(i: int) -> None:
        try:
            servers.append(start_server(base / f"data{i}", url, timeout=120))
        except BaseException as exc:  # noqa: BLE001
            failures.append(exc)

    threads = [threading.Thread(target=start, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert failures == [], failures
        assert all(httpx.get(f"{s.url}/-/health").status_code == 200 for s in servers)
        assert len([s for s in servers if s.api_key]) == 1  # one printed the first-run secrets
        db = Database(url)
        with db.read() as s:
            assert users.count(s) == 1
        db.dispose()
    finally:
        for s in servers:
            s.stop()


def test_a_database_newer_than_the_code_is_refused_in_one_sentence(empty_database):
    from sqlalchemy import text

    from promptyard.store.db import Database
    from promptyard.store.migrate import head_revision, upgrade

    url, base = empty_database
    db = Database(url)
    upgrade(db.engine)
    with db.write() as s:
        s.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    db.dispose()
    env = dict(os.environ, PROMPTYARD_DATABASE_URL=url, PROMPTYARD_DATA_DIR=str(base / "data"),
               PROMPTYARD_PORT=str(free_port()))
    for command in (["serve"], ["db", "upgrade"]):
        done = subprocess.run([sys.executable, "-m", "promptyard.cli", *command], env=env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode != 0
        assert done.stderr.strip().splitlines() == [
            f"error: the database is at revision 0099, newer than this Promptyard (knows up to {head_revision()}): "
            "upgrade Promptyard"], done.stderr


def test_expensive_search_and_stats_end_at_the_statement_timeout(database, principal):
    """A filter too costly for the database answers 422 'took longer than N s' instead of holding
    a worker; cheap reads under the same limit still answer."""
    from fastapi.testclient import TestClient

    from promptyard.services import request_ingest
    from promptyard.store.db import Database
    from promptyard.web.app import create_app
    from tests.conftest import make_key

    text = "lorem ipsum dolor sit amet " * 400  # ~11 KB per log, input and output
    with database.write() as s:
        for batch in range(3):
            logs = [dict(_log(text), output={"text": text}) for _ in range(1000)]
            assert not request_ingest.ingest(s, principal, logs, max_batch=1000)["errors"]
    limited = Database(database.url, statement_timeout_s=0.2)
    try:
        client = TestClient(create_app(app_settings(statement_timeout_s=0.2), limited),
                            raise_server_exceptions=False)
        client.headers["Authorization"] = f"Bearer {make_key(database, principal)}"
        # What is costly for each text index. PostgreSQL's keeps positions: one long phrase of words
        # every log repeats 400 times, whose ~1,900 grams' positions are checked in each log. SQLite's
        # has none (migration 0020): the same words in an order no log has, so every gram is in every
        # log, the index gives all of them and each log's stored text is checked, none matching.
        phrase = text if database.kind == "postgresql" else "amet sit dolor ipsum lorem " * 40
        costly = f'text ~ "{phrase[1:960]}" OR output ~ "{phrase[2:961]}"'
        for path in ("/api/v1/requests", "/api/v1/requests/stats"):
            answer = client.get(path, params={"filter": costly})
            assert answer.status_code == 422, answer.text
            error = answer.json()["error"]
            assert error["code"] == "timed_out" and "longer than 0.2 s" in error["message"], error
        assert client.get("/api/v1/requests", params={"limit": 1}).status_code == 200
    finally:
        limited.dispose()
