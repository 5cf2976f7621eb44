"""metadata, tags and scores drop their foreign key to workspaces

Each of these rows already references its request, which references the workspace (deleting a
workspace still cascades through the requests). The second key cost a lookup per row on every
insert: a quarter of PostgreSQL's ingest time.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""
from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("request_metadata", "request_tags", "scores")
# SQLite's keys are unnamed: batch mode names them by this convention to drop them.
CONVENTION = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}


def upgrade() -> None:
    for table in TABLES:
        if op.get_bind().dialect.name == "postgresql":
            op.drop_constraint(f"{table}_workspace_id_fkey", table, type_="foreignkey")
        else:
            with op.batch_alter_table(table, naming_convention=CONVENTION) as batch:
                batch.drop_constraint(f"fk_{table}_workspace_id_workspaces", type_="foreignkey")


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.create_foreign_key(f"{table}_workspace_id_fkey", "workspaces", ["workspace_id"], ["id"],
                                     ondelete="CASCADE")
