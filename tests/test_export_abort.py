"""An export that meets a database error after its 200 went out must fail as a download (the
connection is cut before the last chunk), never end as a short file that looks complete.
A real `promptyard serve` process; the database error is provoked from the test mid-stream."""

from __future__ import annotations

import os

import httpx
import pytest

from tests.servers import start_live

LOGS, BATCH = 12_000, 500


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
def test_export_cut_by_a_database_error_fails_as_a_download(tmp_path, database, fmt):
    live = start_live(tmp_path / "data", database)  # a server of its own: the test breaks its database
    try:
        _seed(live.http)
        received = 0
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            with live.http.stream("GET", "/api/v1/requests/export", params={"format": fmt},
                                  headers={"X-Request-Id": "export-test-1"}, timeout=60) as r:
                assert r.status_code == 200
                for chunk in r.iter_raw():
                    if received == 0:
                        _break_database(live, database)
                    received += len(chunk)
        assert received < LOGS * 3000  # it was cut short, and the client was told so
    finally:
        live.stop()
    log = "".join(live.output) + live.process.stdout.read()
    assert "export aborted" in log and "export-test-1" in log, log[-2000:]
    assert "SELECT" not in log and "lorem" not in log  # no SQL, parameters or content in the server log
