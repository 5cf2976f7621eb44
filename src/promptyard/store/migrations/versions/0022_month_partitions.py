"""PostgreSQL: the request log's tables partitioned by month of request id (store/partitions.py);
client ids unique in request_keys. The stored rows become the `_before` partitions as they are
(their ids stay). SQLite is unchanged.

Revision ID: 0022
Revises: 0020
Create Date: 2026-12-03
"""
from __future__ import annotations

from alembic import op
from sqlalchemy import text

from promptyard.store import partitions
from promptyard.store.types import utcnow

revision = "0022"
down_revision = "0020"
branch_labels = None
depends_on = None

_COVERED = "workspace_id, prompt_name, version_number, status, total_tokens, cost, latency_ms"
# table -> (partition key, constraints, indexes); the partitioned form. Where one table's plain form
# (before this migration) differs, _PLAIN says how.
_SPEC = {
    "requests": ("id", ["requests_pkey PRIMARY KEY (id)"], [
        f"ix_requests_covering ON {{t}} (id) INCLUDE ({_COVERED})",
        "ix_requests_experiment_id ON {t} (experiment_id)", "ix_requests_group_id ON {t} (group_id)",
        "ix_requests_prompt_time ON {t} (prompt_id, start_time, id)",
        "ix_requests_stats ON {t} (workspace_id, prompt_name, version_number, latency_ms, status, total_tokens, cost)",
        "ix_requests_version_time ON {t} (prompt_version_id, start_time, id)",
        "ix_requests_ws_time ON {t} (workspace_id, start_time, id)",
        "ix_requests_client ON {t} (workspace_id, client_id)"]),
    "request_tags": ("request_id", ["request_tags_pkey PRIMARY KEY (request_id, tag)"],
                     ["ix_request_tags_ws_tag ON {t} (workspace_id, tag, request_id)"]),
    "request_metadata": ("request_id", ["request_metadata_pkey PRIMARY KEY (request_id, key)"],
                         ["ix_request_metadata_ws_kv ON {t} (workspace_id, key, value, request_id)"]),
    "redaction_counts": ("request_id", ["redaction_counts_pkey PRIMARY KEY (request_id, kind)"],
                         ["ix_redaction_counts_ws_kind ON {t} (workspace_id, kind, n)"]),
    "scores": ("request_id", ["scores_request_id_name_key UNIQUE (request_id, name)"], [
        "ix_scores_request_name_value ON {t} (request_id, name, value)",
        "ix_scores_ws_name_value ON {t} (workspace_id, name, value, request_id)", "ix_scores_id ON {t} (id)"]),
    "request_fts": ("request_id", ["request_fts_pkey PRIMARY KEY (request_id, chunk)"],
                    ["ix_request_fts_grams ON {t} USING gin (input, output)"]),
}
# the plain form: (constraint added, index left out)
_PLAIN = {"requests": ("requests_workspace_id_client_id_key UNIQUE (workspace_id, client_id)", "ix_requests_client"),
          "scores": ("scores_pkey PRIMARY KEY (id)", "ix_scores_id")}
# every foreign key of these tables or pointing at them: (table, name, definition)
_KEYS = [
    ("requests", "requests_workspace_id_fkey", "(workspace_id) REFERENCES workspaces (id) ON DELETE CASCADE"),
    ("requests", "requests_prompt_id_fkey", "(prompt_id) REFERENCES prompts (id) ON DELETE SET NULL"),
    ("requests", "requests_prompt_version_id_fkey",
     "(prompt_version_id) REFERENCES prompt_versions (id) ON DELETE SET NULL"),
    *[(t, f"{t}_request_id_fkey", "(request_id) REFERENCES requests (id) ON DELETE CASCADE")
      for t in ("request_tags", "request_metadata", "redaction_counts", "scores", "request_fts", "spans",
                "queue_items")],
    ("evaluation_items", "evaluation_items_request_id_fkey",
     "(request_id) REFERENCES requests (id) ON DELETE SET NULL"),
    ("dataset_items", "dataset_items_source_request_id_fkey",
     "(source_request_id) REFERENCES requests (id) ON DELETE CASCADE"),
]
_SEQUENCES = {"requests_id_seq": "requests", "scores_id_seq": "scores"}


def _drop_keys() -> None:
    for table, name, _ in _KEYS:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")


def _add_keys() -> None:
    for table, name, definition in _KEYS:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY {definition}")


def _build(table: str, *, plain: bool) -> None:
    """The table's constraints and indexes, in its partitioned or its plain form."""
    _, constraints, indexes = _SPEC[table]
    added, left_out = _PLAIN.get(table, (None, None))
    for c in constraints + ([added] if plain and added else []):
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {c}")
    for ix in indexes:
        if not (plain and ix.startswith(f"{left_out} ")):
            op.execute(f"CREATE INDEX {ix.format(t=table)}")


def _own_sequences(only: str | None = None) -> None:
    for seq, table in _SEQUENCES.items():
        if only in (None, table):
            op.execute(f"ALTER SEQUENCE {seq} OWNED BY {table}.id")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    conn = op.get_bind()
    month = partitions.month_of(utcnow())
    before = partitions.BEFORE
    # ids from before (a database partitioned once, downgraded and upgraded again may hold later ones)
    top = conn.scalar(text("SELECT max(id) FROM requests"))
    high = partitions.first_id(month)
    if top is not None and top >= high:
        high = partitions.first_id(partitions.next_month(partitions.month_of_id(top)))
    _drop_keys()
    for table, (key, _, _) in _SPEC.items():
        old = f"{table}_{before}"
        op.execute(f"ALTER TABLE {table} RENAME TO {old}")
        for (name,) in conn.execute(text("SELECT conname FROM pg_constraint WHERE conrelid = CAST(:t AS regclass) "
                                            "AND contype IN ('p', 'u')"), {"t": old}).all():
            op.execute(f"ALTER TABLE {old} RENAME CONSTRAINT {name} TO {name}_{before}")
        for (name,) in conn.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = :t AND indexname NOT LIKE "
                                         "'%\\_before'"), {"t": old}).all():
            op.execute(f"ALTER INDEX {name} RENAME TO {name}_{before}")
        op.execute(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS) PARTITION BY RANGE ({key})")
        _build(table, plain=False)
        _own_sequences(table)  # before the old table can go: a sequence goes with its owner
        if top is None:  # nothing stored: no partition of ids from before
            op.execute(f"DROP TABLE {old}")
        else:
            op.execute(f"ALTER TABLE {table} ATTACH PARTITION {old} FOR VALUES FROM (MINVALUE) TO ({high})")
    op.execute(f"CREATE TABLE {partitions.KEYS} (workspace_id integer NOT NULL REFERENCES workspaces (id) "
               "ON DELETE CASCADE, client_id varchar(64) NOT NULL, PRIMARY KEY (workspace_id, client_id))")
    op.execute(f"INSERT INTO {partitions.KEYS} SELECT workspace_id, client_id FROM requests")
    if top is not None:
        op.execute(f"ALTER TABLE requests_{before} DROP CONSTRAINT requests_workspace_id_client_id_key_{before}")
        op.execute(f"ALTER TABLE scores_{before} DROP CONSTRAINT scores_pkey_{before}")
    _add_keys()
    op.execute(partitions.ID_FUNCTION)
    op.execute("ALTER TABLE requests ALTER COLUMN id SET DEFAULT promptyard_request_id(now())")
    partitions.ensure(conn, utcnow())


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _drop_keys()
    for table in _SPEC:
        flat = f"{table}_flat"
        op.execute(f"CREATE TABLE {flat} (LIKE {table} INCLUDING DEFAULTS)")
        op.execute(f"INSERT INTO {flat} SELECT * FROM {table}")
    for seq in _SEQUENCES:
        op.execute(f"ALTER SEQUENCE {seq} OWNED BY NONE")
    for table in _SPEC:
        op.execute(f"DROP TABLE {table}")
        op.execute(f"ALTER TABLE {table}_flat RENAME TO {table}")
        _build(table, plain=True)
    op.execute("ALTER TABLE requests ALTER COLUMN id SET DEFAULT nextval('requests_id_seq')")
    op.execute("DROP FUNCTION promptyard_request_id(timestamptz)")
    op.execute(f"DROP TABLE {partitions.KEYS}")
    _add_keys()
    _own_sequences()
