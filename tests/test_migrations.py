"""Migrations build the schema the models describe, from empty, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from promptyard.store.migrate import current
from promptyard.store.models import Base


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
