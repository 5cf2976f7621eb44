"""text index: request_fts (FTS5 without content on SQLite, tsvector + GIN on PostgreSQL) over the
grams of every log's input and output text (store/text_search.py), built here for stored logs; each
text stored once: requests.input_text / output_text go (search reads the index, reads the JSON)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""
from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

from promptyard.domain.logs import text_of
from promptyard.store import text_search
from promptyard.store.types import PackedJSONType, unpack

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BATCH = 2000
_requests = sa.table("requests", sa.column("id", sa.BigInteger), sa.column("workspace_id", sa.Integer),
                     sa.column("input", PackedJSONType), sa.column("output", PackedJSONType))


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("CREATE TABLE request_fts (request_id bigint NOT NULL REFERENCES requests (id) ON DELETE CASCADE, "
                   "chunk integer NOT NULL, workspace_id integer NOT NULL, input tsvector NOT NULL, "
                   "output tsvector NOT NULL, PRIMARY KEY (request_id, chunk))")
        op.execute("CREATE INDEX ix_request_fts_grams ON request_fts USING gin (input, output)")
    else:
        op.execute("CREATE VIRTUAL TABLE request_fts USING fts5(input, output, content='', tokenize='ascii', "
                   "columnsize=0)")
    _fill(bind)
    op.execute("ALTER TABLE requests DROP COLUMN input_text")
    op.execute("ALTER TABLE requests DROP COLUMN output_text")


def _fill(bind: sa.engine.Connection) -> None:
    """The index of every stored log, from its JSON, as ingest would have made it (SQLite: this
    index's words at their positions, a column each, as 0020 found them)."""
    session = Session(bind=bind)
    after = 0
    while True:
        rows = bind.execute(sa.select(_requests).where(_requests.c.id > after).order_by(_requests.c.id)
                            .limit(BATCH)).all()
        if not rows:
            break
        texts = [(r.id, r.workspace_id, text_of(r.input), text_of(r.output)) for r in rows]
        if bind.dialect.name == "postgresql":
            text_search.add(session, texts)
        else:
            bind.exec_driver_sql("INSERT INTO request_fts (rowid, input, output) VALUES (?, ?, ?)",
                                 [(rid, text_search.text_words(i), text_search.text_words(o))
                                  for rid, _, i, o in texts])
        after = rows[-1].id


def downgrade() -> None:
    """The text columns again, from the JSON; on SQLite the JSON as text again (0007 reads no BLOB)."""
    bind = op.get_bind()
    op.execute("DROP TABLE request_fts")
    op.add_column("requests", sa.Column("input_text", sa.Text(), nullable=False, server_default=""))
    op.add_column("requests", sa.Column("output_text", sa.Text(), nullable=False, server_default=""))
    raw = sa.table("requests", sa.column("id", sa.BigInteger), sa.column("input"), sa.column("output"))
    after = 0
    while True:
        rows = bind.execute(sa.select(raw).where(raw.c.id > after).order_by(raw.c.id).limit(BATCH)).all()
        if not rows:
            break
        values = []
        for r in rows:
            inp, out = (unpack(v) if bind.dialect.name == "sqlite" else v for v in (r.input, r.output))
            values.append({"rid": r.id, "it": text_of(inp), "ot": text_of(out), "i": json.dumps(inp),
                           "o": json.dumps(out)})
        sets = "input_text = :it, output_text = :ot" + (", input = :i, output = :o" if bind.dialect.name == "sqlite"
                                                        else "")
        bind.execute(sa.text(f"UPDATE requests SET {sets} WHERE id = :rid"), values)
        after = rows[-1].id
