"""text index without positions (SQLite; PostgreSQL is unchanged): request_fts written anew as one
column of each log's distinct grams, input and output together, `detail=none` (store/text_search.py:
a query is the AND of its grams, narrowed row by row by the definition where that is not exact).
Positions and the column took 3/4 of the index: 1,200 -> 280 bytes per typical log. Downgrade
writes 0010's index again (a column each, with positions).

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-03
"""
from __future__ import annotations

from typing import Callable

from alembic import op

from promptyard.domain.logs import text_of
from promptyard.store import text_search

revision = "0020"
down_revision = "0021"
branch_labels = None
depends_on = None

BATCH = 2000
SETS = "words, content='', tokenize='ascii', columnsize=0, detail=none"
POSITIONAL = "input, output, content='', tokenize='ascii', columnsize=0"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rewrite(SETS, lambda i, o: (text_search.fts_words(i, o),))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rewrite(POSITIONAL, lambda i, o: (text_search.text_words(i), text_search.text_words(o)))


def _rewrite(columns: str, words: Callable[[str, str], tuple[str, ...]]) -> None:
    """request_fts made again with `columns`, each stored log's words from its JSON by `words`."""
    op.execute("DROP TABLE request_fts")
    op.execute(f"CREATE VIRTUAL TABLE request_fts USING fts5({columns})")
    names = ", ".join(c for c in columns.split(", ") if "=" not in c)
    insert = f"INSERT INTO request_fts (rowid, {names}) VALUES (?, {', '.join('?' * (names.count(',') + 1))})"
    cursor = op.get_bind().connection.driver_connection.cursor()
    for values in text_search.stored_logs(cursor, BATCH):
        cursor.executemany(insert, [(rid, *words(text_of(i), text_of(o))) for rid, i, o in values])
    cursor.close()
