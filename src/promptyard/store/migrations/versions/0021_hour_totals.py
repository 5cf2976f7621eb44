"""running totals per prompt version and UTC hour (store/rollups.py), for the trends per day and
per hour (services/log_trends.py), filled from the logs already stored

Revision ID: 0021
Revises: 0018
Create Date: 2026-12-03
"""
from __future__ import annotations

from collections import defaultdict
from datetime import timezone

import sqlalchemy as sa
from alembic import op

from promptyard.store.types import UTCDateTime

revision = "0021"
down_revision = "0018"
branch_labels = None
depends_on = None


def _table(name: str, *columns: sa.Column, unique: tuple[str, ...]) -> None:
    op.create_table(
        name, sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False), sa.Column("hour", UTCDateTime(), nullable=False),
        sa.Column("prompt_name", sa.String(500), nullable=False), sa.Column("version_number", sa.Integer(),
                                                                            nullable=False), *columns,
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "hour", "prompt_name", "version_number", *unique))


def upgrade() -> None:
    big = sa.BigInteger
    _table("hour_totals", sa.Column("requests", big(), nullable=False), sa.Column("errors", big(), nullable=False),
           unique=())
    _table("hour_score_totals", sa.Column("name", sa.String(200), nullable=False),
           sa.Column("n", big(), nullable=False), sa.Column("sum", sa.Float(), nullable=False), unique=("name",))
    _fill()


def _hour(at):  # noqa: ANN001, ANN202 - the UTC hour a stored start_time falls in (SQLite's are naive UTC)
    at = at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)
    return at.replace(minute=0, second=0, microsecond=0)


def _fill() -> None:
    """Hours are computed here rather than in SQL, the same on both databases (streamed, so a large
    log is read once in bounded memory)."""
    conn = op.get_bind()
    totals: dict = defaultdict(lambda: [0, 0])
    for ws, name, number, status, start in conn.execute(sa.text(
            "SELECT workspace_id, coalesce(prompt_name, ''), coalesce(version_number, 0), status, start_time "
            "FROM requests").columns(start_time=UTCDateTime()
                                     ).execution_options(stream_results=True, yield_per=20_000)):
        t = totals[(ws, _hour(start), name, number)]
        t[0] += 1
        t[1] += status == "error"
    scores: dict = defaultdict(lambda: [0, 0.0])
    for ws, name, number, score, value, start in conn.execute(sa.text(
            "SELECT r.workspace_id, coalesce(r.prompt_name, ''), coalesce(r.version_number, 0), s.name, s.value, "
            "r.start_time FROM scores s JOIN requests r ON r.id = s.request_id"
            ).columns(start_time=UTCDateTime()).execution_options(stream_results=True, yield_per=20_000)):
        t = scores[(ws, _hour(start), name, number, score)]
        t[0] += 1
        t[1] += value
    hour = UTCDateTime()
    _insert(conn, sa.table("hour_totals", sa.column("workspace_id"), sa.column("hour", hour), sa.column("prompt_name"),
                           sa.column("version_number"), sa.column("requests"), sa.column("errors")),
            [{"workspace_id": k[0], "hour": k[1], "prompt_name": k[2], "version_number": k[3], "requests": t[0],
              "errors": t[1]} for k, t in totals.items()])
    _insert(conn, sa.table("hour_score_totals", sa.column("workspace_id"), sa.column("hour", hour),
                           sa.column("prompt_name"), sa.column("version_number"), sa.column("name"), sa.column("n"),
                           sa.column("sum")),
            [{"workspace_id": k[0], "hour": k[1], "prompt_name": k[2], "version_number": k[3], "name": k[4],
              "n": t[0], "sum": t[1]} for k, t in scores.items()])


def _insert(conn, table, values: list[dict]) -> None:  # noqa: ANN001
    for i in range(0, len(values), 5_000):
        conn.execute(table.insert(), values[i:i + 5_000])


def downgrade() -> None:
    for name in ("hour_score_totals", "hour_totals"):
        op.drop_table(name)
