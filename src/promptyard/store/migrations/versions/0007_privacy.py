"""privacy: a redaction policy and a retention period per workspace, the term list (keyed hashes only)
and per-request counts of what was redacted (pending updates carry theirs)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import promptyard.store.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    t = promptyard.store.types
    # NULL redaction = the default policy, which is on: existing workspaces are redacted from now on too.
    op.add_column("workspaces", sa.Column("redaction", t.JSONType, nullable=True))
    op.add_column("workspaces", sa.Column("retention_days", sa.Integer(), nullable=True))
    op.add_column("pending_updates", sa.Column("redacted", t.JSONType, nullable=True))
    op.create_table(
        "redaction_terms",
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=64), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", t.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workspace_id", "digest"),
    )
    op.create_table(
        "redaction_counts",
        sa.Column("request_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("request_id", "kind"),
    )
    op.create_index("ix_redaction_counts_ws_kind", "redaction_counts", ["workspace_id", "kind", "n"])


def downgrade() -> None:
    op.drop_table("redaction_counts")
    op.drop_table("redaction_terms")
    op.drop_column("pending_updates", "redacted")
    op.drop_column("workspaces", "retention_days")
    op.drop_column("workspaces", "redaction")
