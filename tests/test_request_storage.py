"""Each log's text is stored once (JSON; the search index holds grams, not the text) and large JSON
is compressed on SQLite; every read gives back exactly what was logged, also across migrations 0008 and 0010 (JSON packed with a dictionary; metadata and tags WITHOUT ROWID)."""

from __future__ import annotations

import uuid

from sqlalchemy import inspect, select, text

from promptyard.domain.logs import text_of
from promptyard.services import request_ingest, request_reads
from promptyard.store.migrate import downgrade, upgrade
from promptyard.store.models import Request
from promptyard.store.types import PACK_AT, unpack
from tests.support import upgraded

LONG = {"messages": [{"role": "system", "content": "あなたは調剤薬局の薬剤師を支援するアシスタントです。" * 20},
                     {"role": "user", "content": "用量は? 😀 \\ \" \u3000"}]}
SHORT = {"text": "1日2回です。"}


def _ingest(db, p, inp, out) -> str:  # noqa: ANN001
    cid = uuid.uuid4().hex
    with db.write() as s:
        assert request_ingest.ingest(s, p, [{"id": cid, "input": inp, "output": out}], max_batch=10)["accepted"] == 1
    return cid


def _raw(db, cid: str) -> tuple:  # noqa: ANN001
    with db.read() as s:
        return s.execute(text("SELECT input, output FROM requests WHERE client_id = :c"), {"c": cid}).one()


def test_json_is_stored_once_compressed_when_large_and_read_back_unchanged(database, principal):
    cid = _ingest(database, principal, LONG, SHORT)
    columns = {c["name"] for c in inspect(database.engine).get_columns("requests")}
    assert not {"input_text", "output_text"} & columns
    inp, out = _raw(database, cid)
    if database.kind == "sqlite":
        assert inp[:1] == b"x" and len(inp) < len(str(LONG).encode()) / 4  # zlib
        assert out == '{"text":"1日2回です。"}'.encode() and len(out) < PACK_AT  # UTF-8, no \\u escapes
    with database.read() as s:
        item = request_reads.browse(s, principal, node=None, limit=1, full=True)["items"][0]
    assert (item["input"], item["output"], item["input_text"]) == (LONG, SHORT, text_of(LONG))


def test_migration_0008_round_trip_keeps_every_log(empty_url):  # noqa: ANN001
    db, p = upgraded(empty_url)
    try:
        cid = _ingest(db, p, LONG, SHORT)
        downgrade(db.engine, "0007")
        with db.read() as s:
            row = s.execute(text("SELECT input, input_text, output_text FROM requests WHERE client_id = :c"),
                            {"c": cid}).one()
        stored = row.input if db.kind == "postgresql" else unpack(row.input)
        assert isinstance(row.input, (str, dict))  # SQLite: text again, as 0007 reads it
        assert (stored, row.input_text, row.output_text) == (LONG, text_of(LONG), text_of(SHORT))
        upgrade(db.engine)
        with db.read() as s:
            assert s.scalar(select(Request.input).where(Request.client_id == cid)) == LONG
            found = request_reads.browse(s, p, node=None, limit=5)["items"]
        assert [i["id"] for i in found] == [cid]
    finally:
        db.dispose()


def test_migration_0010_clusters_metadata_and_tags_and_keeps_them(empty_url):  # noqa: ANN001
    """SQLite: request_metadata and request_tags are WITHOUT ROWID tables from 0010 on (and have a
    rowid again after downgrade), with every row and index kept both ways."""
    db, p = upgraded(empty_url)
    try:
        cid = uuid.uuid4().hex
        with db.write() as s:
            request_ingest.ingest(s, p, [{"id": cid, "input": SHORT, "output": SHORT, "tags": ["a", "b"],
                                          "metadata": {"env": "prod", "user": "u1"}}], max_batch=10)

        def found() -> list[str]:  # in SQL: today's reads also join tables of later revisions (spans)
            with db.read() as s:
                return list(s.scalars(text(
                    "SELECT r.client_id FROM requests r JOIN request_metadata m ON m.request_id = r.id"
                    " JOIN request_tags g ON g.request_id = r.id"
                    " WHERE m.key = 'user' AND m.value = 'u1' AND g.tag = 'b'")))

        def clustered() -> list[bool]:
            with db.read() as s:
                return [s.scalar(text("SELECT sql FROM sqlite_master WHERE name = :t"), {"t": t}).endswith("WITHOUT ROWID")
                        for t in ("request_metadata", "request_tags")]
        for revision, rowid in (("0008", True), ("head", False)):
            if revision == "head":
                upgrade(db.engine)
            else:
                downgrade(db.engine, revision)
            assert found() == [cid]
            if db.kind == "sqlite":
                assert clustered() == [not rowid] * 2
                with db.read() as s:
                    names = set(s.scalars(text("SELECT name FROM sqlite_master WHERE type = 'index'")))
                assert {"ix_request_metadata_ws_kv", "ix_request_tags_ws_tag"} <= names
    finally:
        db.dispose()
