"""Retention on SQLite and PostgreSQL: a workspace's period (default: none), set by admins with a
reason (audited); logs older than it purged by the server's tick (bounded per tick, safe from
several processes) and on request, with a dry run first; the totals adjusted and the text gone from
the SQLite file and its WAL."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient

from promptyard.services import erasure, log_stats
from promptyard.store.types import utcnow
from tests.conftest import make_key
from tests.erasure_support import canary, canary_log, events, ids_in, in_files, ingest, log, sqlite_files, workspace
from tests.servers import start_server


def aged(days: float, **kw):  # noqa: ANN003, ANN201
    return log(start_time=(utcnow() - timedelta(days=days)).isoformat(), **kw)


def test_retention_is_none_by_default_and_set_by_admins_with_a_reason(api, app, database):
    got = api.get("/api/v1/privacy/retention").json()
    assert got == {"days": None, "cutoff": None, "expired": 0}
    api.post("/api/v1/requests", json={"requests": [aged(40), aged(40), aged(1)]})
    for bad in ({"days": 0, "reason": "x"}, {"days": 36_501, "reason": "x"}, {"days": "ten", "reason": "x"},
                {"days": 30}, {"days": 30, "reason": ""}, {"days": 1.5, "reason": "x"}, {"reason": "x"},
                {"days": 30, "reason": "x" * 5001}):
        answer = api.put("/api/v1/privacy/retention", json=bad)
        assert answer.status_code == 422, (bad, answer.text)
    editor = TestClient(app, raise_server_exceptions=False)
    editor.headers["Authorization"] = "Bearer " + make_key(database, api.principal, scopes=("read", "write", "ingest"))
    assert editor.put("/api/v1/privacy/retention", json={"days": 30, "reason": "policy"}).status_code == 403
    assert editor.post("/api/v1/privacy/purge", json={"dry_run": True}).status_code == 403
    assert api.post("/api/v1/privacy/purge", json={"dry_run": 0}).status_code == 422  # not read as false
    assert editor.get("/api/v1/privacy/retention").json()["days"] is None  # reading it is allowed
    answer = api.put("/api/v1/privacy/retention", json={"days": 30, "reason": "pharmacy policy: 30 days"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["days"] == 30 and answer.json()["expired"] == 2
    assert api.post("/api/v1/privacy/purge", json={"dry_run": True}).json()["count"] == 2
    assert len(ids_in(database, api.principal)) == 3  # the dry run removed nothing
    (event,) = events(database, api.principal, "retention.set")
    assert event.details == {"from": None, "to": 30, "reason": "pharmacy policy: 30 days"}
    purged = api.post("/api/v1/privacy/purge", json={})
    assert purged.status_code == 200 and purged.json()["count"] == 2
    assert len(ids_in(database, api.principal)) == 1
    (event,) = events(database, api.principal, "retention.purge")
    assert event.details["count"] == 2 and event.details["days"] == 30
    assert api.put("/api/v1/privacy/retention", json={"days": None, "reason": "legal hold"}).json()["days"] is None
    assert api.post("/api/v1/privacy/purge", json={}).json()["count"] == 0


def test_the_tick_purges_every_workspace_with_a_period_a_bounded_number_at_a_time(database, monkeypatch):
    monkeypatch.setattr(erasure, "BATCH", 2)
    a, b, forever = workspace(database), workspace(database), workspace(database)
    for p in (a, b, forever):
        ingest(database, p, [aged(10, scores=[{"name": "q", "value": 10}]) for _ in range(3)] + [aged(2)])
    for p, days in ((a, 7), (b, 5)):
        with database.write() as s:
            erasure.set_retention(s, p, days, "policy")
    # one tick does at most 2 batches of 2 logs: of the 6 expired ones, some wait for the next tick
    done = erasure.purge_expired(database, max_batches=2)
    assert 0 < sum(done.values()) <= 4
    assert len(ids_in(database, a)) + len(ids_in(database, b)) >= 8 - 4
    while erasure.purge_expired(database, max_batches=2):
        pass
    for p in (a, b):
        assert len(ids_in(database, p)) == 1
        with database.read() as s:
            (row,) = log_stats.per_version(s, p)
        assert row["count"] == 1 and row["scores"] == {}
    assert len(ids_in(database, forever)) == 4
    purges = events(database, a, "retention.purge")
    assert sum(e.details["count"] for e in purges) == 3 and all(e.actor == "retention" for e in purges)


def test_concurrent_purges_remove_each_log_once(database):
    p = workspace(database)
    ingest(database, p, [aged(30, scores=[{"name": "q", "value": 50}]) for _ in range(300)] + [aged(0)])
    with database.write() as s:
        erasure.set_retention(s, p, 7, "policy")
    results, problems = [], []

    def run() -> None:
        try:
            results.append(erasure._purge_workspace(database, p, 7, utcnow() - timedelta(days=7), None)[0])
        except Exception as exc:  # noqa: BLE001 - reported below
            problems.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert problems == [] and sum(results) == 300
    with database.read() as s:
        (row,) = log_stats.per_version(s, p)
    assert row["count"] == 1 and row["scores"] == {}


def test_purged_text_is_gone_from_the_sqlite_file_and_wal(database):
    if database.kind != "sqlite":
        pytest.skip("SQLite's files")
    p = workspace(database)
    mark = canary()
    old = canary_log(mark) | {"start_time": (utcnow() - timedelta(days=90)).isoformat()}
    ingest(database, p, [old, aged(1)])
    files = sqlite_files(database)
    assert in_files(files, mark[4:].encode())
    with database.write() as s:
        erasure.set_retention(s, p, 30, "policy")
    assert erasure.purge_expired(database) == {p.workspace_id: 1}
    assert in_files(files, mark.encode()) == [] and in_files(files, mark[4:].encode()) == []


def test_a_running_server_purges_by_itself(tmp_path):
    server = start_server(tmp_path, env={"PROMPTYARD_RAMP_TICK_S": "0.2"})
    try:
        http = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.api_key}"})
        mark = canary()
        old, new = canary_log(mark) | {"start_time": (utcnow() - timedelta(days=45)).isoformat()}, aged(0)
        assert http.post("/api/v1/requests", json={"requests": [old, new]}).status_code == 200
        assert http.put("/api/v1/privacy/retention", json={"days": 30, "reason": "policy"}).status_code == 200
        deadline = time.monotonic() + 30
        while http.get(f"/api/v1/requests/{old['id']}").status_code != 404:
            assert time.monotonic() < deadline, "the tick did not purge"
            time.sleep(0.1)
        assert http.get(f"/api/v1/requests/{new['id']}").status_code == 200
        files = [tmp_path / "promptyard.db", tmp_path / "promptyard.db-wal"]
        while in_files(files, mark[4:].encode()):  # the purge's checkpoint follows its commit
            assert time.monotonic() < deadline, "the purged text stayed in the files"
            time.sleep(0.1)
    finally:
        server.stop()


def test_service_checks(database, principal):
    from promptyard.domain.records import Principal
    from promptyard.errors import Forbidden, InvalidInput

    editor = Principal(workspace_id=principal.workspace_id, actor="e", scopes=frozenset({"read", "write", "ingest"}))
    with database.write() as s:
        with pytest.raises(Forbidden):
            erasure.set_retention(s, editor, 30, "x")
        for days in (0, -1, True, 1.0, "3"):
            with pytest.raises(InvalidInput):
                erasure.set_retention(s, principal, days, "x")
        with pytest.raises(InvalidInput):
            erasure.set_retention(s, principal, 3, "  ")
    with pytest.raises(Forbidden):
        erasure.purge(database, editor)
    assert erasure.purge(database, principal) == {"count": 0, "dry_run": False, "days": None, "cutoff": None}
