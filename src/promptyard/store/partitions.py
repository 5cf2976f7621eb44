"""PostgreSQL: the request log's tables are partitioned by month (SQLite keeps one table each).

A request's id says the month it was received in: `1`, `YYYYMM`, then nine digits `n` (December
2026's ids are 1_202612_000000001 and up; `n` comes from one sequence, `requests_id_seq`; a month
holds a billion logs), so the month's partition
of every table is one range of ids, and a request and its tags, metadata, scores, redaction counts
and text index rows (keyed by its id) lie in the same month's partitions. Lookups by id read one
partition; a page of the newest logs merges the partitions' `(workspace_id, start_time, id)` indexes.
The ids stay below 2^53 (exact in JavaScript) for every YYYYMM. The leading 1 keeps them out of
the redaction detectors' way: 16 digits starting with 2-6 that pass Luhn's check are taken for a card
number (domain/redaction.py), which one id in ten of `YYYYMM * 10**10 + n` was.

- Partitions are made ahead, the current month and AHEAD more (`ensure`: migration 0022, the
  server's start and its tick). `{table}_before` holds the logs stored before the migration, where there were any.
- The other tables' rows point at their request within the month: `{table}_{month}.request_id`
  references `requests_{month}` (`link`), not the partitioned `requests`, whose key PostgreSQL 15 checks
  through the parent for every row inserted (33 µs a row against 5: a log's metadata, scores and tags
  took most of ingest's time in the database).
- A client id is unique per workspace in `request_keys` (PostgreSQL cannot enforce a unique key
  that leaves out the partition key): ingest claims the key there and inserts the request only when
  the claim is new (store/bulk.insert, per UNIQUE_ELSEWHERE), in one statement. Lookups by client id read
  the requests' own `(workspace_id, client_id)` index.
- Retention drops a whole month when every log in it is past its workspace's period
  (services/erasure.drop_expired_months); until then its expired logs are deleted row by row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Integer, String, any_, bindparam, column, delete, table, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

SPAN = 10**9  # ids per month
BASE = 10**15  # the leading 1
AHEAD = 3  # months made ahead of the current one
# table -> the column holding the request's id, the tables of one month dropped in this order
TABLES = {"request_fts": "request_id", "redaction_counts": "request_id", "scores": "request_id",
          "request_metadata": "request_id", "request_tags": "request_id", "requests": "id"}
BEFORE = "before"  # the partition of ids from before partitioning (migration 0022)
KEYS = "request_keys"
LOCK_KEY = 0x50_79_61_72_64_03  # the advisory lock under which months are made or dropped (store/db.LOCK_KEYS)
LINKED = tuple(name for name in TABLES if name != "requests")  # keyed to their month's requests (`link`)
# a unique key PostgreSQL keeps in another table: table -> (that table, the key's columns)
UNIQUE_ELSEWHERE = {"requests": (KEYS, ("workspace_id", "client_id"))}

ID_FUNCTION = f"""CREATE OR REPLACE FUNCTION promptyard_request_id(at timestamptz) RETURNS bigint
LANGUAGE sql VOLATILE AS $$
  SELECT {BASE} + to_char(at AT TIME ZONE 'UTC', 'YYYYMM')::bigint * {SPAN} + nextval('requests_id_seq') % {SPAN}
$$"""


def month_of(at: datetime) -> int:
    """YYYYMM of the UTC month `at` falls in (a naive time is UTC)."""
    at = at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)
    return at.year * 100 + at.month


def first_id(month: int) -> int:
    return BASE + month * SPAN


def month_of_id(request_id: int) -> int | None:
    """YYYYMM of the month a request id was given in; None for an id from before partitioning."""
    return (request_id - BASE) // SPAN if request_id >= first_id(100001) else None


def next_month(month: int) -> int:
    year, m = divmod(month, 100)
    return (year + 1) * 100 + 1 if m == 12 else month + 1


@dataclass(frozen=True)
class Month:
    """One month's partitions: its name (YYYYMM, or BEFORE) and its range of request ids [low, high)."""

    name: str
    low: int | None  # None: every id below high
    high: int

    def partition(self, table: str) -> str:
        return f"{table}_{self.name}"


def is_partitioned(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql" and bool(conn.scalar(text(
        "SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass('requests')")))


def months(conn: Connection) -> list[Month]:
    """The months the requests table has partitions for, oldest first."""
    rows = conn.execute(text(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass('requests')")).all()
    found = []
    for name, bound in rows:  # FOR VALUES FROM (MINVALUE | 'low') TO ('high')
        low, high = re.findall(r"\(([^)]*)\)", bound)
        found.append(Month(name.removeprefix("requests_"), None if low == "MINVALUE" else int(low.strip("'")),
                           int(high.strip("'"))))
    return sorted(found, key=lambda m: m.high)


def ensure(conn: Connection, now: datetime, ahead: int = AHEAD) -> list[int]:
    """Partitions for the month of `now` and `ahead` more, where missing (all tables); the months
    made. Safe from several servers at once (they take turns under `lock`)."""
    wanted = [month_of(now)]
    for _ in range(ahead):
        wanted.append(next_month(wanted[-1]))

    def missing() -> list[int]:  # a month whose ids an existing partition holds (`before`) is not
        have = months(conn)
        return [m for m in wanted if not any((h.low is None or h.low <= first_id(m)) and first_id(m) < h.high
                                             for h in have)]

    if not is_partitioned(conn) or not missing():
        return []
    lock(conn)
    made = missing()
    for month in made:
        for name in reversed(TABLES):  # requests first: the others' keys point at it
            conn.execute(text(f"CREATE TABLE {name}_{month} PARTITION OF {name} "
                              f"FOR VALUES FROM ({first_id(month)}) TO ({first_id(next_month(month))})"))
        link(conn, Month(str(month), first_id(month), first_id(next_month(month))))
    return made


def link(conn: Connection, month: Month) -> None:
    """The month's rows of the LINKED tables must point at a request of the month (deleted with it), where
    not so already."""
    keys = {name: link_name(month, name) for name in LINKED}
    have = set(conn.scalars(text("SELECT conname FROM pg_constraint WHERE conname = ANY(:keys)"),
                            {"keys": list(keys.values())}))
    for name, key in keys.items():
        if key not in have:
            conn.execute(text(f"ALTER TABLE {month.partition(name)} ADD CONSTRAINT {key} FOREIGN KEY (request_id) "
                              f"REFERENCES {month.partition('requests')} (id) ON DELETE CASCADE"))


def link_name(month: Month, table: str) -> str:
    """The name of the key by which `table`'s partition of `month` points at the month's requests."""
    return f"{month.partition(table)}_request_id_fkey"


def lock(conn: Connection) -> None:
    """The transaction-wide lock under which partitions are made or dropped."""
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})


def new_ids(session: Session, received: datetime, n: int) -> list[int] | None:
    """PostgreSQL: `n` request ids of the month `received` falls in (ingest numbers its rows by the
    time it received them, as `received_at` says); None on SQLite, whose table numbers its rows."""
    if session.connection().dialect.name != "postgresql":
        return None
    return list(session.scalars(text("SELECT promptyard_request_id(:at) FROM generate_series(1, :n)"),
                                {"at": received, "n": n}))


_keys = table(KEYS, column("workspace_id", Integer), column("client_id", String))


def forget(session: Session, workspace_id: int, client_ids: list[str]) -> None:
    """Deleted requests' client ids may be used again (PostgreSQL; SQLite's go with the row)."""
    if client_ids and session.connection().dialect.name == "postgresql":
        session.execute(delete(_keys).where(_keys.c.workspace_id == workspace_id,
                                            _keys.c.client_id == any_(bindparam("client_ids", client_ids, type_=ARRAY(String)))))


def drop(conn: Connection, month: Month) -> None:
    """Detach and drop one month's partitions (the caller has removed every row that points at its
    requests from other tables: PostgreSQL refuses to detach a partition something still references)."""
    for name in TABLES:
        part = month.partition(name)
        conn.execute(text(f"ALTER TABLE {name} DETACH PARTITION {part}"))
        conn.execute(text(f"DROP TABLE {part}"))
