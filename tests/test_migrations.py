"""Migrations build the schema the models describe, from empty, on both databases."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text

from promptyard.services import keys, log_stats
from promptyard.store.db import Database
from promptyard.store.migrate import current, downgrade, head_revision, upgrade
from promptyard.store.models import Base, Request
from tests.conftest import _pg_database


def test_migrations_match_models(database):
    assert current(database.engine) is not None
    with database.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = [d for d in compare_metadata(ctx, Base.metadata) if not _dialect_extra(d)]
    assert diff == [], diff


def _dialect_extra(item) -> bool:  # noqa: ANN001
    """Search structures that live only in migrations (FTS5 tables, trigram indexes)."""
    text = repr(item)
    return "fts" in text or "trgm" in text


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path):  # noqa: ANN001, ANN201
    """A database with no schema yet, dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    admin, name, url = _pg_database("migrations")
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


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
            s.execute(Request.__table__.insert(), rows)
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
