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

PACK_AT = 300  # bytes of JSON from which SQLite keeps it compressed (when that is smaller)


class _PackedJSON(TypeDecorator):
    """SQLite: a JSON value as compact UTF-8 (no \\u escapes: a Japanese character takes 3 bytes, not
    6), zlib-compressed when it is PACK_AT bytes or more and that pays; stored as a BLOB. JSON text
    never starts with `x`, zlib's first byte, so one byte tells the two apart; rows written before
    (TEXT, with escapes) read as they were. PostgreSQL's JSONB is compressed by TOAST already."""

    impl = JSON  # the declared column type stays JSON (the migrations' schema)
    cache_ok = True

    def bind_processor(self, dialect):  # noqa: ANN001, ANN201
        return pack

    def result_processor(self, dialect, coltype):  # noqa: ANN001, ANN201
        return unpack


def pack(value: Any) -> bytes:
    raw = json.dumps(None if value is JSON.NULL else value, ensure_ascii=False, separators=(",", ":")).encode()
    if len(raw) >= PACK_AT:
        packed = zlib.compress(raw, 6)
        if len(packed) < len(raw):
            return packed
    return raw


def unpack(stored: bytes | str | None) -> Any:
    if stored is None:
        return None
    if isinstance(stored, bytes):
        stored = zlib.decompress(stored) if stored[:1] == b"x" else stored
    return json.loads(stored)


# Request input and output: the large JSON values (store/models.py).
PackedJSONType = JSON().with_variant(JSONB(), "postgresql").with_variant(_PackedJSON(), "sqlite")


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both databases (SQLite has no time zones)."""

    impl = DateTime
    cache_ok = True

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


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
