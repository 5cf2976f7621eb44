"""The text index behind `text ~`, `input ~` and `output ~` (semantics: domain/text_tokens.py).

One table, `request_fts` (not in models.py: its shape differs per database; migrations 0008, 0010
and 0020 made it):

- SQLite: an FTS5 table without content (`content=''`) and without positions (`detail=none`): per
  request (its rowid is the request's id) the set of grams of its input and output text together,
  each gram written as one word that FTS5's `ascii` tokenizer keeps whole (`用量` as itself; see
  "the two encodings" below). A query is the AND of its grams' words (a 1-character one, a prefix):
  exact for a `text ~` query of one gram or one character; otherwise a superset (the grams may lie
  apart, or in the other field), which `check` narrows row by row with `promptyard_has_text`, the
  definition (text_tokens.matches) applied to the stored JSON. Positions and columns took 3/4 of
  the index (docs/benchmarks.md, "Text search and bytes per log"); the check reads only rows the
  index let through.
  A contentless table forgets rows only when told their tokens: `remove` is handed the texts the
  row was indexed with (made again from the stored JSON, the same way).
- PostgreSQL: one row per request (per chunk of a long text, see text_tokens.CHUNK) with a
  `tsvector` of the raw grams and their positions for input and for output, under one GIN index; a
  query is a `tsquery` phrase (`'用量'`, `'ab' <-> 'bc'`) or a prefix (`'a':*`): exact, no check.
  Rows go with their request (ON DELETE CASCADE).

`ids(field, value)` is the set of request ids the index gives (any workspace: the caller's query
keeps its own workspace condition), for `Request.id IN (...)`; `condition` is that set with its
check, the whole condition."""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable, Iterator

from sqlalchemy import (
    BigInteger,
    Boolean,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    cast,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from promptyard.domain import text_tokens as tt
from promptyard.domain.logs import text_of
from promptyard.store import bulk
from promptyard.store.models import Request
from promptyard.store.types import unpack

FIELDS = {"text": ("input", "output"), "input": ("input",), "output": ("output",)}


def condition(field: str, value: str) -> ColumnElement[bool]:
    """`Request.id IN (<ids the index gives>)` and the row check they need, or true for an empty query."""
    found = ids(field, value)
    if found is None:
        return true()
    rest = check(field, value)
    if rest is None:
        return Request.id.in_(found)
    # A superset (SQLite): `id + 0` keeps SQLite from reading the requests through the set's ids and
    # sorting them all, with the row check on every one; the page walks newest first and checks
    # only the rows it reaches, probing the set (built once) for each. A selective query's set
    # drives the page instead (store/query_plan.py), with the same check.
    return and_((Request.id + 0).in_(found), rest)


def ids(field: str, value: str, workspace_id: int | None = None) -> Select | None:
    """The ids of the requests the index gives for `field ~ value` (of one workspace where the
    index knows it: PostgreSQL's rows carry it, SQLite's do not), as a SELECT of `request_id`:
    exactly the matches, or on SQLite a superset when `check` is not None; None for an empty query
    (everything matches). The SQL is written when the statement is compiled, for the database it
    runs on; store/query_plan.py probes it and drives pages from it."""
    grams, prefix = tt.query_grams(value)
    if not grams:
        return None
    return select(_Id().label("request_id")).select_from(_FTS).where(
        _Hit(FIELDS[field], grams, prefix, workspace_id))


def check(field: str, value: str) -> ColumnElement[bool] | None:
    """What a row of `ids(field, value)` must pass as well to match: None when the set is exact on
    both databases (a `text ~` query of one gram or one character, or an empty one); else the
    definition applied to the row's stored JSON on SQLite (nothing on PostgreSQL, whose set is
    exact: the element compiles to true there)."""
    grams, prefix = tt.query_grams(value)
    if not grams or (field == "text" and len(grams) == 1):
        return None
    return _Check(_WHICH[field], tt.normal(value))


_WHICH = {"input": 1, "output": 2, "text": 3}  # promptyard_has_text's fields: a bit each


def has_text(inp: bytes | str | None, out: bytes | str | None, which: int, query: str) -> int:
    """SQLite's `promptyard_has_text(input, output, which, query)` (store/db registers it): 1 when
    the normalised `query` is in the text of a stored field that `which` names (its bits: 1 input,
    2 output): text_tokens.matches on what the index was made from."""
    return int(any(query in tt.normal(text_of(unpack(v))) for bit, v in ((1, inp), (2, out)) if which & bit))


class _Check(ColumnElement[bool]):
    type = Boolean()
    _is_implicitly_boolean = True
    inherit_cache = False  # holds plain values

    def __init__(self, which: int, query: str):
        self.which, self.query = which, query


@compiles(_Check, "postgresql")
def _pg_check(element: _Check, compiler, **kw):  # noqa: ANN001, ANN202
    return "true"


@compiles(_Check)
def _sqlite_check(element: _Check, compiler, **kw):  # noqa: ANN001, ANN202
    table = Request.__table__
    call = func.promptyard_has_text(table.c.input, table.c.output,
                                    bindparam("which", element.which, type_=Integer, unique=True),
                                    bindparam("needle", element.query, type_=String, unique=True), type_=Boolean)
    return compiler.process(call, **kw)


_FTS = table("request_fts")


class _Id(ColumnElement[int]):
    """The request id of an index row: `rowid` on SQLite, `request_id` on PostgreSQL."""

    type = BigInteger()
    inherit_cache = True


@compiles(_Id, "postgresql")
def _pg_id(element: _Id, compiler, **kw):  # noqa: ANN001, ANN202
    return "request_fts.request_id"


@compiles(_Id)
def _sqlite_id(element: _Id, compiler, **kw):  # noqa: ANN001, ANN202
    return "request_fts.rowid"


class _Hit(ColumnElement[bool]):
    type = Boolean()
    _is_implicitly_boolean = True  # a comparison already: SQLite must not get `MATCH ... = 1`
    inherit_cache = False  # holds plain values: statements with it are not cached

    def __init__(self, cols: tuple[str, ...], grams: list[str], prefix: bool, workspace_id: int | None):
        self.cols, self.grams, self.prefix, self.workspace_id = cols, grams, prefix, workspace_id


@compiles(_Hit, "postgresql")
def _pg_hit(element: _Hit, compiler, **kw):  # noqa: ANN001, ANN202
    q = cast(bindparam("tsq", _pg_query(element.grams, element.prefix), type_=String, unique=True), TSQUERY)
    hit = or_(*(column(c).op("@@")(q) for c in element.cols))
    if element.workspace_id is not None:
        hit = and_(hit, column("workspace_id") == element.workspace_id)
    return compiler.process(hit, **kw)


@compiles(_Hit)
def _sqlite_hit(element: _Hit, compiler, **kw):  # noqa: ANN001, ANN202
    match = bindparam("fts", _fts_query(element.grams, element.prefix), unique=True)
    return compiler.process(literal_column("request_fts").op("MATCH")(match), **kw)


# --- writing -----------------------------------------------------------------------------------

Texts = tuple[int, int, str, str]  # (request id, workspace id, input text, output text)


def add(session: Session, rows: Iterable[Texts]) -> None:
    """Index these requests' texts (just inserted, or changed after `remove`)."""
    dialect = session.connection().dialect.name
    add_entries(session, [(rid, ws, entry(dialect, inp, out)) for rid, ws, inp, out in rows])


def entry(dialect: str, inp: str, out: str, memo: dict[str, str] | None = None) -> Any:
    """What the index keeps of a request's input and output texts, in `dialect`'s form ("sqlite" |
    "postgresql"): made before the write transaction by ingest (services/request_ingest.prepare).
    `memo`: SQLite's words of texts seen before (a prompt run over a dataset repeats its texts)."""
    if dialect == "postgresql":
        return _pg_chunks(inp, out)
    if memo is None:
        return fts_words(inp, out)

    def of(text: str) -> str:
        found = memo.get(text)
        if found is None:
            found = memo[text] = text_words(text)
        return found
    return fts_words(inp, out, words_of=of)


def add_entries(session: Session, rows: Iterable[tuple[int, int, Any]]) -> None:
    """Index these requests: (request id, workspace id, `entry` of its texts)."""
    rows = list(rows)
    if not rows:
        return
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        chunks = [(rid, n, ws, i, o) for rid, ws, entry in rows for n, (i, o) in enumerate(entry)]
        cursor = conn.connection.driver_connection.cursor()
        try:
            bulk.execute_pg(cursor, "INSERT INTO request_fts (request_id, chunk, workspace_id, input, output) SELECT * "
                            "FROM unnest(%s::bigint[], %s::int[], %s::int[], %s::text[]::tsvector[], %s::text[]::tsvector[])",
                            [list(column) for column in zip(*chunks)])
        finally:
            cursor.close()
        return
    _fts_rows(conn, "INSERT INTO request_fts (rowid, words) VALUES (?, ?)", [(rid, words) for rid, _, words in rows])


def remove(session: Session, rows: Iterable[Texts]) -> None:
    """Forget these requests' index rows; each with the texts it was indexed with (SQLite needs
    them; on PostgreSQL the rows go by id, and with their request anyway)."""
    rows = list(rows)
    if not rows:
        return
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text("DELETE FROM request_fts WHERE request_id = ANY(CAST(:ids AS bigint[]))"),
                     {"ids": [rid for rid, *_ in rows]})
        return
    memo: dict[str, str] = {}
    _fts_rows(conn, "INSERT INTO request_fts (request_fts, rowid, words) VALUES ('delete', ?, ?)",
              [(rid, entry("sqlite", inp, out, memo)) for rid, _, inp, out in rows])


def _fts_rows(conn: Connection, sql: str, rows: list[tuple[int, str]]) -> None:
    """SQLite: `sql` for each (request id, words), through the driver's executemany (no per-row overhead)."""
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.executemany(sql, rows)
    finally:
        cursor.close()


def stored_logs(cursor: Any, batch: int = 2000) -> Iterator[list[tuple[int, Any, Any]]]:
    """SQLite, through the driver's `cursor`: every stored log's (id, input, output) JSON values, a
    batch at a time in id order (for the migrations that write the index anew)."""
    after = 0
    while True:
        rows = cursor.execute("SELECT id, input, output FROM requests WHERE id > ? ORDER BY id LIMIT ?",
                              (after, batch)).fetchall()
        if not rows:
            return
        yield [(rid, unpack(inp), unpack(out)) for rid, inp, out in rows]
        after = rows[-1][0]


# --- erasure from SQLite's index ------------------------------------------------------------------
# A contentless FTS5 table forgets a row by writing a delete marker for each of its words into a new
# segment: the row's words stay in the older segments (its text could be read back from them) until
# a merge takes those segments together with the markers' (SQLite 3.40 has no secure-delete for
# FTS5). `optimize` does that in one statement that holds the write lock throughout (~18 s at a
# million logs); `merge` with a negative page count does the same merge of every segment into one,
# in steps that write about that many pages each, every step its own transaction: writers wait for
# one step at most. store/db.reclaim runs the steps until the segments that were there at the
# erasure are gone (merged away), within a time budget per call, and goes on at the next.
MERGE_PAGES = 200
_STRUCTURE = 10  # the rowid of the index's structure record in request_fts_data


def segments(cursor: Any) -> set[int]:
    """SQLite: the ids of the index's segments now, read from its structure record (4-byte cookie,
    varints: levels, segments, write counter; per level: merging, segments, then each segment's id,
    first and last page)."""
    row = cursor.execute("SELECT block FROM request_fts_data WHERE id = ?", (_STRUCTURE,)).fetchone()
    if row is None:
        return set()
    block, at = row[0], 4
    levels, at = _varint(block, at)
    _, at = _varint(block, at)
    _, at = _varint(block, at)
    found = set()
    for _ in range(levels):
        _, at = _varint(block, at)
        count, at = _varint(block, at)
        for _ in range(count):
            segment, at = _varint(block, at)
            _, at = _varint(block, at)
            _, at = _varint(block, at)
            found.add(segment)
    return found


def _varint(block: bytes, at: int) -> tuple[int, int]:
    """SQLite's varint: 7 bits a byte, high bit set while more follow; a ninth byte gives 8 bits."""
    value = 0
    for k in range(8):
        byte = block[at + k]
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, at + k + 1
    return (value << 8) | block[at + 8], at + 9


def merge_away(cursor: Any, waiting: set[int], budget_s: float | None) -> set[int]:
    """SQLite, outside a transaction: merge steps until none of the `waiting` segments is left, or
    `budget_s` seconds have passed (None: until done); those still there. (One segment alone holds
    no deleted row's words: the merge that made it dropped them.)"""
    deadline = None if budget_s is None else time.monotonic() + budget_s
    while True:
        now = segments(cursor)
        waiting = waiting & now if len(now) > 1 else set()
        if not waiting or (deadline is not None and time.monotonic() > deadline):
            return waiting
        cursor.execute("INSERT INTO request_fts (request_fts, rank) VALUES ('merge', ?)", (-MERGE_PAGES,))


# --- the two encodings ---------------------------------------------------------------------------
# SQLite: a gram is one word of FTS5's `ascii` tokenizer, which keeps a-z, 0-9 and every non-ASCII
# character inside words (and folds A-Z). Each character has a code, prefix-free so that a word
# reads back as exactly one gram: a-z, 0-9 and non-ASCII characters stand for themselves (`用量`
# is the word `用量`); any other ASCII character (space, punctuation, a capital that normalisation
# might leave) moves to U+E000 + its code; the private characters U+E000-U+E100 and lone surrogates
# are written U+E100 and four hex digits. A gram's word is its characters' codes; the last
# position's single character is a word of one code.

_ESCAPE = "\ue100"


class _Codes(dict):
    """Each character's code, worked out once (a dict lookup per character at ingest)."""

    def __missing__(self, ch: str) -> str:
        o = ord(ch)
        if o < 128:
            code = ch if "a" <= ch <= "z" or "0" <= ch <= "9" else chr(0xE000 + o)
        elif 0xE000 <= o <= 0xE100 or 0xD800 <= o <= 0xDFFF:
            code = f"{_ESCAPE}{o:04x}"
        else:
            code = ch
        self[ch] = code
        return code


_CODES = _Codes()


def fts_words(*texts: str, words_of: Callable[[str], str] | None = None) -> str:
    """SQLite's words of a request: its texts' (`text_words`) one after the other. The index keeps
    each word once per request (no positions): FTS5 drops the repeats itself, cheaper than a set."""
    return " ".join(words for words in map(words_of or text_words, texts) if words)


def text_words(raw: str) -> str:
    """The words of one text: its grams' (domain/text_tokens.grams) at their positions,
    space-separated (also the per-column words of migrations 0008-0019's index, which had positions)."""
    codes = list(map(_CODES.__getitem__, tt.normal(raw)))
    if not codes:
        return ""
    out = [" "] * (3 * len(codes) - 1)  # code, next code, space, ...: half the time of a join of pairs
    out[0::3] = codes
    out[1::3] = codes[1:] + [""]  # the last position: its character alone
    return "".join(out)


def _word(gram: str) -> str:
    return "".join(_CODES[ch] for ch in gram)


def _fts_query(grams: list[str], prefix: bool) -> str:
    """Every gram's word (implicit AND; FTS5 without positions has no phrases), or a prefix."""
    if prefix:
        return f'"{_word(grams[0])}" *'
    return " ".join(f'"{_word(g)}"' for g in dict.fromkeys(grams))


def _lexeme(gram: str) -> str:
    if "'" not in gram and "\\" not in gram:
        return f"'{gram}'"
    return "'" + gram.replace("\\", "\\\\").replace("'", "''") + "'"


_POSITIONS = [f"':{pos} '" for pos in range(1, tt.CHUNK + 1)]  # what follows the gram at each position


def _pg_vector(grams: list[str]) -> str:
    """A tsvector literal: each gram with its position (from 1), `'ab':1 'bc':2 'ab':3`; PostgreSQL merges a
    gram's positions as it reads it (`'ab':1,3`), which took Python a third of a chat log's preparation."""
    if not grams:
        return ""
    if any("'" in g or "\\" in g for g in grams):
        grams = [_lexeme(g)[1:-1] for g in grams]
    return "'" + "".join(map(str.__add__, grams, _POSITIONS))[:-2]


def _pg_chunks(inp: str, out: str) -> list[tuple[str, str]]:
    ins, outs = tt.chunks(tt.normal(inp)), tt.chunks(tt.normal(out))
    n = max(len(ins), len(outs))
    ins, outs = ins + [[]] * (n - len(ins)), outs + [[]] * (n - len(outs))
    return [(_pg_vector(i), _pg_vector(o)) for i, o in zip(ins, outs)]


def _pg_query(grams: list[str], prefix: bool) -> str:
    if prefix:
        return f"{_lexeme(grams[0])}:*"
    return " <-> ".join(_lexeme(g) for g in grams)
