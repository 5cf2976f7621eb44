"""First-run secrets and file modes after a real `promptyard serve` start: the owner password and
admin key never reach a non-terminal stdout (journald, container logs); they go to a 0600 file in
a 0700 data dir, and the database, its -wal and -shm files are 0600 too."""

from __future__ import annotations

import os
import pty
import select
import stat
import subprocess
import sys
import time

import httpx

from tests.conftest import _pg_database
from tests.servers import free_port, start_server


def mode(path) -> int:  # noqa: ANN001
    return stat.S_IMODE(os.stat(path).st_mode)


def test_first_start_writes_secrets_to_a_private_file_not_stdout(tmp_path):
    data = tmp_path / "data"
    server = start_server(data)
    try:
        out = "".join(server.output)
        creds = data / "first-run-credentials.txt"
        assert server.api_key.startswith("py_sk_") and len(server.admin_password) >= 10
        assert server.api_key not in out and server.admin_password not in out
        assert str(creds.resolve()) in out and "Log in at" in out and "admin@localhost" in out
        assert mode(creds) == 0o600 and server.api_key in creds.read_text(encoding="utf-8")
        r = httpx.get(server.url + "/api/v1/prompts", headers={"Authorization": f"Bearer {server.api_key}"})
        assert r.status_code == 200
        assert mode(data) == 0o700
        for name in ("promptyard.db", "promptyard.db-wal", "promptyard.db-shm"):
            assert (data / name).exists(), name
            assert mode(data / name) == 0o600, (name, oct(mode(data / name)))
        loose = [p.name for p in data.iterdir() if mode(p) & 0o077]
        assert loose == []
    finally:
        server.stop()


def test_existing_loose_data_dir_is_tightened(tmp_path):
    data = tmp_path / "data"
    first = start_server(data)
    first.stop()
    data.chmod(0o755)
    for p in data.iterdir():
        p.chmod(0o644)
    again = start_server(data)
    try:
        assert again.api_key == ""  # not a first start: nothing new written or shown
        assert mode(data) == 0o700
        assert {p.name: mode(p) for p in data.iterdir() if mode(p) & 0o077} == {}
    finally:
        again.stop()


def test_first_start_on_postgresql_writes_the_file_too(tmp_path):
    admin, name, url = _pg_database("firstrun")
    server = None
    try:
        server = start_server(tmp_path / "data", url)
        creds = tmp_path / "data" / "first-run-credentials.txt"
        assert server.api_key and server.api_key not in "".join(server.output)
        assert mode(creds) == 0o600 and mode(tmp_path / "data") == 0o700
    finally:
        if server:
            server.stop()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def test_on_a_terminal_the_secrets_are_printed_and_no_file_is_written(tmp_path):
    data = tmp_path / "data"
    env = dict(os.environ, PROMPTYARD_DATA_DIR=str(data), PROMPTYARD_PORT=str(free_port()),
               PROMPTYARD_LOG_LEVEL="warning")
    env.pop("PROMPTYARD_DATABASE_URL", None)
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "promptyard.cli", "serve"], env=env, stdin=follower,
                            stdout=follower, stderr=follower)
    os.close(follower)
    seen = b""
    try:
        deadline = time.time() + 60
        while b"admin API key:" not in seen and time.time() < deadline:
            if select.select([leader], [], [], 1)[0]:
                try:
                    seen += os.read(leader, 4096)
                except OSError:
                    break
        text = seen.decode(errors="replace")
        assert "admin API key: py_sk_" in text and "with password: " in text, text
        assert not (data / "first-run-credentials.txt").exists()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        os.close(leader)


