"""Bulk inserts for the ingest path, and `one_of`: a column matching any of many values.

A batch of 500 logs is about 3,500 rows (the request, its metadata, scores and tags). Through
SQLAlchemy's executemany the per-row parameter handling cost more than the databases did, and
on PostgreSQL psycopg re-parsed the multi-row INSERT text (too long for its statement cache) on
every batch. Here values are converted once with the columns' own SQLAlchemy bind processors, so
they are stored exactly as the ORM stores them, and then handed to the driver directly:

- SQLite: the driver's executemany, with the statement compiled once;
- PostgreSQL: one INSERT ... SELECT FROM unnest(<one array per column>) per table, a short
  statement whatever the batch size. A request's client id is claimed in request_keys by the same
  statement (store/partitions.py says why). The rows' foreign keys are checked with cached plans
  (`execute_pg`): every connection plans each statement for its values (store/db.make_engine), and
  PostgreSQL plans each row's key check afresh under that rule, 34 µs a row instead of 6.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from sqlalchemy import JSON, Boolean, Float, Integer, Table, any_, bindparam
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import ARRAY, psycopg
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.schema import Column

from promptyard.errors import Conflict, InvalidInput, Unavailable
from promptyard.store import partitions
from promptyard.store.types import UTCDateTime


def insert(session: Session, table: Table, rows: list[dict[str, Any]], *, skip_conflicts_on: Iterable[str] = (),
           returning: tuple[str, ...] = (),
           add_on_conflict: tuple[tuple[str, ...], tuple[str, ...]] | None = None,
           bound: Iterable[str] = ()) -> list[tuple]:
    """Insert `rows` (dicts with the same keys) into `table`. Rows that clash with an existing
    row on the `skip_conflicts_on` unique key are skipped; the `returning` columns of the rows
    inserted are returned, in any order. With `add_on_conflict` = (key columns, value columns),
    a row that clashes on the key adds its values to the stored row's (running sums; the rows of
    one call must have distinct keys). The `bound` columns' values are in the driver's form
    already (`bind`)."""
    if not rows:
        return []
    conn = session.connection()
    dialect = conn.dialect
    quote = dialect.identifier_preparer.quote
    cols = [table.c[name] for name in rows[0]]
    names = ", ".join(quote(c.name) for c in cols)
    target = dialect.identifier_preparer.format_table(table)
    conflict = f" ON CONFLICT ({', '.join(skip_conflicts_on)}) DO NOTHING" if skip_conflicts_on else ""
    if add_on_conflict:
        keys, values = add_on_conflict
        sums = ", ".join(f"{quote(v)} = {target}.{quote(v)} + excluded.{quote(v)}" for v in values)
        conflict = f" ON CONFLICT ({', '.join(map(quote, keys))}) DO UPDATE SET {sums}"
    bound = set(bound)
    columns = [[r[c.name] for r in rows] if c.name in bound else _values(c, dialect, [r[c.name] for r in rows])
               for c in cols]
    claim = None
    if dialect.name == "postgresql" and table.name in partitions.UNIQUE_ELSEWHERE:
        keys_table, key = partitions.UNIQUE_ELSEWHERE[table.name]
        assert tuple(skip_conflicts_on) == key, f"{table.name}: rows are inserted once per {key}"
        claim, conflict = (keys_table, ", ".join(map(quote, key))), ""
    cursor = conn.connection.driver_connection.cursor()
    try:
        return _run(cursor, dialect, target, names, cols, columns, conflict, returning, claim)
    except dialect.dbapi.Error as exc:  # the driver's own classes: SQLAlchemy's mapping is bypassed here
        raise _mapped(exc, dialect.dbapi) from exc
    except OverflowError:
        raise InvalidInput("errors.system.number_request_out_range") from None
    finally:
        cursor.close()


def execute_pg(cursor: Any, sql: str, params: Any) -> None:
    """PostgreSQL: an insert of many rows whose foreign keys are checked with cached plans, then the
    connection's rule again (plan each statement for its values: store/db.make_engine), in one round trip.
    The driver's errors become ours, as `insert` maps them (SQLAlchemy, which would, is bypassed)."""
    driver = cursor.connection  # not `import psycopg`: the forkserver would load libpq into every template worker
    try:
        with driver.pipeline():
            driver.execute("SET LOCAL plan_cache_mode = auto")
            cursor.execute(sql, params)
            driver.execute("SET LOCAL plan_cache_mode TO DEFAULT")
    except driver.Error as exc:  # the connection carries the driver's error classes (PEP 249's extension)
        raise _mapped(exc, driver) from exc


def _mapped(exc: Exception, dbapi: Any) -> Exception:
    """A driver error as one of ours (PEP 249 names, the same on sqlite3 and psycopg)."""
    first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else exc.__class__.__name__
    if isinstance(exc, dbapi.DataError):
        return InvalidInput("errors.system.value_request_cannot_stored", first=first)
    if isinstance(exc, dbapi.IntegrityError):
        return Conflict("errors.system.request_clashes_stored_data", first=first)
    if isinstance(exc, (dbapi.OperationalError, dbapi.InterfaceError)):
        return Unavailable("errors.system.database_unavailable_try_again")
    return exc


def _run(cursor: Any, dialect: Any, target: str, names: str, cols: list[Column], columns: list[list[Any]],
         conflict: str, returning: tuple[str, ...], claim: tuple[str, str] | None) -> list[tuple]:
    if dialect.name == "postgresql":
        arrays = ", ".join(f"%b::{_pg_type(c, dialect)}[]" for c in cols)  # binary: no text escaping
        back = f" RETURNING {', '.join(returning)}" if returning else ""
        head, rows = "", f"SELECT * FROM unnest({arrays})"
        if claim:  # the key claimed in its own table first: only rows whose claim is new go in
            keys_table, key = claim
            head = (f"WITH u AS (SELECT * FROM unnest({arrays}) AS u ({names})), k AS (INSERT INTO {keys_table} ({key}) "
                    f"SELECT {key} FROM u ON CONFLICT DO NOTHING RETURNING {key}) ")
            rows = f"SELECT u.* FROM u JOIN k USING ({key})"
        execute_pg(cursor, f"{head}INSERT INTO {target} ({names}) {rows}{conflict}{back}", columns)
        return cursor.fetchall() if returning else []
    # executemany cannot return rows. A write transaction on SQLite holds the database's
    # only write lock (BEGIN IMMEDIATE), so the rows it inserts are exactly those whose rowid
    # is above the largest one before it.
    before = cursor.execute(f"SELECT coalesce(max(rowid), 0) FROM {target}").fetchone()[0] if returning else 0
    marks = ", ".join("?" for _ in cols)
    cursor.executemany(f"INSERT INTO {target} ({names}) VALUES ({marks}){conflict}", list(zip(*columns)))
    if not returning:
        return []
    return cursor.execute(f"SELECT {', '.join(returning)} FROM {target} WHERE rowid > ?", (before,)).fetchall()


_DIALECTS = {"sqlite": sqlite.dialect(), "postgresql": psycopg.dialect()}


def bind(table: Table, column: str, values: list[Any], dialect: str) -> list[Any]:
    """One column's values in the driver's form for `dialect` ("sqlite" | "postgresql"), as `insert`
    converts them: for work done before the write transaction, even in another process (the ingest
    workers, services/ingest_workers.py), and handed to `insert` as `bound`."""
    return _values(table.c[column], _DIALECTS[dialect], values)


def _values(col: Column, dialect: Any, values: list[Any]) -> list[Any]:
    if isinstance(col.type, JSON) and dialect.name == "postgresql":
        # As text, cast to jsonb by the statement; Python None is JSON null, as in the ORM.
        return _once_each(json.dumps, values)
    process = col.type._cached_bind_processor(dialect)
    if process is not None:
        # JSON values and times are often one object for many rows (an OTLP body's resource, a batch's time)
        values = _once_each(process, values) if isinstance(col.type, (JSON, UTCDateTime)) else \
            [process(v) for v in values]
    if dialect.name == "postgresql":
        # Arrays must hold one type: 3 and 2.5 in a float column, or 7 in a float column, would
        # otherwise make psycopg pick int for some elements.
        kind = float if isinstance(col.type, Float) else int if isinstance(col.type, Integer) else None
        if kind is not None:
            values = [None if v is None else kind(v) for v in values]
    return values


def _once_each(convert: Any, values: list[Any]) -> list[Any]:
    """convert(v) for each value, once for each object (by identity)."""
    done: dict[int, Any] = {}
    out = []
    for v in values:
        key = id(v)
        if key not in done:
            done[key] = convert(v)
        out.append(done[key])
    return out


def _pg_type(col: Column, dialect: Any) -> str:
    return "jsonb" if isinstance(col.type, JSON) else col.type.compile(dialect=dialect)


def one_of(col: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """`col IN values` for the many values of a batch (request ids, client ids, score names).
    PostgreSQL gets `col = ANY(<one array>)`: psycopg prepares a statement run five times, and the
    generic plan of `IN ($1, ..., $500)` compared every row of the table with the list (scoring
    500 requests: 174 ms a statement against 7 ms), where an array keeps its index scan."""
    return _OneOf(col, list(values))


class _OneOf(ColumnElement[bool]):
    type = Boolean()
    _is_implicitly_boolean = True
    inherit_cache = False  # holds plain values

    def __init__(self, col: Any, values: list[Any]):
        self.col, self.values = col, values


@compiles(_OneOf, "postgresql")
def _pg_one_of(element: _OneOf, compiler, **kw):  # noqa: ANN001, ANN202
    values = bindparam("one_of", element.values, type_=ARRAY(element.col.type), unique=True)
    return compiler.process(element.col == any_(values), **kw)


@compiles(_OneOf)
def _one_of(element: _OneOf, compiler, **kw):  # noqa: ANN001, ANN202
    return compiler.process(element.col.in_(element.values), **kw)

