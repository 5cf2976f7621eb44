"""provider connections: a workspace's LLM providers (services/providers.py), secrets encrypted

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import promptyard.store.types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    t = promptyard.store.types
    op.create_table(
        "provider_connections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("base_url", sa.String(length=2000), nullable=False),
        sa.Column("default_model", sa.String(length=200), nullable=False),
        sa.Column("headers", t.JSONType, nullable=False),
        sa.Column("secret_header", sa.String(length=100), nullable=False),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("secret_hint", sa.String(length=4), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", t.UTCDateTime(), nullable=False),
        sa.Column("updated_at", t.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "name"),
    )


def downgrade() -> None:
    op.drop_table("provider_connections")
