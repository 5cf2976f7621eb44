"""Erasure on SQLite and PostgreSQL: one log, one end user's logs, a filter's logs; through the API
and the service. What goes leaves nothing behind: not in search, export, the running totals, the
experiments' numbers (equal to those of a workspace that never had the logs), pending updates, nor
the database files (a canary grepped for in the SQLite file and its WAL; PostgreSQL's pages read
with pageinspect). Admins only, previewed, audited without content."""

from __future__ import annotations

import json
import random
import secrets
import uuid

import pytest
from sqlalchemy import func, select, text

from promptyard.domain import query
from promptyard.domain.records import Principal
from promptyard.errors import Conflict, Forbidden, InvalidInput, NotFound
from promptyard.services import (
    erasure,
    experiments,
    labels,
    log_stats,
    prompts,
    request_annotations,
    request_reads,
    versions,
)
from promptyard.store.db import LOG_TABLES
from promptyard.store.models import (
    AuditEvent,
    Experiment,
    ExperimentUnit,
    PendingUpdate,
    Request,
    RequestMetadata,
    RequestTag,
    Score,
)
from tests.conftest import make_key
from tests.erasure_support import canary, canary_log, events, ids_in, in_files, ingest, log, sqlite_files, workspace

# --- through the API ---------------------------------------------------------------------------


def test_delete_one_log_removes_it_from_reads_search_export_and_totals(api, database):
    p = api.principal
    keep, gone = log(), log(scores=[{"name": "q", "value": 40}], metadata={"env": "prod", "patient_id": "p-1"})
    assert api.post("/api/v1/requests", json={"requests": [keep, gone]}).status_code == 200
    before = api.get("/api/v1/requests/stats").json()["items"]
    assert before[0]["count"] == 2
    answer = api.delete(f"/api/v1/requests/{gone['id']}")
    assert answer.status_code == 200, answer.text
    assert answer.json()["count"] == 1 and answer.json()["id"] == gone["id"]
    assert api.get(f"/api/v1/requests/{gone['id']}").status_code == 404
    assert api.delete(f"/api/v1/requests/{gone['id']}").status_code == 404
    assert [i["id"] for i in api.get("/api/v1/requests").json()["items"]] == [keep["id"]]
    found = api.post("/api/v1/requests/search", json={"filter": 'metadata.patient_id = "p-1"'}).json()["items"]
    assert found == []
    assert gone["id"] not in api.get("/api/v1/requests/export").text
    (row,) = api.get("/api/v1/requests/stats").json()["items"]
    assert row["count"] == 1 and "q" not in row["scores"]
    (event,) = events(database, p, "request.erase")
    assert event.details == {"client_id": gone["id"], "count": 1} and event.actor.startswith("key:")


def test_erase_an_end_user_preview_then_expected_count(api, database):
    p = api.principal
    value = "p-" + secrets.token_hex(4)
    mine = [log(metadata={"patient_id": value}) for _ in range(3)]
    other = [log(metadata={"patient_id": "someone-else"})]
    api.post("/api/v1/requests", json={"requests": mine + other})
    body = {"metadata_key": "patient_id", "metadata_value": value}
    preview = api.post("/api/v1/requests/erase", json=body | {"dry_run": True})
    assert preview.status_code == 200 and preview.json() == {"count": 3, "dry_run": True}
    assert len(ids_in(database, p)) == 4  # a dry run removes nothing
    stale = api.post("/api/v1/requests/erase", json=body | {"expected": 2})
    assert stale.status_code == 409 and stale.json()["error"]["details"]["count"] == 3
    assert len(ids_in(database, p)) == 4
    done = api.post("/api/v1/requests/erase", json=body | {"expected": 3})
    assert done.status_code == 200 and done.json() == {"count": 3, "dry_run": False}
    assert ids_in(database, p) == {other[0]["id"]}
    (event,) = events(database, p, "requests.erase_user")
    assert event.details["metadata_key"] == "patient_id" and event.details["count"] == 3
    with database.read() as s:
        assert event.details["value_hmac"] == erasure.value_digest(s, p.workspace_id, "patient_id", value)
    assert value not in json.dumps(event.details)  # the trail names nobody
    proof = api.post("/api/v1/privacy/erasures", json={"metadata_key": "patient_id", "metadata_value": value})
    assert proof.status_code == 200 and [(x["count"], x["actor"]) for x in proof.json()["items"]] == [(3, event.actor)]
    other_proof = api.post("/api/v1/privacy/erasures", json={"metadata_key": "patient_id", "metadata_value": "nobody"})
    assert other_proof.json()["items"] == []


def test_erase_by_filter_and_bad_requests(api, database):
    p = api.principal
    api.post("/api/v1/requests", json={"requests": [log(model="old-model"), log(model="old-model"), log()]})
    assert api.post("/api/v1/requests/erase", json={"filter": 'model = "old-model"', "dry_run": True}).json()[
        "count"] == 2
    done = api.post("/api/v1/requests/erase", json={"filter": {"field": "model", "op": "=", "value": "old-model"}})
    assert done.status_code == 200 and done.json()["count"] == 2
    assert len(ids_in(database, p)) == 1
    (event,) = events(database, p, "requests.erase_filter")
    assert event.details == {"filter": 'model = "old-model"', "count": 2}
    for bad in ({}, {"filter": ""}, {"filter": "model ="}, {"filter": "x", "metadata_key": "k", "metadata_value": "v"},
                {"metadata_key": "patient_id"}, {"metadata_value": "v"}, {"filter": "status = \"ok\"", "expected": -1},
                {"metadata_key": "k", "metadata_value": True}):
        answer = api.post("/api/v1/requests/erase", json=bad)
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.json()["error"]["code"] == "invalid_input"
    assert len(ids_in(database, p)) == 1
    assert api.get("/api/v1/requests/erase").status_code == 405  # not the {ref} lookup


def test_only_admins_erase(api, app, database):
    from fastapi.testclient import TestClient

    one = log()
    api.post("/api/v1/requests", json=one)
    editor = TestClient(app, raise_server_exceptions=False)
    editor.headers["Authorization"] = "Bearer " + make_key(database, api.principal, scopes=("read", "write", "ingest"))
    for answer in (editor.delete(f"/api/v1/requests/{one['id']}"),
                   editor.post("/api/v1/requests/erase", json={"filter": "status = \"ok\"", "dry_run": True}),
                   editor.post("/api/v1/requests/erase", json={"metadata_key": "env", "metadata_value": "prod"})):
        assert answer.status_code == 403, answer.text
    assert ids_in(database, api.principal) == {one["id"]}
    viewer = Principal(workspace_id=api.principal.workspace_id, actor="v", scopes=frozenset({"read"}))
    with pytest.raises(Forbidden):
        erasure.erase_one(database, viewer, one["id"])


def test_erasure_never_crosses_workspaces(database, principal):
    other = workspace(database)
    mine, theirs = log(metadata={"patient_id": "shared"}), log(metadata={"patient_id": "shared"})
    ingest(database, principal, [mine])
    ingest(database, other, [theirs])
    with pytest.raises(NotFound):
        erasure.erase_one(database, principal, theirs["id"])
    with database.read() as s:
        their_number = s.scalar(select(Request.id).where(Request.client_id == theirs["id"]))
    with pytest.raises(NotFound):
        erasure.erase_one(database, principal, str(their_number))
    assert erasure.erase_end_user(database, principal, "patient_id", "shared")["count"] == 1
    assert ids_in(database, other) == {theirs["id"]}


# --- the service: everything linked goes, totals as if the logs were never there --------------


def test_children_and_pending_updates_go_with_the_log(database, principal):
    one = log(scores=[{"name": "q", "value": 70, "comment": "ok"}], metadata={"patient_id": "p-9"}, tags=["a", "b"])
    ingest(database, principal, [one])
    late = str(uuid.uuid4())  # a score sent before its log: pending
    with database.write() as s:
        request_annotations.annotate(s, principal, late, request_annotations.SCORES, {"name": "q", "value": 1},
                                     grace_s=3600)
    ingest(database, principal, [log(id=late)])
    with database.write() as s:
        request_annotations.annotate(s, principal, "not-yet-" + late, request_annotations.SCORES, {"name": "q", "value": 1},
                                     grace_s=3600)
        rid = request_reads.find(s, principal, one["id"])
        lid = request_reads.find(s, principal, late)
        # a pending update left for an id whose log is stored (applied by the tick otherwise)
        s.add(PendingUpdate(workspace_id=principal.workspace_id, client_id=one["id"], kind="tags",
                            payload={"add": ["x"], "remove": []}))
    with database.write() as s:
        assert erasure.delete_requests(s, principal.workspace_id, [rid, lid, 10**12]) == 2
    with database.read() as s:
        for model in (RequestMetadata, RequestTag, Score):
            assert s.scalar(select(func.count()).select_from(model).where(model.request_id.in_([rid, lid]))) == 0
        pending = s.scalars(select(PendingUpdate.client_id).where(
            PendingUpdate.workspace_id == principal.workspace_id)).all()
    assert pending == ["not-yet-" + late]


def _stats(database, p):  # noqa: ANN001, ANN202
    with database.read() as s:
        return _rounded([{k: v for k, v in row.items() if k not in ("first", "last")}
                         for row in log_stats.per_version(s, p)])


def _rounded(value):  # noqa: ANN001, ANN202
    """Floats to 9 significant digits: sums with and without a subtraction differ in the last bits."""
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    return value


def _experiment(database, p):  # noqa: ANN001, ANN202
    with database.write() as s:
        pid = prompts.create(s, p, name="reply").id
        for i in (1, 2):
            versions.publish(s, p, pid, {"messages": [{"role": "user", "content": f"v{i} {{q}}"}],
                                         "commit_message": f"v{i}"})
        labels.move(s, p, pid, "production", version=1, reason="baseline")
        experiments.set_policy(s, p, pid, "production", reason="try v2", policy={
            "sticky_key": "user_id", "split": [{"version": 1, "weight": 50}, {"version": 2, "weight": 50}]},
            declared={"primary_metric": "q"})
    return pid


def _traffic(seed: int) -> list[dict]:
    """Client-routed logs of 60 users (sticky) and 40 one-off requests, with scores and errors."""
    rng, out = random.Random(seed), []
    for u in range(60):
        version = 1 + u % 2
        for _ in range(rng.randint(1, 4)):
            out.append(_routed(rng, version, "split", f"user-{u}", {"user_id": f"user-{u}"}))
    for _ in range(40):
        out.append(_routed(rng, rng.choice((1, 2)), "split", None, {}))
    return out


def _routed(rng: random.Random, version: int, rule: str, unit: str | None, meta: dict) -> dict:
    item = log(metadata=meta, latency_ms=rng.randint(100, 3000), cost=rng.random() / 100,
               scores=[{"name": "q", "value": float(rng.randint(0, 100))}],
               prompt={"name": "reply", "version": version}, routing={"label": "production", "rule": rule, "unit": unit})
    if rng.random() < 0.1:
        item |= {"status": "error", "error": {"type": "Boom", "message": "x"}}
    return item


def _evidence(database, p, pid):  # noqa: ANN001, ANN202
    with database.read() as s:
        v = experiments.view(s, p, pid, "production")
    return _rounded({k: v[k] for k in ("rules", "comparisons", "winner", "warnings", "srm_failed")})


def test_totals_and_experiment_numbers_equal_a_workspace_that_never_had_the_logs(database, principal):
    logs = _traffic(seed=13)
    erased_users = {"user-3", "user-4", "user-10"}
    goes = [x for x in logs if x["metadata"].get("user_id") in erased_users]
    one_offs = [x for x in logs if not x["metadata"]][:7]
    stays = [x for x in logs if x not in goes and x not in one_offs]
    a, b = principal, workspace(database)
    pa, pb = _experiment(database, a), _experiment(database, b)
    ingest(database, a, logs)
    ingest(database, b, stays)
    for user in sorted(erased_users):
        assert erasure.erase_end_user(database, a, "user_id", user)["count"] > 0
    for x in one_offs:
        erasure.erase_one(database, a, x["id"])
    assert ids_in(database, a) == {x["id"] for x in stays}
    assert _stats(database, a) == _stats(database, b)
    assert _evidence(database, a, pa) == _evidence(database, b, pb)
    with database.read() as s:  # no row of an erased unit is left (not even at n = 0)
        def units(p):  # noqa: ANN001, ANN202
            return s.execute(select(ExperimentUnit.version, ExperimentUnit.rule, ExperimentUnit.metric,
                                    ExperimentUnit.unit, ExperimentUnit.n)
                             .join(Experiment, Experiment.id == ExperimentUnit.experiment_id)
                             .where(Experiment.workspace_id == p.workspace_id)
                             .order_by(ExperimentUnit.version, ExperimentUnit.rule, ExperimentUnit.metric,
                                       ExperimentUnit.unit)).all()
        assert [r[:4] + (float(r[4]),) for r in units(a)] == [r[:4] + (float(r[4]),) for r in units(b)]


def test_large_erasures_run_in_batches_and_the_audit_counts_what_was_committed(database, principal, monkeypatch):
    monkeypatch.setattr(erasure, "BATCH", 3)
    ingest(database, principal, [log(metadata={"user_id": "big"}) for _ in range(8)] + [log()])
    assert erasure.erase_end_user(database, principal, "user_id", "big", dry_run=True)["count"] == 8
    with pytest.raises(Conflict):
        erasure.erase_end_user(database, principal, "user_id", "big", expected=7)
    assert erasure.erase_end_user(database, principal, "user_id", "big", expected=8)["count"] == 8
    assert len(ids_in(database, principal)) == 1
    (event,) = events(database, principal, "requests.erase_user")
    assert event.details["count"] == 8
    with pytest.raises(InvalidInput):
        erasure.erase_by_filter(database, principal, "   ")


# --- nothing left in the database files --------------------------------------------------------


def test_sqlite_file_and_wal_hold_no_canary_after_erasure(database, principal):
    if database.kind != "sqlite":
        pytest.skip("SQLite's files")
    marks = [canary(), canary()]
    ingest(database, principal, [canary_log(m) for m in marks] + [log() for _ in range(20)])
    files = sqlite_files(database)
    for mark in marks:  # the test can fail: the text is in the files now
        assert in_files(files, mark.encode()), mark
    with database.read() as s:
        assert s.execute(text("PRAGMA secure_delete")).scalar() == 1
    erasure.erase_end_user(database, principal, "patient_id", marks[0])
    with database.read() as s:  # (a filter naming the text would keep it: the audit trail holds filters as typed)
        second = s.scalar(select(RequestMetadata.request_id).where(RequestMetadata.value == marks[1]))
    erasure.erase_one(database, principal, str(second))
    assert not database.unreclaimed
    with database.read() as s:  # a new database: incremental auto-vacuum gave the freed pages back
        assert s.execute(text("PRAGMA auto_vacuum")).scalar() == 2
        assert s.execute(text("PRAGMA freelist_count")).scalar() == 0
    for mark in marks:
        assert in_files(files, mark.encode()) == [], mark
        assert in_files(files, mark[4:].encode()) == [], mark  # nor its ASCII part, anywhere


def test_sqlite_text_index_keeps_no_word_of_an_erased_log(database, principal):
    """The text index holds each gram of a log as a word (its text could be read back from them):
    after the erasure and the merge reclaim runs in bounded steps (the rest at later calls, as the
    server's tick does), none of the erased log's words is in the file or the WAL."""
    if database.kind != "sqlite":
        pytest.skip("SQLite's files")
    # Characters no other text holds, 64 code points apart (each its own second UTF-8 byte), so a
    # word's bytes after its first one are in the file whatever prefix the index shares with the
    # word before it.
    mark = "".join(chr(0x3400 + 0x40 * k) for k in range(8))
    needles = [(a + b).encode()[1:] for a, b in zip(mark, mark[1:])]
    for n in range(4):  # several segments in the index, the marker's in an older one
        ingest(database, principal, [log(input={"messages": [{"role": "user", "content": f"相談{n}の件"}]})
                                     for _ in range(30)] + ([canary_log(mark)] if n == 1 else []))
    files = sqlite_files(database)
    assert all(in_files(files, w) for w in needles)  # the words are in the files now (the test can fail)
    with database.read() as s:
        rid = s.scalar(select(RequestMetadata.request_id).where(RequestMetadata.value == mark))
    with database.write() as s:
        erasure.delete_requests(s, principal.workspace_id, [rid])
    assert database.reclaim(budget_s=0) is False and database.unreclaimed  # the merge is left for later
    for _ in range(1000):
        if database.reclaim(erased=False):
            break
    assert not database.unreclaimed
    for word in needles + [mark.encode()]:
        assert in_files(files, word) == [], word
    with database.read() as s:
        found = request_reads.browse(s, principal, node=query.parse('text ~ "相談2の"'), limit=100)["items"]
    assert len(found) == 30  # the other logs' words are still there


def _pg_pages_with(database, needle: str) -> list[str]:  # noqa: ANN001
    """The relations (log tables, their TOAST tables and indexes) with a page holding `needle`."""
    with database.engine.connect() as conn:
        conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pageinspect")
        # a partitioned table's rows are in its partitions (store/partitions.py): named here as the table
        rels = conn.exec_driver_sql(
            "SELECT c.oid::regclass::text, replace(c.oid::regclass::text, t.relname, coalesce(p.relname, t.relname)) "
            "FROM pg_class t LEFT JOIN pg_inherits i ON i.inhrelid = t.oid LEFT JOIN pg_class p ON p.oid = i.inhparent "
            "JOIN pg_class c ON c.oid = t.oid OR c.oid = t.reltoastrelid "
            "OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid IN (t.oid, t.reltoastrelid)) "
            "WHERE t.relnamespace = 'public'::regnamespace AND coalesce(p.relname, t.relname) = ANY(%(tables)s) "
            "AND t.relkind <> 'p' AND c.relkind <> 'I'",
            {"tables": list(LOG_TABLES)}).all()
        found = []
        for rel, name in rels:
            pages = conn.exec_driver_sql("SELECT pg_relation_size(%(r)s::regclass) / current_setting('block_size')::int",
                                         {"r": rel}).scalar()
            hit = conn.exec_driver_sql(
                "SELECT count(*) FROM generate_series(0, %(n)s - 1) AS b "
                "WHERE position(convert_to(%(needle)s, 'UTF8') IN get_raw_page(%(r)s, b::int)) > 0",
                {"n": pages, "needle": needle, "r": rel}).scalar()
            if hit:
                found.append(name)
        conn.commit()
    return found


def test_postgres_pages_hold_no_canary_after_erasure_and_vacuum_full(database, principal):
    if database.kind != "postgresql":
        pytest.skip("PostgreSQL's pages")
    mark = canary()
    big = log(input={"messages": [{"role": "user", "content": mark + " " + secrets.token_hex(8000)}]},
              metadata={"patient_id": mark})  # a long input: stored in the TOAST table
    ingest(database, principal, [canary_log(mark), big])
    database.reclaim()
    before = _pg_pages_with(database, mark)
    assert {"requests", "request_metadata", "scores"} <= set(before) and any("toast" in r for r in before), before
    assert erasure.erase_end_user(database, principal, "patient_id", mark)["count"] == 2
    database.reclaim(full=True)
    assert _pg_pages_with(database, mark) == []


def test_postgres_plain_vacuum_can_leave_a_deleted_rows_bytes(database):
    """Why docs/privacy.md asks for VACUUM FULL on PostgreSQL: after plain VACUUM a deleted row's
    bytes stay in its page when it was the page's last row (PostgreSQL 15: freed space is not zeroed)."""
    if database.kind != "postgresql":
        pytest.skip("PostgreSQL's pages")
    mark = canary()
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pageinspect")
        conn.exec_driver_sql("DROP TABLE IF EXISTS vacuum_probe")
        conn.exec_driver_sql("CREATE TABLE vacuum_probe (id int, t text) WITH (autovacuum_enabled = false)")
        conn.exec_driver_sql("INSERT INTO vacuum_probe SELECT g, 'filler' FROM generate_series(1, 20) g")
        conn.exec_driver_sql("INSERT INTO vacuum_probe VALUES (0, %(m)s)", {"m": mark})
        conn.exec_driver_sql("DELETE FROM vacuum_probe WHERE id = 0")

        def there() -> bool:
            return conn.exec_driver_sql("SELECT position(convert_to(%(m)s, 'UTF8') IN get_raw_page('vacuum_probe', 0)) > 0",
                                        {"m": mark}).scalar()
        conn.exec_driver_sql("VACUUM vacuum_probe")
        after_vacuum = there()
        conn.exec_driver_sql("VACUUM FULL vacuum_probe")
        after_full = there()
        conn.exec_driver_sql("DROP TABLE vacuum_probe")
    assert (after_vacuum, after_full) == (True, False)


def test_erasure_events_hold_no_request_content(database, principal):
    mark = canary()
    ingest(database, principal, [canary_log(mark)])
    erasure.erase_end_user(database, principal, "patient_id", mark)
    with database.read() as s:
        details = s.scalars(select(AuditEvent.details).where(AuditEvent.workspace_id == principal.workspace_id)).all()
    assert details and mark not in json.dumps(details, ensure_ascii=False)
