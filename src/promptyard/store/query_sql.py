"""Filter AST (domain/query.py) -> SQLAlchemy WHERE clause over `requests`.

Values only ever travel as bound parameters; LIKE patterns are escaped."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, Select, String, and_, bindparam, exists, false, not_, or_, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from promptyard.domain.numbers import ROW_ID_MAX, ascii_int
from promptyard.domain.query import TRACE_FIELDS, And, Cond, Node, Not, Or, resolve_time
from promptyard.store import text_search
from promptyard.store.models import Request, RequestMetadata, RequestTag, Score, Span, Trace

COLUMNS = {
    "prompt": Request.prompt_name, "label": Request.label, "model": Request.model, "provider": Request.provider,
    "group": Request.group_id, "status": Request.status, "version": Request.version_number,
    "latency": Request.latency_ms, "tokens": Request.total_tokens, "input_tokens": Request.input_tokens,
    "output_tokens": Request.output_tokens, "cost": Request.cost, "time": Request.start_time,
    "prompt_id": Request.prompt_id,
}


def where(node: Node | None, now: datetime, *, sets_of: int | None = None) -> ColumnElement[bool]:
    """The WHERE clause for `node`. Metadata, score and tag conditions are correlated EXISTS by
    default: a time-ordered page stops after its first matches. Aggregates visit every match, so
    they pass `sets_of=<workspace id>` to get `id IN (<index range of that workspace>)` instead,
    which the database can drive from the smallest matching set (20 s -> about 1 s for two
    metadata conditions over a million logs on SQLite)."""
    if node is None:
        return true()
    if isinstance(node, And):
        return and_(*(where(i, now, sets_of=sets_of) for i in node.items))
    if isinstance(node, Or):
        return or_(*(where(i, now, sets_of=sets_of) for i in node.items))
    if isinstance(node, Not):
        return not_(where(node.item, now, sets_of=sets_of))
    return _cond(node, now, sets_of)


def _compare(col: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "=":
        return col == value
    if op == "!=":
        return or_(col != value, col.is_(None))
    if op == "<":
        return col < value
    if op == "<=":
        return col <= value
    if op == ">":
        return col > value
    if op == ">=":
        return col >= value
    if op == "~":  # case-insensitive on both databases (SQLite's LIKE alone ignores ASCII case only)
        return col.icontains(value, autoescape=True)
    if op == "in":
        return col.in_(list(value))
    if op == "not_in":
        return or_(col.not_in(list(value)), col.is_(None))
    if op == "exists":
        return col.is_not(None)
    if op == "missing":
        return col.is_(None)
    raise ValueError(op)


def _cond(c: Cond, now: datetime, sets_of: int | None) -> ColumnElement[bool]:
    rows = _child_rows(c)
    if rows is not None:
        model, conds, negated = rows
        has = _has(model, sets_of, *conds)
        return ~has if negated else has
    if c.field in ("text", "input", "output"):
        return text_search.condition(c.field, c.value)  # an id set from the text index
    if c.field in TRACE_FIELDS:
        return _trace_cond(c, sets_of)
    if c.field == "id":
        values = c.value if isinstance(c.value, tuple) else (c.value,)
        ints = [n for n in (ascii_int(v, hi=ROW_ID_MAX) for v in values) if n is not None]
        return or_(Request.client_id.in_(values), Request.id.in_(ints) if ints else false())
    value = resolve_time(c.value, now) if c.field == "time" else c.value
    return _compare(COLUMNS[c.field], c.op, value)


def index_set(c: Cond, workspace_id: int) -> Select | None:
    """The ids of the workspace's requests that match `c`, read from the index of its child rows
    (metadata, scores, tags), for a condition that a child row satisfies; None for any other
    (a column, text, or a negated one such as `!=`, which missing rows also satisfy). It may
    hold an id twice (a request with two matching tags). store/query_plan.py drives pages by it."""
    rows = _child_rows(c)
    if rows is None or rows[2]:
        return None
    return _ids(rows[0], workspace_id, rows[1])


def _ids(model: Any, workspace_id: int, conds: list[Any]) -> Select:
    return select(model.request_id).where(model.workspace_id == workspace_id, *conds)


def _has(model: Any, sets_of: int | None, *conds: Any) -> ColumnElement[bool]:
    """Some row of `model` (metadata, score, tag) of the request matches `conds`."""
    if sets_of is None:
        return exists(select(1).where(model.request_id == Request.id, *conds))
    return Request.id.in_(_ids(model, sets_of, list(conds)))


def _child_rows(c: Cond) -> tuple[Any, list[Any], bool] | None:
    """(model, conditions on its rows, negated) for a metadata, score or tag condition: the
    request matches when some row matches (or, negated, when none does). None for the rest."""
    if c.field == "tag":
        if c.op in ("exists", "missing"):
            return RequestTag, [], c.op == "missing"
        values = list(c.value) if isinstance(c.value, tuple) else [c.value]
        return RequestTag, [RequestTag.tag.in_(values)], c.op not in ("=", "in")
    if c.field == "metadata":
        model, key_match, value_col = RequestMetadata, RequestMetadata.key == c.key, RequestMetadata.value
    elif c.field == "score":
        model, key_match, value_col = Score, Score.name == c.key, Score.value
    else:
        return None
    if c.op in ("exists", "missing"):
        return model, [key_match], c.op == "missing"
    if c.op in ("!=", "not_in"):  # missing counts as "not equal"
        return model, [key_match, _compare(value_col, "=" if c.op == "!=" else "in", c.value)], True
    return model, [key_match, _compare(value_col, c.op, c.value)], False


# --- conditions on the request's trace (OTLP spans, services/otlp_ingest.py) --------------------

_POSITIVE = {"!=": "=", "not_in": "in", "missing": "exists"}  # a negated condition: NOT (its positive one)


def _trace_cond(c: Cond, sets_of: int | None) -> ColumnElement[bool]:
    """A request matches through its own span (`trace_id`, `span_id`) or some span of its trace
    (`trace.name`: the root span, `span.name`, `span.attr.<key>`); a negated condition matches
    when none does, so a request without a span matches `trace_id != ...` and `span_id missing`."""
    op = _POSITIVE.get(c.op, c.op)
    own = aliased(Span, name="own_span")
    q, preds = _span_rows(c, op, own)
    if sets_of is None:
        has = exists(q.where(own.request_id == Request.id, *preds))
    else:
        has = Request.id.in_(q.where(own.workspace_id == sets_of, own.request_id.is_not(None), *preds))
    return ~has if op != c.op else has


def _span_rows(c: Cond, op: str, own: Any) -> tuple[Select, list[ColumnElement[bool]]]:
    """The spans to look at for `c` (from the request's own span `own`) and what one must satisfy."""
    q = select(own.request_id)
    if c.field == "trace_id":
        q = q.join(Trace, Trace.id == own.trace_row)
        return q, [] if op == "exists" else [_compare(Trace.trace_id, op, c.value)]
    if c.field == "span_id":
        return q, [] if op == "exists" else [_compare(own.span_id, op, c.value)]
    other = aliased(Span, name="trace_span")
    q = q.join(other, other.trace_row == own.trace_row)
    if c.field == "trace.name":
        return q, [other.parent_id.is_(None)] + ([] if op == "exists" else [_compare(other.name, op, c.value)])
    if c.field == "span.name":
        return q, [_compare(other.name, op, c.value)]
    return q, [_attribute(other.attributes, c.key, op, c.value)]


def _attribute(col: Any, key: str, op: str, value: Any) -> ColumnElement[bool]:
    """A span attribute compared as its JSON type: numbers with numbers, text with text (a number
    never equals its digits as text); `exists` for any value, booleans and lists included."""
    if op == "exists":
        return json_attribute(col, key, "type").is_not(None)
    values = value if isinstance(value, tuple) else (value,)
    texts = [v for v in values if isinstance(v, str)]
    numbers = [v for v in values if not isinstance(v, str)]
    if op == "in":
        return or_(*([json_attribute(col, key, "text").in_(texts)] if texts else []),
                   *([json_attribute(col, key, "number").in_(numbers)] if numbers else []))
    return _compare(json_attribute(col, key, "text" if isinstance(value, str) else "number"), op, value)


def trace_index_set(c: Cond, workspace_id: int) -> Select | None:
    """The ids of the workspace's requests whose span is in the trace(s) of a `trace_id =` / `in`
    condition, read from the traces' (workspace_id, trace_id) and the spans' (trace_row, span_id)
    indexes; None for any other condition. store/query_plan.py drives pages by it."""
    if c.field != "trace_id" or c.op not in ("=", "in"):
        return None
    values = list(c.value) if isinstance(c.value, tuple) else [c.value]
    return (select(Span.request_id).join(Trace, Trace.id == Span.trace_row)
            .where(Trace.workspace_id == workspace_id, Trace.trace_id.in_(values), Span.request_id.is_not(None)))


class json_attribute(ColumnElement[Any]):
    """One key of a JSON object column, by its JSON type: `number` (a float, else NULL), `text`
    (a string, else NULL) or `type` (the value's JSON type, NULL when the key is absent). The key
    is a bound parameter on both databases: any key (dots, quotes) is one key, never a path."""

    inherit_cache = False  # holds plain values

    def __init__(self, col: Any, key: str, kind: str):
        self.col, self.key, self.kind = col, key, kind
        self.type = {"number": Float(), "text": String(), "type": String()}[kind]


@compiles(json_attribute, "postgresql")
def _pg_attribute(element: json_attribute, compiler, **kw):  # noqa: ANN001, ANN202
    col, key = compiler.process(element.col, **kw), compiler.process(bindparam("attr_key", element.key,
                                                                               type_=String, unique=True), **kw)
    item = f"({col} -> CAST({key} AS TEXT))"
    if element.kind == "type":
        return f"jsonb_typeof({item})"
    wanted, value = ("number", f"CAST({col} ->> CAST({key} AS TEXT) AS DOUBLE PRECISION)") \
        if element.kind == "number" else ("string", f"({col} ->> CAST({key} AS TEXT))")
    return f"(CASE WHEN jsonb_typeof({item}) = '{wanted}' THEN {value} END)"


@compiles(json_attribute)
def _sqlite_attribute(element: json_attribute, compiler, **kw):  # noqa: ANN001, ANN202
    col, key = compiler.process(element.col, **kw), compiler.process(bindparam("attr_key", element.key,
                                                                               type_=String, unique=True), **kw)
    picked = {"type": "type", "number": "CASE WHEN type IN ('integer', 'real') THEN value END",
              "text": "CASE WHEN type = 'text' THEN value END"}[element.kind]
    return f"(SELECT {picked} FROM json_each({col}) WHERE key = {key})"
