"""Apply Alembic migrations programmatically (used by `promptyard db upgrade`, `serve` and tests)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from promptyard.errors import Conflict
from promptyard.store import partitions
from promptyard.store.db import LOCK_KEYS
from promptyard.store.types import utcnow

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate to `revision`; safe when several servers start at once on one database: one
    migrates while the others wait for its lock, then find the work done. PostgreSQL: the request
    log's partitions for the months ahead are made too (store/partitions.py; the tick goes on)."""
    cfg = alembic_config(engine)
    with _locked(engine) as conn:
        _refuse_unknown(conn)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        partitions.ensure(conn, utcnow())


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """One transaction, held by one process at a time. PostgreSQL: an advisory lock released at
    commit (its DDL is transactional, so the waiter sees the finished schema). SQLite: an
    exclusive transaction (the busy timeout makes the others wait)."""
    if engine.dialect.name == "sqlite":
        with engine.execution_options(sqlite_begin="EXCLUSIVE").begin() as conn:
            yield conn
        return
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEYS["migrate"]})
        yield conn


def _refuse_unknown(conn: Connection) -> None:
    """A database migrated by a newer Promptyard: refuse in one sentence (Alembic would fail with
    "Can't locate revision" and a traceback; running anyway could damage the newer schema)."""
    from alembic.runtime.migration import MigrationContext

    at = MigrationContext.configure(conn).get_current_revision()
    known = {rev.revision for rev in _scripts().walk_revisions()}
    if at is not None and at not in known:
        raise Conflict("errors.system.database_revision_newer_than", at=at, head_revision=head_revision())


def downgrade(engine: Engine, revision: str) -> None:
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def _scripts() -> ScriptDirectory:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg)


def head_revision() -> str:
    """The newest revision this code knows."""
    return _scripts().get_current_head()


def current(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
