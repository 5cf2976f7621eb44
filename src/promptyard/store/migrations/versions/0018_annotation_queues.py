"""annotation queues: queues of requests for people to score, their items, marks and reviews

Revision ID: 0018
Revises: 0015
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import promptyard.store.types

revision = "0018"
down_revision = "0016"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Time = promptyard.store.types.UTCDateTime
JSON = promptyard.store.types.JSONType


def upgrade() -> None:
    op.create_table(
        "annotation_queues",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("workspace_id", sa.Integer(), sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("source_kind", sa.String(20), nullable=False),
        sa.Column("source_ref", sa.Text(), nullable=False),
        sa.Column("scores", JSON, nullable=False),
        sa.Column("reviewers", JSON, nullable=False),
        sa.Column("reviews_per_item", sa.Integer(), nullable=False),
        sa.Column("sampling", JSON, nullable=True),
        sa.Column("sampled_until", Time, nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("updated_at", Time, nullable=False),
        sa.UniqueConstraint("workspace_id", "name"),
    )
    op.create_index("ix_annotation_queues_workspace_id", "annotation_queues", ["workspace_id"])
    op.create_table(
        "queue_items",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("queue_id", sa.Integer(), sa.ForeignKey("annotation_queues.id", ondelete="CASCADE"), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("request_id", BigId, sa.ForeignKey("requests.id", ondelete="CASCADE"), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("reviewed", sa.Integer(), nullable=False),
        sa.Column("added_at", Time, nullable=False),
        sa.UniqueConstraint("queue_id", "request_id"),
    )
    op.create_index("ix_queue_items_queue_state", "queue_items", ["queue_id", "state", "id"])
    op.create_index("ix_queue_items_request_id", "queue_items", ["request_id"])
    op.create_table(
        "queue_marks",
        sa.Column("item_id", BigId, sa.ForeignKey("queue_items.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("reviewer_id", sa.Integer(), primary_key=True),
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("created_at", Time, nullable=False),
    )
    op.create_index("ix_queue_marks_reviewer", "queue_marks", ["queue_id", "reviewer_id", "item_id"])
    op.create_table(
        "reviews",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("item_id", BigId, sa.ForeignKey("queue_items.id", ondelete="CASCADE"), nullable=False),
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.UniqueConstraint("item_id", "reviewer_id", "name"),
    )
    op.create_index("ix_reviews_queue", "reviews", ["queue_id", "item_id"])


def downgrade() -> None:
    op.drop_table("reviews")
    op.drop_table("queue_marks")
    op.drop_table("queue_items")
    op.drop_table("annotation_queues")
