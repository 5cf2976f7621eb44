"""An export that meets a database error after its 200 went out must fail as a download (the
connection is cut before the last chunk), never end as a short file that looks complete.
A real `promptyard serve` process; the database error is provoked from the test mid-stream."""

from __future__ import annotations

import os
import uuid

import httpx
import pytest

from tests.servers import start_server
from tests.test_cli import cli

LOGS, BATCH = 12_000, 500


@pytest.fixture()
def live(tmp_path, database):  # noqa: ANN001, ANN201
    url = None if database.kind == "sqlite" else database.url
    server = start_server(tmp_path / "data", url)
    if not server.api_key:  # the shared PostgreSQL database was set up before: a key of our own
        made = cli("keys", "create", "--name", "export-abort", "--scopes", "read,write,ingest,admin",
                   "--workspace", f"abort-{uuid.uuid4().hex[:8]}", "--database-url", url)
        assert made.returncode == 0, made.stderr
        server.api_key = made.stdout.strip()
    server.data_dir = tmp_path / "data"
    yield server
    server.stop()


def _seed(client: httpx.Client) -> None:
    text = "lorem ipsum dolor sit amet " * 60  # ~1.6 KB a log: the export is ~20 MB, far beyond socket buffers
    for start in range(0, LOGS, BATCH):
        logs = [{"id": f"x-{i}", "provider": "openai", "model": "m", "input": text, "output": text}
                for i in range(start, start + BATCH)]
        assert client.post("/api/v1/requests", json={"requests": logs}).status_code == 200


def _break_database(live, database) -> None:  # noqa: ANN001
    if database.kind == "sqlite":
        for suffix in ("", "-wal"):  # every page the export has not read yet is now garbage
            path = live.data_dir / f"promptyard.db{suffix}"
            if path.exists():
                with open(path, "r+b") as f:
                    f.seek(4096)
                    f.write(os.urandom(max(path.stat().st_size - 4096, 0)))
        return
    name = database.url.rsplit("/", 1)[1]
    with database.engine.connect() as conn:
        conn.exec_driver_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_cut_by_a_database_error_fails_as_a_download(live, database, fmt):
    headers = {"Authorization": f"Bearer {live.api_key}", "X-Request-Id": "export-test-1"}
    with httpx.Client(base_url=live.url, headers=headers, timeout=60) as client:
        _seed(client)
        received = 0
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            with client.stream("GET", "/api/v1/requests/export", params={"format": fmt}) as r:
                assert r.status_code == 200
                for chunk in r.iter_raw():
                    if received == 0:
                        _break_database(live, database)
                    received += len(chunk)
        assert received < LOGS * 3000  # it was cut short, and the client was told so
    live.stop()
    log = "".join(live.output) + live.process.stdout.read()
    assert "export aborted" in log and "export-test-1" in log, log[-2000:]
    assert "SELECT" not in log and "lorem" not in log  # no SQL, parameters or content in the server log
