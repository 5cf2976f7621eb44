"""PostgreSQL: the month partitions' rows point at their own month's requests (store/partitions.link)
instead of the partitioned requests table, whose key PostgreSQL 15 checks through the parent for every
row inserted (a log's metadata, scores and tags: most of ingest's time in the database)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04
"""
from __future__ import annotations

from alembic import op

from promptyard.store import partitions

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    if not partitions.is_partitioned(conn):
        return
    for table in partitions.LINKED:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {table}_request_id_fkey")
    for month in partitions.months(conn):
        partitions.link(conn, month)


def downgrade() -> None:
    conn = op.get_bind()
    if not partitions.is_partitioned(conn):
        return
    for month in partitions.months(conn):
        for table in partitions.LINKED:
            op.execute(f"ALTER TABLE {month.partition(table)} DROP CONSTRAINT IF EXISTS "
                       f"{partitions.link_name(month, table)}")
    for table in partitions.LINKED:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_request_id_fkey FOREIGN KEY (request_id) "
                   "REFERENCES requests (id) ON DELETE CASCADE")
