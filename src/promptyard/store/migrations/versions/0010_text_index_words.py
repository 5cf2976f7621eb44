"""text index words: SQLite's request_fts written anew with the short words of
store/text_search.py (a gram's characters as themselves, `用量`, instead of 0008's hex code points,
`7528g91cf`: a third of the work at ingest); PostgreSQL's index is unchanged. Downgrade writes the
hex words again.

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-02
"""
from __future__ import annotations

from typing import Callable

import sqlalchemy as sa
from alembic import op

from promptyard.domain import text_tokens as tt
from promptyard.domain.logs import text_of
from promptyard.store import text_search
from promptyard.store.types import PackedJSONType

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None

BATCH = 2000
_requests = sa.table("requests", sa.column("id", sa.Integer), sa.column("input", PackedJSONType),
                     sa.column("output", PackedJSONType))


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(text_search.fts_doc)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(_hex_doc)


def _rebuild(doc: Callable[[str], str]) -> None:
    """request_fts again, from every stored log's JSON, in words made by `doc`."""
    bind = op.get_bind()
    op.execute("DROP TABLE request_fts")
    op.execute("CREATE VIRTUAL TABLE request_fts USING fts5(input, output, content='', tokenize='ascii', columnsize=0)")
    cursor = bind.connection.driver_connection.cursor()
    after = 0
    while True:
        rows = bind.execute(sa.select(_requests).where(_requests.c.id > after).order_by(_requests.c.id)
                            .limit(BATCH)).all()
        if not rows:
            break
        cursor.executemany("INSERT INTO request_fts (rowid, input, output) VALUES (?, ?, ?)",
                           [(r.id, doc(text_of(r.input)), doc(text_of(r.output))) for r in rows])
        after = rows[-1].id
    cursor.close()


def _hex_doc(raw: str) -> str:
    """0008's words: each gram's code points in hex joined by `g`; a last single character ends in `g`."""
    return " ".join("g".join(f"{ord(ch):x}" for ch in g) + ("g" if len(g) == 1 else "")
                    for g in tt.grams(tt.normal(raw)))
