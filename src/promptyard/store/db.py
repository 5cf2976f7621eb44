"""Engine and transactions for SQLite and PostgreSQL.

SQLite: WAL, foreign keys, busy timeout, and writes in BEGIN IMMEDIATE transactions (deferred
transactions that later write fail with "database is locked" under concurrent writers, see
DESIGN.md section 6), which a process's threads take in turn (`Database.write`). PostgreSQL: psycopg 3 with a connection pool.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from sqlalchemy.orm import Session, sessionmaker

from promptyard.store import faults, partitions, text_search

BUSY_S = 30.0  # SQLite: how long a writer waits for the database's write lock


def make_engine(url: str, *, echo: bool = False, statement_timeout_s: float = 0) -> Engine:
    """hide_parameters: an error's message would otherwise quote the row it failed on, and such
    messages reach logs (request content never goes into a server log, DESIGN.md rule 13).
    statement_timeout_s > 0 limits every statement on this engine (PostgreSQL; SQLite: only
    statements run with the `statement_timeout_s` execution option, see _tune_sqlite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, echo=echo, hide_parameters=True, connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=20, max_overflow=20,
        )
        _tune_sqlite(engine)
        return engine
    # A plan for each statement's own values (~1 ms of planning): psycopg prepares a statement a
    # connection has run five times, and after five more runs PostgreSQL may switch to a generic plan,
    # planned once with the values unknown. Over the month-partitioned log (store/partitions.py) that
    # plan can neither prune months nor judge a filter's values: a page of a broad filter over a
    # million logs went from 30 ms to 600-1,700 ms after the first calls on one connection; the
    # filtered analytics lost their parallel worker and sorted score rows on disk (25-30% slower).
    # Bulk inserts are the exception: their rows' key checks keep cached plans (store/bulk.execute_pg).
    options = "-c plan_cache_mode=force_custom_plan"
    if statement_timeout_s > 0:
        options += f" -c statement_timeout={int(statement_timeout_s * 1000)}"
    # pre-ping: after an outage, pooled connections are dead; each is tested and replaced on
    # checkout, so service resumes by itself when the database returns.
    return create_engine(url, echo=echo, hide_parameters=True, pool_size=10, max_overflow=20, pool_pre_ping=True,
                         connect_args={"options": options})


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, record):  # noqa: ANN001
        # The driver's own transaction handling would start deferred transactions behind our
        # back; we emit BEGIN ourselves instead (see _on_begin).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        # Erased and purged logs leave no text in the file: freed space is overwritten with zeros
        # (see reclaim). INCREMENTAL auto-vacuum takes effect only in a database that has no table
        # yet (a new one); older files keep their freed pages, zeroed, for reuse.
        cur.execute("PRAGMA secure_delete=ON")
        cur.execute("PRAGMA auto_vacuum=INCREMENTAL")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={BUSY_S * 1000:.0f}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()
        # The text index's row check (store/text_search.check): the definition on the stored JSON.
        dbapi_conn.create_function("promptyard_has_text", 4, text_search.has_text, deterministic=True)
        # The statement timeout: SQLite calls this every N virtual-machine steps; a true answer
        # interrupts the statement (SQLITE_INTERRUPT, which store.faults reads as a timeout).
        deadline = record.info["deadline"] = [None]
        dbapi_conn.set_progress_handler(lambda: deadline[0] is not None and time.monotonic() > deadline[0],
                                        _SQLITE_PROGRESS_STEPS)

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # noqa: ANN001
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    @event.listens_for(engine, "before_cursor_execute")
    def _on_statement(conn, *_args):  # noqa: ANN001
        limit = conn.get_execution_options().get("statement_timeout_s")
        conn.connection.info["deadline"][0] = time.monotonic() + limit if limit else None


# Seconds one reclaim() spends at most merging erased logs' words out of SQLite's text index (the
# merge goes on at the server's next ticks; writers wait for one merge step at most, not this long).
RECLAIM_S = 5.0

# The tables that hold request content or point to it: what reclaim() vacuums after an erasure.
LOG_TABLES = ("requests", "request_fts", "request_metadata", "request_tags", "scores", "redaction_counts", "pending_updates",
              "experiment_units")

# PostgreSQL advisory lock keys (any fixed 64-bit numbers that nothing else on the cluster uses).
LOCK_KEYS = {"migrate": 0x50_79_61_72_64_01, "setup": 0x50_79_61_72_64_02, "partitions": partitions.LOCK_KEY}


# A few ms of work between checks: no measurable cost, and a fine enough clock for a limit in seconds.
_SQLITE_PROGRESS_STEPS = 100_000


class Database:
    """Hands out sessions; the caller owns the transaction (`with db.write() as s: ...`)."""

    def __init__(self, url: str, *, echo: bool = False, statement_timeout_s: float = 0, secret: bytes = b"",
                 outbound: object = None):
        """statement_timeout_s > 0: reads (search, stats, exports' batches) end after that long
        with errors.TimedOut; writes and migrations have no limit. `secret` (Settings.secret()) rides
        along in every session's `info`, for the keyed hashes services derive from it; so does `outbound`
        (services/outbound.Policy.from_settings: where calls to LLM providers and webhooks may go)."""
        self.url = url
        self.unreclaimed = False  # a reclaim() left work for the next: a checkpoint, the text index's merge
        self._merging: set[int] = set()  # SQLite: text index segments that may hold erased logs' words
        self.statement_timeout_s = statement_timeout_s
        self.outage = faults.Outage()
        self.engine = make_engine(url, echo=echo)
        self.kind = self.engine.dialect.name  # "sqlite" | "postgresql"
        self._engines = [self.engine]
        writer = self.engine.execution_options(sqlite_begin="IMMEDIATE") if self.kind == "sqlite" else self.engine
        # PostgreSQL reads run in autocommit: at READ COMMITTED every statement takes its own
        # snapshot anyway, and BEGIN + COMMIT were two of the four round trips of a prompt fetch.
        # SQLite keeps its read transaction: there it is one consistent snapshot, and free.
        if self.kind == "postgresql":
            # Reads get a pool of their own whose connections carry the statement_timeout, so
            # that limiting a read costs no extra round trip (a SET per read would).
            read_engine = make_engine(url, echo=echo, statement_timeout_s=statement_timeout_s) \
                if statement_timeout_s > 0 else self.engine
            if read_engine is not self.engine:
                self._engines.append(read_engine)
            reader = read_engine.execution_options(isolation_level="AUTOCOMMIT")
        else:
            reader = self.engine.execution_options(statement_timeout_s=statement_timeout_s or None)
        info = {"secret": secret, "outbound": outbound}
        self._read = sessionmaker(reader, expire_on_commit=False, info=info)
        self._write = sessionmaker(writer, expire_on_commit=False, info=info)
        self._writers = threading.RLock() if self.kind == "sqlite" else None

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._faults(), self._read() as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction, committed when the block ends without an exception."""
        with self._one_writer(), self._faults(), self._write() as session, session.begin():
            yield session

    @contextmanager
    def _one_writer(self) -> Iterator[None]:
        """SQLite: this process's writers wait for each other on a lock before BEGIN IMMEDIATE. Left to
        SQLite, a writer that finds the database locked sleeps and tries again (1, 2, 5, 10 ... 100 ms:
        its busy handler), so it often still sleeps after the lock is free; on the lock it starts as soon
        as the writer before it is done (two ingest batches ready at once). Writers of other processes
        still wait through busy_timeout; after as long as that, a writer goes on to SQLite's own wait (a
        write nested in one of the same thread gets there at once, as before)."""
        if self._writers is None:
            yield
            return
        got = self._writers.acquire(timeout=BUSY_S)
        try:
            yield
        finally:
            if got:
                self._writers.release()

    @contextmanager
    def _faults(self) -> Iterator[None]:
        """Driver errors that mean "database unavailable" or "too slow" become errors.Unavailable
        / errors.TimedOut (store.faults decides which); every other error passes unchanged."""
        try:
            yield
        except (DBAPIError, SQLAlchemyTimeoutError, DisconnectionError) as exc:
            domain = faults.translate(exc, self.outage, self.statement_timeout_s)
            if domain is None:
                raise
            raise domain from exc
        self.outage.succeeded()

    @contextmanager
    def exclusive(self, name: str) -> Iterator[Session]:
        """A write transaction that one process at a time runs, across every server on this
        database (first-run setup when several start at once): PostgreSQL takes an advisory lock
        for the transaction; SQLite's BEGIN IMMEDIATE already admits one writer at a time."""
        with self.write() as session:
            if self.kind == "postgresql":
                session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEYS[name]})
            yield session

    def analyze(self) -> None:
        """Refresh the planner's statistics. SQLite (sqlite_stat1): without them it cannot tell a
        rare metadata value from a common one and drives filtered statistics from the wrong side
        (3-5 s instead of about 1 s over a million logs); analysis_limit samples each index, so
        this takes well under a second at that size. PostgreSQL's autovacuum does this itself,
        except for the partitioned tables as a whole (store/partitions.py), whose statistics the
        planner reads for joins over all months: those are analysed here; where autovacuum is
        turned off, everything is (never analyzed, the experiment sums of 100,000 users were sorted
        on disk: 812 ms instead of 161)."""
        if self.kind == "postgresql":
            with self._faults(), self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                if conn.exec_driver_sql("SHOW autovacuum").scalar() != "on":
                    conn.exec_driver_sql("ANALYZE")
                elif partitions.is_partitioned(conn):
                    conn.exec_driver_sql("ANALYZE " + ", ".join(partitions.TABLES))
            return
        with self._faults(), self.engine.execution_options(sqlite_begin="IMMEDIATE").begin() as conn:
            conn.exec_driver_sql("PRAGMA analysis_limit=1000")
            conn.exec_driver_sql("ANALYZE")

    def reclaim(self, *, full: bool = False, erased: bool = True, budget_s: float | None = RECLAIM_S) -> bool:
        """After logs were erased or purged (`erased`; False: going on with what an earlier call left):
        make sure their text is gone from the database files (docs/privacy.md says what is proven
        where). SQLite: the text index merges away the segments that held the erased logs' words
        (store/text_search.merge_away: steps of a bounded size, for `budget_s` seconds at most per
        call, None: until done), freed pages go back to the file system (incremental auto-vacuum,
        new databases; `full`: VACUUM, which rewrites the whole file and turns incremental auto-vacuum
        on for older ones) and the WAL is checkpointed and truncated, so no older copy of a page stays
        in it; False when work is left (the merge's budget ran out, or readers kept the checkpoint
        from finishing): the server's tick calls again. PostgreSQL: VACUUM of the log tables (tables
        another vacuum holds are skipped); `full`: VACUUM FULL, which rewrites them and holds an
        exclusive lock meanwhile - only VACUUM FULL is sure to remove the deleted rows' bytes from
        the pages."""
        with self._faults():
            if self.kind == "postgresql":
                with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.exec_driver_sql(("VACUUM FULL " if full else "VACUUM (SKIP_LOCKED) ") + ", ".join(LOG_TABLES))
                return True
            raw = self.engine.raw_connection()  # outside any transaction (the driver's autocommit)
            try:
                cur = raw.cursor()
                if erased or full:
                    self._merging |= text_search.segments(cur)
                self._merging = text_search.merge_away(cur, self._merging, None if full else budget_s)
                if full:
                    cur.execute("PRAGMA auto_vacuum=INCREMENTAL")
                    cur.execute("VACUUM")
                elif cur.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:
                    # executescript steps the pragma to its end (execute frees one page per step)
                    raw.driver_connection.executescript("PRAGMA incremental_vacuum;")
                busy = cur.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
                cur.close()
            finally:
                raw.close()
            self.unreclaimed = busy != 0 or bool(self._merging)
            return not self.unreclaimed

    def ping(self) -> None:
        with self._faults(), self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    def dispose(self) -> None:
        for engine in self._engines:
            engine.dispose()
