"""text index: request_fts (FTS5 without content on SQLite, tsvector + GIN on PostgreSQL) over the
grams of every log's input and output text (store/text_search.py), built here for stored logs

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

from promptyard.domain.logs import text_of
from promptyard.store import text_search
from promptyard.store.types import JSONType

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BATCH = 2000
_requests = sa.table("requests", sa.column("id", sa.Integer), sa.column("workspace_id", sa.Integer),
                     sa.column("input", JSONType), sa.column("output", JSONType))


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


def _fill(bind: sa.engine.Connection) -> None:
    """The index of every stored log, from its JSON, as ingest would have made it."""
    session = Session(bind=bind)
    after = 0
    while True:
        rows = bind.execute(sa.select(_requests).where(_requests.c.id > after).order_by(_requests.c.id)
                            .limit(BATCH)).all()
        if not rows:
            break
        text_search.add(session, [(r.id, r.workspace_id, text_of(r.input), text_of(r.output)) for r in rows])
        after = rows[-1].id


def downgrade() -> None:
    op.execute("DROP TABLE request_fts")
