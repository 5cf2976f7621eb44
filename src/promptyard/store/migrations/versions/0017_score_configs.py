"""score configs: typed definitions of named scores (numeric range and step, pass/fail, ordered
categories), their rubric, who may give them and when a comment is required

Revision ID: 0017
Revises: 0012
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import promptyard.store.types

revision = "0017"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    t = promptyard.store.types
    op.create_table(
        "score_configs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("min_value", sa.Float(), nullable=True),
        sa.Column("max_value", sa.Float(), nullable=True),
        sa.Column("step", sa.Float(), nullable=True),
        sa.Column("categories", t.JSONType, nullable=True),
        sa.Column("rubric", sa.Text(), nullable=False),
        sa.Column("sources", t.JSONType, nullable=False),
        sa.Column("comment_required_below", sa.Float(), nullable=True),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("created_at", t.UTCDateTime(), nullable=False),
        sa.Column("updated_at", t.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "name"),
    )
    op.create_index(op.f("ix_score_configs_workspace_id"), "score_configs", ["workspace_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_score_configs_workspace_id"), table_name="score_configs")
    op.drop_table("score_configs")
