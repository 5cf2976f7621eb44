"""requests covering index (PostgreSQL): the columns the filtered analytics read, beside the id

Analytics over a filter (services/log_stats.py) look up every matching request by id for its
version, status, tokens, cost and latency. On PostgreSQL each lookup read a heap page of its own
(32,000 matches of 1,000,000 logs: 25,500 page reads); this index answers them index-only from
denser pages (5,600 reads; 73 MB at 1M logs). SQLite's rowid table is its own id index, and its
bytes per log matter more there, so SQLite has none. Lives in migrations only, like the text
index (tests/test_migrations.py `_dialect_extra`).

Revision ID: 0019
Revises: 0014
Create Date: 2026-12-02
"""
from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0014"
branch_labels = None
depends_on = None

COLUMNS = "workspace_id, prompt_name, version_number, status, total_tokens, cost, latency_ms"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_requests_covering ON requests (id) INCLUDE ({COLUMNS})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_requests_covering")
