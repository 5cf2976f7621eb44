"""text index words, JSON packed with a dictionary (SQLite; PostgreSQL is unchanged): request_fts
written anew with the short words of store/text_search.py (a gram's characters as themselves, `用量`,
instead of 0008's hex code points, `7528g91cf`: a third of the work at ingest), and every log's
input and output packed again (store/types.pack: zlib with a preset dictionary from 100 bytes, about
a third smaller); request_metadata and request_tags become WITHOUT ROWID tables (their key is
the table: one b-tree fewer each). Downgrade writes all three as 0008 did.

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-02
"""
from __future__ import annotations

import json
import zlib
from typing import Callable

from alembic import op

from promptyard.domain import text_tokens as tt
from promptyard.domain.logs import text_of
from promptyard.store import text_search
from promptyard.store.types import pack

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None

BATCH = 2000


CLUSTERED = ("request_metadata", "request_tags")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rewrite(text_search.text_words, pack)
        for table in CLUSTERED:
            _rebuild(table, rowid=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rewrite(_hex_doc, _pack_0008)
        for table in CLUSTERED:
            _rebuild(table, rowid=True)


def _rebuild(table: str, *, rowid: bool) -> None:
    """SQLite: the table made again from its own definition, with or without a rowid, its rows
    copied and its indexes made again."""
    bind = op.get_bind()
    ddl = bind.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).scalar()
    indexes = bind.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                                   "AND sql IS NOT NULL", (table,)).scalars().all()
    body = ddl[ddl.index("("):].strip().removesuffix("WITHOUT ROWID").strip()
    op.execute(f"CREATE TABLE {table}_new {body}" + ("" if rowid else " WITHOUT ROWID"))
    op.execute(f"INSERT INTO {table}_new SELECT * FROM {table}")
    op.execute(f"DROP TABLE {table}")
    op.execute(f"ALTER TABLE {table}_new RENAME TO {table}")
    for sql in indexes:
        op.execute(sql)


def _rewrite(doc: Callable[[str], str], packed: Callable[[object], bytes]) -> None:
    """request_fts again, in words made by `doc`, and each log's JSON stored as `packed` makes it."""
    op.execute("DROP TABLE request_fts")
    op.execute("CREATE VIRTUAL TABLE request_fts USING fts5(input, output, content='', tokenize='ascii', columnsize=0)")
    cursor = op.get_bind().connection.driver_connection.cursor()
    for values in text_search.stored_logs(cursor, BATCH):
        cursor.executemany("INSERT INTO request_fts (rowid, input, output) VALUES (?, ?, ?)",
                           [(rid, doc(text_of(inp)), doc(text_of(out))) for rid, inp, out in values])
        cursor.executemany("UPDATE requests SET input = ?, output = ? WHERE id = ?",
                           [(packed(inp), packed(out), rid) for rid, inp, out in values])
    cursor.close()


def _pack_0008(value: object) -> bytes:
    """JSON as 0008 packed it: zlib without a dictionary from 300 bytes."""
    raw = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    packed = zlib.compress(raw, 6) if len(raw) >= 300 else raw
    return packed if len(packed) < len(raw) else raw


def _hex_doc(raw: str) -> str:
    """0008's words: each gram's code points in hex joined by `g`; a last single character ends in `g`."""
    return " ".join("g".join(f"{ord(ch):x}" for ch in g) + ("g" if len(g) == 1 else "")
                    for g in tt.grams(tt.normal(raw)))
