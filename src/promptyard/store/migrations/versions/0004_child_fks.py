"""metadata, tags and scores drop their foreign key to workspaces

Each of these rows already references its request, which references the workspace (deleting a
workspace still cascades through the requests). The second key cost a lookup per row on every
insert: a quarter of PostgreSQL's ingest time.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("request_metadata", "request_tags", "scores")
# SQLite's keys from 0001 are unnamed: batch mode names them by this convention to drop them.
CONVENTION = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}


def _key_name(table: str) -> str:
    """The name of the table's key to workspaces as stored: PostgreSQL's default name, on SQLite
    the convention name for the unnamed key of 0001, or whatever name a downgrade gave it (an
    earlier downgrade named it like PostgreSQL's, which the convention name did not find)."""
    bind = op.get_bind()
    for fk in sa.inspect(bind).get_foreign_keys(table):
        if fk["referred_table"] == "workspaces" and fk.get("name"):
            return fk["name"]
    if bind.dialect.name == "postgresql":
        return f"{table}_workspace_id_fkey"
    return CONVENTION["fk"] % {"table_name": table, "column_0_name": "workspace_id",
                               "referred_table_name": "workspaces"}


def upgrade() -> None:
    for table in TABLES:
        name = _key_name(table)
        if op.get_bind().dialect.name == "postgresql":
            op.drop_constraint(name, table, type_="foreignkey")
        else:
            with op.batch_alter_table(table, naming_convention=CONVENTION) as batch:
                batch.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.create_foreign_key(f"{table}_workspace_id_fkey", "workspaces", ["workspace_id"], ["id"],
                                     ondelete="CASCADE")
