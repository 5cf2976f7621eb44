"""Engine and transactions for SQLite and PostgreSQL.

SQLite: WAL, foreign keys, busy timeout, and writes in BEGIN IMMEDIATE transactions (deferred
transactions that later write fail with "database is locked" under concurrent writers, see
DESIGN.md section 6). PostgreSQL: psycopg 3 with a connection pool.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, *, echo: bool = False) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=20, max_overflow=20,
        )
        _tune_sqlite(engine)
        return engine
    return create_engine(url, echo=echo, pool_size=10, max_overflow=20, pool_pre_ping=True)


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # noqa: ANN001
        # The driver's own transaction handling would start deferred transactions behind our
        # back; we emit BEGIN ourselves instead (see _on_begin).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # noqa: ANN001
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """Hands out sessions; the caller owns the transaction (`with db.write() as s: ...`)."""

    def __init__(self, url: str, *, echo: bool = False):
        self.url = url
        self.engine = make_engine(url, echo=echo)
        self.kind = self.engine.dialect.name  # "sqlite" | "postgresql"
        writer = self.engine.execution_options(sqlite_begin="IMMEDIATE") if self.kind == "sqlite" else self.engine
        # PostgreSQL reads run in autocommit: at READ COMMITTED every statement takes its own
        # snapshot anyway, and BEGIN + COMMIT were two of the four round trips of a prompt fetch.
        # SQLite keeps its read transaction: there it is one consistent snapshot, and free.
        reader = self.engine.execution_options(isolation_level="AUTOCOMMIT") if self.kind == "postgresql" \
            else self.engine
        self._read = sessionmaker(reader, expire_on_commit=False)
        self._write = sessionmaker(writer, expire_on_commit=False)

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction, committed when the block ends without an exception."""
        with self._write() as session, session.begin():
            yield session

    def analyze(self) -> None:
        """SQLite: refresh the planner's statistics (sqlite_stat1). Without them it cannot tell a
        rare metadata value from a common one and drives filtered statistics from the wrong side
        (3-5 s instead of about 1 s over a million logs). analysis_limit samples each index, so
        this takes well under a second at that size. PostgreSQL's autovacuum does this itself."""
        if self.kind != "sqlite":
            return
        with self.engine.execution_options(sqlite_begin="IMMEDIATE").begin() as conn:
            conn.exec_driver_sql("PRAGMA analysis_limit=1000")
            conn.exec_driver_sql("ANALYZE")

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    def dispose(self) -> None:
        self.engine.dispose()
