"""evaluations: evaluation runs and their items (services/evaluations.py), and label gates that need a
passing evaluation before a promotion or a ramp

Revision ID: 0016
Revises: 0019
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import promptyard.store.types

revision = "0016"
down_revision = "0019"  # relinked after merging main (chain 0012, 0013, 0017, 0015, 0014, 0019); the brief assigned 0012
branch_labels = None
depends_on = None


def upgrade() -> None:
    t = promptyard.store.types
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "evaluation_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("dataset_version", sa.Integer(), nullable=False),
        sa.Column("variants", t.JSONType, nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("params", t.JSONType, nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("timeout_s", sa.Float(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("scorers", t.JSONType, nullable=False),
        sa.Column("judges", t.JSONType, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("items_total", sa.Integer(), nullable=False),
        sa.Column("items_done", sa.Integer(), nullable=False),
        sa.Column("items_failed", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", t.UTCDateTime(), nullable=False),
        sa.Column("started_at", t.UTCDateTime(), nullable=True),
        sa.Column("finished_at", t.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_evaluation_runs_workspace_id"), "evaluation_runs", ["workspace_id"])
    op.create_index("ix_evaluation_runs_ws_created", "evaluation_runs", ["workspace_id", "created_at"])
    op.create_index("ix_evaluation_runs_status", "evaluation_runs", ["status"])
    op.create_table(
        "evaluation_items",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("dataset_item_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("variant", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_at", t.UTCDateTime(), nullable=True),
        sa.Column("request_id", big_id, nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.Column("scores", t.JSONType, nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("finished_at", t.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["evaluation_runs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "dataset_item_id", "variant"),
    )
    op.create_index("ix_evaluation_items_claim", "evaluation_items", ["run_id", "status", "id"])
    op.create_index(op.f("ix_evaluation_items_request_id"), "evaluation_items", ["request_id"])
    op.create_table(
        "label_gates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("prompt_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.String(length=200), nullable=False),
        sa.Column("max_drop", sa.Float(), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", t.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["prompt_id"], ["prompts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("prompt_id", "label"),
    )
    op.create_index(op.f("ix_label_gates_workspace_id"), "label_gates", ["workspace_id"])


def downgrade() -> None:
    op.drop_table("label_gates")
    op.drop_table("evaluation_items")
    op.drop_table("evaluation_runs")
