"""scores carry their request's prompt name and version number (per-version score statistics
read the scores table alone)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scores") as batch:
        batch.add_column(sa.Column("prompt_name", sa.String(500), nullable=True))
        batch.add_column(sa.Column("version_number", sa.Integer(), nullable=True))
    op.execute("UPDATE scores SET "
               "prompt_name = (SELECT r.prompt_name FROM requests r WHERE r.id = scores.request_id), "
               "version_number = (SELECT r.version_number FROM requests r WHERE r.id = scores.request_id)")
    op.create_index("ix_scores_stats", "scores", ["workspace_id", "prompt_name", "version_number", "name", "value"])


def downgrade() -> None:
    op.drop_index("ix_scores_stats", "scores")
    with op.batch_alter_table("scores") as batch:
        batch.drop_column("version_number")
        batch.drop_column("prompt_name")
