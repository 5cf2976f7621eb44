"""Portable column types."""

from __future__ import annotations

import json
import zlib
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

JSONType = JSON().with_variant(JSONB(), "postgresql")

PACK_AT = 100  # bytes of JSON from which SQLite keeps it compressed (when that is smaller)

# zlib's preset dictionary for SQLite's packed JSON: what request JSON of any application repeats,
# the providers' message shapes and common English and Japanese phrasing (most frequent last, nearest
# to the data). A log's JSON is a few hundred bytes, too short for zlib to learn these from the value
# itself: the dictionary takes about a third off (docs/benchmarks.md, "Text search and bytes per
# log"). It holds no user data. Once released it never changes: a packed value names its dictionary
# by the Adler-32 in its zlib header and is read with that one; a better one is added beside it.
_DICTIONARY = "".join((
    "You are a helpful assistant. Please answer the question. Thank you for your message. If you have any "
    "questions, please let me know. I'm sorry, but I can't ",
    '{"type":"image_url","image_url":{"url":"{"type":"tool_use","id":"toolu_","name":"',
    '"tool_calls":[{"id":"call_","type":"function","function":{"name":"","arguments":"{\\"',
    '{"role":"tool","tool_call_id":"{"prompt":"{"content":[{"type":"text","text":"',
    '"}],"stop_reason":"end_turn","finish_reason":"stop","index":0,{"text":"',
    "あなたは、アシスタントです。ユーザー、質問、回答、日本語で、以下の、してから、されています。してもいいですか。",
    "など、また、ただし、なお、もし、すぐに、必ず、できるだけ、確認してください。ご確認ください。ご相談ください。",
    "場合は、場合には、ことがあります。ことができます。かもしれません。と思います。とのことです。という、ような、ように、",
    "ません。ませんか。ました。でした。ております。いたします。いただけますか。について、については、ので、ため、",
    "ありがとうございます。よろしくお願いいたします。お願いします。してください。ください。でしょうか。ですか？ですか。",
    '{"choices":[{"message":{"role":"assistant","content":"',
    '"}}]}{"messages":[{"role":"system","content":"","},{"role":"assistant","content":"',
    '"},{"role":"user","content":"',
    '"}]}',
)).encode()
_DICTIONARIES = {zlib.adler32(_DICTIONARY): _DICTIONARY}


class _PackedJSON(TypeDecorator):
    """SQLite: a JSON value as compact UTF-8 (no \\u escapes: a Japanese character takes 3 bytes, not
    6), zlib-compressed with the preset dictionary when it is PACK_AT bytes or more and that pays;
    stored as a BLOB. JSON text never starts with `x`, zlib's first byte, so one byte tells the two
    apart; values packed before (without a dictionary: migration 0010 packs them again) and rows
    written before 0008 (TEXT, with escapes) read as they were. PostgreSQL's JSONB is compressed by
    TOAST already."""

    impl = JSON  # the declared column type stays JSON (the migrations' schema)
    cache_ok = True

    def bind_processor(self, dialect):  # noqa: ANN001, ANN201
        return pack

    def result_processor(self, dialect, coltype):  # noqa: ANN001, ANN201
        return unpack


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # one encoder: json.dumps with options makes one a call


def pack(value: Any) -> bytes:
    raw = _COMPACT.encode(None if value is JSON.NULL else value).encode()
    if len(raw) >= PACK_AT:
        packer = zlib.compressobj(6, zdict=_DICTIONARY)
        packed = packer.compress(raw) + packer.flush()
        if len(packed) < len(raw):
            return packed
    return raw


def unpack(stored: bytes | str | None) -> Any:
    if stored is None:
        return None
    if isinstance(stored, bytes) and stored[:1] == b"x":
        if stored[1] & 0x20:  # FDICT: the dictionary's Adler-32 follows the 2-byte header
            unpacker = zlib.decompressobj(zdict=_DICTIONARIES[int.from_bytes(stored[2:6], "big")])
            stored = unpacker.decompress(stored) + unpacker.flush()
        else:
            stored = zlib.decompress(stored)
    return json.loads(stored)


# Request input and output: the large JSON values (store/models.py).
PackedJSONType = JSON().with_variant(JSONB(), "postgresql").with_variant(_PackedJSON(), "sqlite")


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both databases (SQLite has no time zones)."""

    impl = DateTime
    cache_ok = True

    def bind_processor(self, dialect):  # noqa: ANN001, ANN201
        # SQLite: straight to SQLAlchemy's text form for DATETIME (ingest binds several a row).
        return _sqlite_text if dialect.name == "sqlite" else super().bind_processor(dialect)

    def process_bind_param(self, value, dialect):  # noqa: ANN001
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.astimezone(timezone.utc)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def load_dialect_impl(self, dialect):  # noqa: ANN001
        return dialect.type_descriptor(DateTime(timezone=dialect.name == "postgresql"))

    def process_result_value(self, value, dialect):  # noqa: ANN001
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def _sqlite_text(value: datetime | None) -> str | None:
    """A time as SQLAlchemy's SQLite DATETIME stores it (its default storage format), in UTC."""
    if value is None:
        return None
    if value.tzinfo is not None and value.utcoffset():
        value = value.astimezone(timezone.utc)
    return "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (value.year, value.month, value.day, value.hour, value.minute,
                                                     value.second, value.microsecond)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
