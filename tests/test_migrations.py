"""Migrations build the schema the models describe, from empty, on both databases."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text

from promptyard.services import keys, log_stats
from promptyard.store import partitions
from promptyard.store.db import Database
from promptyard.store.migrate import current, downgrade, head_revision, upgrade
from promptyard.store.models import Base, Request
from promptyard.store.types import JSONType


def test_migrations_match_models(database):
    assert current(database.engine) is not None
    with database.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = [d for d in compare_metadata(ctx, Base.metadata) if not _dialect_extra(d)]
    assert diff == [], diff


def _dialect_extra(item) -> bool:  # noqa: ANN001
    """Structures that live only in migrations: FTS5 tables, trigram indexes, PostgreSQL's covering index,
    and PostgreSQL's month partitions (store/partitions.py) with their keys: a client id is unique in
    request_keys (the partitioned requests table only indexes it), a score's id is indexed, not a key, and
    the month's rows point at the month's requests (partitions.LINKED)."""
    text = repr(item)
    if item[0] == "add_fk" and item[1].table.name in partitions.LINKED and item[1].referred_table.name == "requests":
        return True
    return ("fts" in text or "trgm" in text or "ix_requests_covering" in text
            or re.search(r"table=<\w+_(before|\d{6})>|Table\('(\w+_(before|\d{6})|request_keys)'"
                         r"|ForeignKey\('\w+_(before|\d{6})\.", text) is not None
            or item[0] in ("add_constraint", "remove_index", "add_index") and (
                "Column('client_id'" in text or "ix_requests_client" in text or "ix_scores_id" in text))


def test_upgrade_fills_version_totals_from_stored_logs(empty_url):
    """0003 computes the running totals of the logs stored before it, as ingest keeps them."""
    db = Database(empty_url)
    try:
        upgrade(db.engine, "0002")
        with db.write() as s:
            ws, _ = keys.ensure_workspace(s, "m")
            now = datetime(2026, 11, 1, tzinfo=timezone.utc)
            rows = [{"workspace_id": ws, "client_id": f"c{i}", "received_at": now, "start_time": now,
                     "input": {}, "output": {}, "parameters": {}, "input_text": "", "output_text": "",
                     "status": status, "tags": [], "source": "api", "prompt_name": name, "version_number": number,
                     "latency_ms": latency, "total_tokens": 10, "cost": None}
                    for i, (name, number, status, latency) in enumerate(
                        [("a", 1, "ok", 100.0), ("a", 1, "error", 200.0), (None, None, "ok", None)])]
            s.execute(_requests_before_0008().insert(), rows)
            ids = s.scalars(select(Request.id).order_by(Request.client_id)).all()
            s.execute(text("INSERT INTO scores (workspace_id, request_id, name, value, comment, source, author, "
                           "created_at, updated_at) VALUES (:ws, :rid, 'q', :v, '', 'api', '', :t, :t)"),
                      [{"ws": ws, "rid": rid, "v": v, "t": now} for rid, v in zip(ids, (40, 60, 5))])
        upgrade(db.engine)
        with db.read() as s:
            stats = {(i["prompt"], i["version"]): i for i in log_stats.per_version(s, keys.system_principal(ws))}
        a1 = stats[("a", 1)]
        assert (a1["count"], a1["error_rate"], a1["tokens_total"], a1["cost_total"]) == (2, 0.5, 20, None)
        assert a1["scores"]["q"]["mean"] == 50 and a1["latency_p50"] == pytest.approx(150, rel=0.01)
        assert stats[(None, None)]["scores"]["q"]["n"] == 1 and stats[(None, None)]["latency_p50"] is None
    finally:
        db.dispose()


def test_upgrade_fills_hour_totals_from_stored_logs(empty_url):
    """0021 adds up the logs stored before it per version and UTC hour, as ingest keeps them: the
    trends read from those totals equal the trends counted from the logs."""
    from promptyard.domain import query
    from promptyard.services import log_trends

    db = Database(empty_url)
    try:
        upgrade(db.engine, "0018")
        with db.write() as s:
            ws, _ = keys.ensure_workspace(s, "m")
            t0 = datetime(2026, 11, 1, 10, 59, 59, 999_000, tzinfo=timezone.utc)
            rows = [{"workspace_id": ws, "client_id": f"c{i}", "received_at": t0, "start_time": t0 + timedelta(
                     minutes=40 * i), "input": {}, "output": {}, "parameters": {}, "status": "error" if i % 3 else "ok",
                     "tags": [], "source": "api", "prompt_name": "a" if i % 2 else None,
                     "version_number": 1 if i % 2 else None} for i in range(8)]
            s.execute(sa.Table("requests", sa.MetaData(), *[sa.Column(c.name, c.type) for c in Request.__table__.c
                                                            if c.name != "id"]).insert(), rows)
            ids = s.scalars(select(Request.id).order_by(Request.client_id)).all()
            s.execute(text("INSERT INTO scores (workspace_id, request_id, name, value, comment, source, author, "
                           "created_at, updated_at) VALUES (:ws, :rid, 'q', :v, '', 'api', '', :t, :t)"),
                      [{"ws": ws, "rid": rid, "v": 10 * i, "t": t0} for i, rid in enumerate(ids)])
        upgrade(db.engine)
        p, now = keys.system_principal(ws), datetime(2026, 11, 1, 20, tzinfo=timezone.utc)
        with db.read() as s:
            totals = log_trends.per_hour(s, p, hours=12, tz="UTC", now=now)
            logs = log_trends.per_hour(s, p, hours=12, tz="UTC", now=now, node=query.parse('status = "ok" OR status = "error"'))
        assert totals == logs and sum(sum(x["count"]) for x in totals["series"]) == 8
        assert {(x["prompt"], x["version"]) for x in totals["series"]} == {("a", 1), (None, None)}
    finally:
        db.dispose()


def _requests_before_0008() -> sa.Table:
    """The requests table as it was before 0008 (which stores each text once, as JSON only)."""
    cols = [sa.Column(c.name, JSONType if c.name in ("input", "output") else c.type, primary_key=c.primary_key)
            for c in Request.__table__.c]
    return sa.Table("requests", sa.MetaData(), *cols, sa.Column("input_text", sa.Text), sa.Column("output_text", sa.Text))


def test_downgrade_to_base_and_upgrade_again(empty_url):
    """Every migration can be undone and redone, one step back and all the way (0004's downgrade
    named SQLite's keys differently from the name its upgrade drops: 'No such constraint')."""
    db = Database(empty_url)
    try:
        upgrade(db.engine)
        for _ in range(2):  # twice: the second round starts from a schema a downgrade rebuilt
            downgrade(db.engine, "-1")
            upgrade(db.engine)
        downgrade(db.engine, "base")
        assert current(db.engine) is None
        upgrade(db.engine)
        assert current(db.engine) == head_revision()
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = [d for d in compare_metadata(ctx, Base.metadata) if not _dialect_extra(d)]
        assert diff == [], diff
    finally:
        db.dispose()


def test_upgrade_turns_label_history_into_experiments_with_their_sums(empty_url):
    """0006 makes one experiment per policy period of the label history (the past one ended by
    the move after it) and fills its per-unit sums from the logs stored in it, as ingest would."""
    from promptyard.services import experiment_records, experiments, labels, prompts, versions

    db = Database(empty_url)
    try:
        upgrade(db.engine)
        with db.write() as s:
            ws, _ = keys.ensure_workspace(s, "m")
            p = keys.system_principal(ws, actor="pdm")
            pid = prompts.create(s, p, name="reply").id
            for i in (1, 2):
                versions.publish(s, p, pid, {"messages": [{"role": "user", "content": f"v{i}"}], "commit_message": "c"})
            labels.move(s, p, pid, "production", version=1, reason="v1")
            split = {"sticky_key": "user_id", "split": [{"version": 1, "weight": 50}, {"version": 2, "weight": 50}]}
            labels.move(s, p, pid, "production", policy=split, reason="old try")
            labels.move(s, p, pid, "production", policy={**split, "salt": "again"}, reason="new try")
        downgrade(db.engine, "0005")
        with db.write() as s:
            events = s.execute(text("SELECT id, created_at FROM label_events ORDER BY id")).all()
            opened = datetime.fromisoformat(str(events[-1][1])).replace(tzinfo=timezone.utc)
            rows = []
            for i, (version, rule, unit, score) in enumerate(
                    [(1, "split", "a", 40.0), (1, "split", "a", 60.0), (2, "split", "b", 70.0),
                     (2, "split", "c", 90.0), (2, "segment:gone", "d", 0.0)]):
                rows.append({"workspace_id": ws, "client_id": f"c{i}", "received_at": opened,
                             "start_time": opened + timedelta(seconds=1), "input": {}, "output": {}, "parameters": {},
                             "input_text": "", "output_text": "", "status": "error" if i == 0 else "ok", "tags": [],
                             "source": "api", "prompt_id": pid, "prompt_name": "reply", "version_number": version,
                             "label": "production", "routing": {"label": "production", "rule": rule, "unit": unit}})
            s.execute(text("INSERT INTO requests (workspace_id, client_id, received_at, start_time, input, output, "
                           "parameters, input_text, output_text, status, tags, source, prompt_id, prompt_name, "
                           "version_number, label, routing) VALUES (:workspace_id, :client_id, :received_at, "
                           ":start_time, '{}', '{}', '{}', '', '', :status, '[]', 'api', :prompt_id, :prompt_name, "
                           ":version_number, :label, :routing)"),
                      [r | {"routing": json.dumps(r["routing"]), "received_at": _naive(r["received_at"]),
                            "start_time": _naive(r["start_time"])} for r in rows])
            ids = s.scalars(select(Request.id).order_by(Request.client_id)).all()
            s.execute(text("INSERT INTO scores (workspace_id, request_id, name, value, comment, source, author, "
                           "created_at, updated_at) VALUES (:ws, :rid, 'q', :v, '', 'api', '', :t, :t)"),
                      [{"ws": ws, "rid": rid, "v": v, "t": opened}
                       for rid, v in zip(ids, (40.0, 60.0, 70.0, 90.0, 0.0))])
        upgrade(db.engine)
        with db.read() as s:
            old, new = sorted(experiment_records.list_for(s, p, pid, "production"), key=lambda r: r.id)
            got = experiments.view(s, p, pid, "production")
        assert (old.state, old.outcome["kind"], old.end_event_id, new.state) == ("ended", "changed", new.start_event_id,
                                                                                 "running")
        arms = {a["version"]: a for a in got["rules"][0]["arms"]}
        assert (arms[1]["units"], arms[1]["requests"], arms[1]["error_rate"]) == (1, 2, 0.5)
        assert (arms[2]["units"], arms[2]["requests"]) == (2, 2)  # the stale rule's log is left out
        assert arms[2]["scores"]["q"]["mean"] == 80.0 and arms[1]["scores"]["q"]["mean"] == 50.0
    finally:
        db.dispose()


def _naive(when: datetime) -> str:
    """A UTC time as both databases take it in plain SQL (as UTCDateTime stores it)."""
    return when.astimezone(timezone.utc).replace(tzinfo=None).isoformat(" ")


def test_planner_statistics_are_refreshed_where_nothing_else_does_it(database):
    """SQLite never gathers them itself; PostgreSQL does unless autovacuum is off (as on this
    machine's cluster), and then Database.analyze does."""
    database.analyze()
    with database.engine.connect() as conn:
        if database.kind == "sqlite":
            assert conn.exec_driver_sql("SELECT count(*) FROM sqlite_stat1").scalar() > 0
        elif conn.exec_driver_sql("SHOW autovacuum").scalar() != "on":
            assert conn.exec_driver_sql(
                "SELECT reltuples FROM pg_class WHERE relname = 'experiment_units'").scalar() >= 0
