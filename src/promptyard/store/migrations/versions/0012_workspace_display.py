"""workspace display: a time zone for the UI and filter input, and a currency for costs

Revision ID: 0012
Revises: 0008
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import promptyard.store.types

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL time_zone = each viewer's browser zone (UTC without JavaScript); NULL currency = US dollars.
    op.add_column("workspaces", sa.Column("time_zone", sa.String(length=64), nullable=True))
    op.add_column("workspaces", sa.Column("currency", promptyard.store.types.JSONType, nullable=True))


def downgrade() -> None:
    op.drop_column("workspaces", "currency")
    op.drop_column("workspaces", "time_zone")
