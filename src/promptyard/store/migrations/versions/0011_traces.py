"""traces: OTLP traces and their spans (services/otlp_ingest.py); an LLM span points to its request log
and is removed with it

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import promptyard.store.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    t = promptyard.store.types
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "traces",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", t.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "trace_id"),
    )
    op.create_table(
        "spans",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("trace_row", big_id, nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=False),
        sa.Column("parent_id", sa.String(length=16), nullable=True),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("start_time", t.UTCDateTime(), nullable=False),
        sa.Column("end_time", t.UTCDateTime(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("status_message", sa.Text(), nullable=False),
        sa.Column("attributes", t.JSONType, nullable=False),
        sa.Column("events", t.JSONType, nullable=False),
        sa.Column("resource", t.JSONType, nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("request_id", big_id, nullable=True),
        sa.ForeignKeyConstraint(["trace_row"], ["traces.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("trace_row", "span_id"),
    )
    op.create_index(op.f("ix_spans_request_id"), "spans", ["request_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_spans_request_id"), table_name="spans")
    op.drop_table("spans")
    op.drop_table("traces")
