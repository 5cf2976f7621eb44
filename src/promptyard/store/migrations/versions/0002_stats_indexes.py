"""covering indexes for per-version statistics

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""
from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_requests_stats", "requests", ["workspace_id", "prompt_name", "version_number", "latency_ms",
                                                      "status", "total_tokens", "cost"])
    op.create_index("ix_scores_request_name_value", "scores", ["request_id", "name", "value"])


def downgrade() -> None:
    op.drop_index("ix_scores_request_name_value", "scores")
    op.drop_index("ix_requests_stats", "requests")
