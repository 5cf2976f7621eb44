"""PostgreSQL's month partitions of the request log (store/partitions.py): a log's id says the month
it was received in and every row of it lies in that month's partitions; a client id is stored once
across months (and may come again once erased); retention drops a whole month whose logs are all past
their period, with the totals and experiment numbers of a workspace that never had them, and what
pointed at its logs (dataset items) gone; a month holding one log still in its period, or a log of a
workspace without a period, is kept; months are made ahead; the migration keeps the stored logs.
Each test has a database of its own: dropping months touches every workspace in it."""

from __future__ import annotations

import random
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, func, insert, select, text

from promptyard.errors import Conflict
from promptyard.services import datasets, erasure, request_ingest
from promptyard.store import bulk, partitions
from promptyard.store.migrate import upgrade
from promptyard.store.models import Request, RequestMetadata, Score
from promptyard.store.types import utcnow
from tests.erasure_support import events, ids_in, ingest, log, workspace
from tests.support import upgraded
from tests.test_erasure import _evidence, _experiment, _stats, _traffic


@pytest.fixture()
def pg(empty_url):  # noqa: ANN001, ANN201
    if not empty_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's partitions (SQLite keeps one table each)")
    db, p = upgraded(empty_url)
    yield db, p
    db.dispose()


def months_ago(n: int) -> datetime:
    """The middle of the month n months before this one (UTC)."""
    now = utcnow()
    year, month = divmod(now.year * 12 + now.month - 1 - n, 12)
    return datetime(year, month + 1, 15, 12, tzinfo=timezone.utc)


def received(db, monkeypatch, at: datetime) -> int:  # noqa: ANN001
    """Ingest receives logs at `at` from now on (its clock); that month's partitions made. The month."""
    with db.write() as s:
        partitions.ensure(s.connection(), at, ahead=0)
    monkeypatch.setattr(request_ingest, "utcnow", lambda: at)
    return partitions.month_of(at)


def _homes(db, client_id: str) -> dict[str, set[str]]:  # noqa: ANN001
    """The partitions holding the log's rows, per table."""
    with db.read() as s:
        rid = s.scalar(select(Request.id).where(Request.client_id == client_id))
        return {table: set(s.scalars(text(f"SELECT tableoid::regclass::text FROM {table} WHERE {key} = :id"),
                                      {"id": rid}))
                for table, key in partitions.TABLES.items()}


def test_a_log_and_all_its_rows_lie_in_the_month_it_was_received(pg, monkeypatch):
    db, p = pg
    month = received(db, monkeypatch, months_ago(2))
    old = log(scores=[{"name": "q", "value": 80}], metadata={"env": "prod", "user_id": "u1"})
    ingest(db, p, [old])
    homes = _homes(db, old["id"])
    assert {t for t, found in homes.items() if found} >= {"requests", "request_fts", "scores", "request_metadata"}
    assert all(found == {f"{t}_{month}"} for t, found in homes.items() if found), homes
    monkeypatch.undo()
    new = log()
    ingest(db, p, [new])
    with db.read() as s:
        rid = s.scalar(select(Request.id).where(Request.client_id == new["id"]))
        (found,) = s.execute(select(Request.id, Request.client_id).where(Request.id == rid)).all()
    assert partitions.month_of_id(rid) == partitions.month_of(utcnow()) and found.client_id == new["id"]
    assert rid < 2**53  # exact as a JSON number in every client


def _links(db) -> set[tuple[str, str]]:  # noqa: ANN001
    """(table, the table it points at) of every foreign key on a request's id of a LINKED table or partition."""
    with db.read() as s:
        return set(s.execute(text(
            "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint "
            "WHERE contype = 'f' AND confrelid::regclass::text LIKE 'requests%' AND conrelid::regclass::text "
            "SIMILAR TO :tables"), {"tables": f"({'|'.join(partitions.LINKED)})%"}).all())


def test_a_months_rows_point_at_the_months_requests(pg, monkeypatch):
    """PostgreSQL checks a key on the partitioned requests through the parent for every row (33 µs a row):
    each month's rows point at the month's requests instead, still checked and deleted with them; ingest
    checks them with cached plans and leaves the connection planning per values."""
    db, p = pg
    month = received(db, monkeypatch, months_ago(2))
    with db.read() as s:
        names = [m.name for m in partitions.months(s.connection())]
    assert str(month) in names
    assert _links(db) == {(f"{t}_{m}", f"requests_{m}") for t in partitions.LINKED for m in names}
    x = log(scores=[{"name": "q", "value": 80}], metadata={"env": "prod"}, tags=["t"])
    ingest(db, p, [x])
    with db.write() as s:
        rid = s.scalar(select(Request.id).where(Request.client_id == x["id"]))
        assert s.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"
    with pytest.raises(Conflict), db.write() as s:  # a row of a request that is not there is refused
        bulk.insert(s, RequestMetadata.__table__, [{"request_id": rid + 1, "key": "k", "value": "v",
                                                    "workspace_id": p.workspace_id}])
    with db.write() as s:
        s.execute(delete(Request).where(Request.id == rid))
    with db.read() as s:
        assert [s.scalar(text(f"SELECT count(*) FROM {t} WHERE request_id = :id"), {"id": rid})
                for t in partitions.LINKED] == [0] * len(partitions.LINKED)


def test_a_client_id_is_stored_once_across_months_and_may_come_again_once_erased(pg, monkeypatch):
    db, p = pg
    received(db, monkeypatch, months_ago(2))
    first = log()
    ingest(db, p, [first])
    monkeypatch.undo()  # received again this month: a replay, not a second log
    with db.write() as s:
        again = request_ingest.ingest(s, p, [first | {"output": {"text": "changed"}}], max_batch=10)
    assert (again["accepted"], again["duplicates"]) == (0, 1)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Request).where(Request.client_id == first["id"])) == 1
    erasure.erase_one(db, p, first["id"])
    ingest(db, p, [first])
    with db.read() as s:
        rid = s.scalar(select(Request.id).where(Request.client_id == first["id"]))
    assert partitions.month_of_id(rid) == partitions.month_of(utcnow())


def test_retention_drops_a_whole_expired_month_with_the_numbers_of_a_workspace_that_never_had_it(
        pg, monkeypatch):
    db, a = pg
    b = workspace(db)
    pa, pb = _experiment(db, a), _experiment(db, b)
    month = received(db, monkeypatch, months_ago(3))
    aged = (utcnow() - timedelta(days=100)).isoformat()
    old = [x | {"start_time": aged} for x in _traffic(seed=5)]
    ingest(db, a, old)
    with db.write() as s:  # a dataset item made from an old log: a copy of its text, which goes with it
        ds = datasets.create(s, a, name="from-logs")["id"]
        datasets.from_requests(s, a, ds, [old[0]["id"]])
    monkeypatch.undo()
    stays = _traffic(seed=6)
    ingest(db, a, stays)
    ingest(db, b, stays)
    for p in (a, b):
        with db.write() as s:
            erasure.set_retention(s, p, 30, "policy")
    done = erasure.purge_expired(db, max_batches=0)  # no row-by-row batch: what goes, goes with its month
    assert done == {a.workspace_id: len(old)}
    with db.read() as s:
        assert str(month) not in {m.name for m in partitions.months(s.connection())}
        assert datasets.items(s, a, ds)["items"] == []
    assert ids_in(db, a) == {x["id"] for x in stays}
    assert _stats(db, a) == _stats(db, b)
    assert _evidence(db, a, pa) == _evidence(db, b, pb)
    (event,) = events(db, a, "retention.purge")
    assert (event.details["count"], event.details["month"], event.actor) == (len(old), str(month), "retention")


def test_a_month_with_a_log_in_its_period_is_kept_and_its_expired_logs_go_one_by_one(pg, monkeypatch):
    db, p = pg
    forever = workspace(db)
    month = received(db, monkeypatch, months_ago(2))
    expired = log(start_time=(utcnow() - timedelta(days=100)).isoformat())
    current = log()  # received then, started now (a client's clock ahead): still in its period
    ingest(db, p, [expired, current])
    ingest(db, forever, [log(start_time=(utcnow() - timedelta(days=100)).isoformat())])
    with db.write() as s:
        erasure.set_retention(s, p, 30, "policy")
    assert erasure.purge_expired(db) == {p.workspace_id: 1}
    assert ids_in(db, p) == {current["id"]} and len(ids_in(db, forever)) == 1
    with db.read() as s:
        assert str(month) in {m.name for m in partitions.months(s.connection())}


def test_empty_months_are_dropped_and_months_are_made_ahead(pg):
    db, _ = pg
    now = utcnow()
    with db.read() as s:
        names = [m.name for m in partitions.months(s.connection())]
    ahead = [partitions.month_of(now)]
    for _ in range(partitions.AHEAD):
        ahead.append(partitions.next_month(ahead[-1]))
    assert names == [str(m) for m in ahead]  # nothing was stored before: no `before` partition
    with db.write() as s:
        made = partitions.ensure(s.connection(), now + timedelta(days=31 * 5))
        assert made and partitions.ensure(s.connection(), now + timedelta(days=31 * 5)) == []
        empty = partitions.ensure(s.connection(), months_ago(2), ahead=0)
    assert empty == [partitions.month_of(months_ago(2))]
    assert erasure.purge_expired(db) == {}  # an empty closed month goes; this month and the next stay
    with db.read() as s:
        left = [m.name for m in partitions.months(s.connection())]
    assert str(empty[0]) not in left and names[0] in left and len(left) == len(names) + len(made)


def test_the_migration_keeps_stored_logs_and_their_client_ids(empty_url):
    if not empty_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's partitions")
    from promptyard.services import keys
    from promptyard.store.db import Database

    db = Database(empty_url)
    try:
        upgrade(db.engine, "0020")
        with db.write() as s:
            ws, _ = keys.ensure_workspace(s, "m")
        p = keys.system_principal(ws)
        before = [log() for _ in range(3)]
        with db.write() as s:  # as that revision stored them (today's ingest numbers rows as 0022 does)
            s.execute(insert(Request.__table__), [
                {"workspace_id": ws, "client_id": x["id"], "start_time": utcnow(), "input": x["input"],
                 "output": x["output"]} for x in before])
            ids = dict(s.execute(select(Request.client_id, Request.id)).all())
            s.execute(insert(Score.__table__), [{"workspace_id": ws, "request_id": rid, "name": "q", "value": 1.0}
                                                for rid in ids.values()])
        upgrade(db.engine)
        homes = _homes(db, before[0]["id"])
        assert homes["requests"] == {"requests_before"} and homes["scores"] == {"scores_before"}
        assert {(f"{t}_before", "requests_before") for t in partitions.LINKED} <= _links(db)
        with db.write() as s:
            again = request_ingest.ingest(s, p, before[:1] + [log(id=str(uuid.uuid4()))], max_batch=10)
            after = dict(s.execute(select(Request.client_id, Request.id)).all())
        assert (again["accepted"], again["duplicates"]) == (1, 1)
        assert {k: after[k] for k in ids} == ids and len(after) == 4
    finally:
        db.dispose()


def test_a_month_whose_logs_a_long_read_holds_waits_for_the_next_tick(pg, monkeypatch):
    db, p = pg
    month = received(db, monkeypatch, months_ago(2))
    ingest(db, p, [log(start_time=(utcnow() - timedelta(days=100)).isoformat())])
    monkeypatch.undo()
    with db.write() as s:
        erasure.set_retention(s, p, 30, "policy")
    reader = db.engine.connect()
    try:  # an export streaming the log holds its tables; dropping gives up after LOCK_WAIT, no error
        reader.execute(select(func.count()).select_from(Request)).scalar()
        started = time.monotonic()
        assert erasure.drop_expired_months(db, utcnow()) == {}
        assert time.monotonic() - started < 5
    finally:
        reader.rollback()
        reader.close()
    assert erasure.drop_expired_months(db, utcnow()) == {p.workspace_id: 1}
    with db.read() as s:
        assert str(month) not in {m.name for m in partitions.months(s.connection())}


def test_every_connection_plans_a_statement_for_its_own_values(pg):
    """A generic plan (psycopg prepares a statement run five times) can neither prune the months nor
    judge a filter's values: the pool's connections, reads and writes, plan each run (store/db.py)."""
    db, _ = pg
    with db.read() as s:
        assert s.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"
    with db.write() as s:
        assert s.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"


def test_no_request_number_looks_like_patient_data():
    """A request number a client logs (a parent request in metadata, a link in a comment) is kept by
    the default redaction policy: 16 digits starting 2-6 with a valid Luhn digit are taken for a card,
    which one number in ten of `YYYYMM * 10**10 + n` was."""
    from promptyard.domain import redaction_policy as rp

    red = rp.Redactor(rp.Policy(), b"k" * 32, None)
    rng = random.Random(30)
    months = [202612, 202701, 203512, 999912]
    numbers = [partitions.first_id(m) + rng.randrange(partitions.SPAN) for m in months for _ in range(2500)]
    numbers += [partitions.first_id(m) + n for m in months for n in (0, 1, partitions.SPAN - 1)]
    assert all(n < 2**53 for n in numbers)
    changed = [n for n in numbers if red.text(f"親リクエスト {n} を参照") != f"親リクエスト {n} を参照"]
    assert changed == []
