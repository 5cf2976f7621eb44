"""Filter AST (domain/query.py) -> SQLAlchemy WHERE clause over `requests`.

Values only ever travel as bound parameters; LIKE patterns are escaped."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, false, not_, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from promptyard.domain.query import And, Cond, Node, Not, Or, resolve_time
from promptyard.store.models import Request, RequestMetadata, RequestTag, Score

COLUMNS = {
    "prompt": Request.prompt_name, "label": Request.label, "model": Request.model, "provider": Request.provider,
    "group": Request.group_id, "status": Request.status, "version": Request.version_number,
    "latency": Request.latency_ms, "tokens": Request.total_tokens, "input_tokens": Request.input_tokens,
    "output_tokens": Request.output_tokens, "cost": Request.cost, "time": Request.start_time,
}


def where(node: Node | None, now: datetime) -> ColumnElement[bool]:
    if node is None:
        return true()
    if isinstance(node, And):
        return and_(*(where(i, now) for i in node.items))
    if isinstance(node, Or):
        return or_(*(where(i, now) for i in node.items))
    if isinstance(node, Not):
        return not_(where(node.item, now))
    return _cond(node, now)


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
    if op == "~":
        return col.contains(value, autoescape=True)
    if op == "in":
        return col.in_(list(value))
    if op == "not_in":
        return or_(col.not_in(list(value)), col.is_(None))
    if op == "exists":
        return col.is_not(None)
    if op == "missing":
        return col.is_(None)
    raise ValueError(op)


def _cond(c: Cond, now: datetime) -> ColumnElement[bool]:
    if c.field == "metadata":
        return _keyed(RequestMetadata, RequestMetadata.key == c.key, RequestMetadata.value, c)
    if c.field == "score":
        return _keyed(Score, Score.name == c.key, Score.value, c)
    if c.field == "tag":
        return _tag(c)
    if c.field in ("text", "input", "output"):
        cols = {"text": (Request.input_text, Request.output_text), "input": (Request.input_text,),
                "output": (Request.output_text,)}[c.field]
        return or_(*(col.contains(c.value, autoescape=True) for col in cols))
    if c.field == "id":
        values = c.value if isinstance(c.value, tuple) else (c.value,)
        ints = [int(v) for v in values if v.isdigit() and len(v) < 16]
        return or_(Request.client_id.in_(values), Request.id.in_(ints) if ints else false())
    value = resolve_time(c.value, now) if c.field == "time" else c.value
    return _compare(COLUMNS[c.field], c.op, value)


def _keyed(model: Any, key_match: Any, value_col: Any, c: Cond) -> ColumnElement[bool]:
    """metadata.<key> / score.<name>: a correlated EXISTS, so the time-ordered scan of requests
    stops at the first page instead of joining everything."""
    base = select(1).where(model.request_id == Request.id, key_match)
    if c.op == "missing":
        return ~exists(base)
    if c.op == "exists":
        return exists(base)
    if c.op in ("!=", "not_in"):  # missing counts as "not equal"
        positive = "=" if c.op == "!=" else "in"
        return ~exists(base.where(_compare(value_col, positive, c.value)))
    return exists(base.where(_compare(value_col, c.op, c.value)))


def _tag(c: Cond) -> ColumnElement[bool]:
    base = select(1).where(RequestTag.request_id == Request.id)
    if c.op == "exists":
        return exists(base)
    if c.op == "missing":
        return ~exists(base)
    values = list(c.value) if isinstance(c.value, tuple) else [c.value]
    has = exists(base.where(RequestTag.tag.in_(values)))
    return has if c.op in ("=", "in") else ~has
