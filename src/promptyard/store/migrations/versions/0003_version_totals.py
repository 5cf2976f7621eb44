"""running totals per prompt version (store/rollups.py), filled from the logs already stored

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""
from __future__ import annotations

import math
from collections import Counter

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Frozen copy of store/rollups.py's bucket formula as of this migration.
GAMMA, ZERO_BUCKET = 1.02, -100_000


def _table(name: str, *columns: sa.Column, unique: tuple[str, ...]) -> None:
    op.create_table(
        name, sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False), sa.Column("prompt_name", sa.String(500), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=False), *columns,
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"), sa.UniqueConstraint("workspace_id", "prompt_name", "version_number", *unique))


def upgrade() -> None:
    big = sa.BigInteger
    _table("version_totals", *[sa.Column(c, big(), nullable=False) for c in ("requests", "errors", "tokens_n",
                                                                            "tokens_sum", "cost_n")],
           sa.Column("cost_sum", sa.Float(), nullable=False), unique=())
    _table("latency_buckets", sa.Column("bucket", sa.Integer(), nullable=False),
           sa.Column("n", big(), nullable=False), unique=("bucket",))
    _table("score_totals", sa.Column("name", sa.String(200), nullable=False), sa.Column("n", big(), nullable=False),
           sa.Column("sum", sa.Float(), nullable=False), sa.Column("sum_sq", sa.Float(), nullable=False),
           unique=("name",))
    op.execute(
        "INSERT INTO version_totals (workspace_id, prompt_name, version_number, requests, errors, tokens_n, "
        "tokens_sum, cost_n, cost_sum) SELECT workspace_id, coalesce(prompt_name, ''), coalesce(version_number, 0), "
        "count(*), sum(CASE WHEN status = 'error' THEN 1 ELSE 0 END), count(total_tokens), "
        "coalesce(sum(total_tokens), 0), count(cost), coalesce(sum(cost), 0) FROM requests GROUP BY 1, 2, 3")
    op.execute(
        "INSERT INTO score_totals (workspace_id, prompt_name, version_number, name, n, sum, sum_sq) "
        "SELECT r.workspace_id, coalesce(r.prompt_name, ''), coalesce(r.version_number, 0), s.name, count(*), "
        "sum(s.value), sum(s.value * s.value) FROM scores s JOIN requests r ON r.id = s.request_id "
        "GROUP BY 1, 2, 3, 4")
    _fill_buckets()


def _fill_buckets() -> None:
    conn = op.get_bind()
    counts: Counter = Counter()
    rows = conn.execute(sa.text(
        "SELECT workspace_id, coalesce(prompt_name, ''), coalesce(version_number, 0), latency_ms FROM requests "
        "WHERE latency_ms IS NOT NULL").execution_options(stream_results=True, yield_per=20_000))
    for ws, name, number, latency in rows:
        b = ZERO_BUCKET if latency <= 0 else math.floor(math.log(latency) / math.log(GAMMA))
        counts[(ws, name, number, b)] += 1
    table = sa.table("latency_buckets", *[sa.column(c) for c in ("workspace_id", "prompt_name", "version_number",
                                                                   "bucket", "n")])
    values = [{"workspace_id": ws, "prompt_name": name, "version_number": number, "bucket": b, "n": n}
              for (ws, name, number, b), n in counts.items()]
    for i in range(0, len(values), 5_000):
        conn.execute(table.insert(), values[i:i + 5_000])


def downgrade() -> None:
    for name in ("score_totals", "latency_buckets", "version_totals"):
        op.drop_table(name)
