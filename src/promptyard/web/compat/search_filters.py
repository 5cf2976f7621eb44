"""PromptLayer's request search (`POST /api/public/v2/requests/search`) in our filter language
(pure translation): a `filter_group` {logic: AND|OR, filters: [filter | group]} with filters
{field, operator, value, nested_key?} becomes a domain/query.py tree, so searching means the same
thing (and is planned the same way) on every surface. What has no meaning here is refused with a
400 naming it, never ignored: a search that silently dropped a condition would answer wrongly.

Extensions of ours, beyond PromptLayer's field list: `scores` (with `nested_key` = the score's
name, PromptLayer's UI filters by score), `trace_id`, and `span_attribute` (`nested_key` = the
attribute) for conditions on the request's trace."""

from __future__ import annotations

import re
from typing import Any, Callable

from promptyard.domain import query
from promptyard.domain.query import And, Cond, Node, Not, Or
from promptyard.errors import InvalidInput

MAX_PER_PAGE = 25
# PromptLayer field -> (our field, kind); the kind says which operators it takes (_OPS).
FIELDS: dict[str, tuple[str, str]] = {
    "pl_id": ("id", "id"), "prompt_id": ("prompt_id", "ref"), "engine": ("model", "str"),
    "provider_type": ("provider", "str"), "input_text": ("input", "text"), "output_text": ("output", "text"),
    "prompt_version_number": ("version", "num"), "input_tokens": ("input_tokens", "num"),
    "output_tokens": ("output_tokens", "num"), "cost": ("cost", "num"), "latency_ms": ("latency", "num"),
    "request_start_time": ("time", "time"), "status": ("status", "status"), "tags": ("tag", "tag"),
    "metadata_keys": ("metadata", "keys"), "metadata": ("metadata", "keyed"), "scores": ("score", "score"),
    "trace_id": ("trace_id", "hex"), "span_attribute": ("span.attr", "attr"),
}
UNSUPPORTED = ("request_end_time", "is_json", "is_tool_call", "is_plain_text", "tool_names", "output",
               "output_keys", "input_variables", "input_variable_keys")
KEYED = ("metadata", "scores", "span_attribute")  # need `nested_key`
# PromptLayer sort_by -> ours (services/request_reads.SORTS)
SORTS = {"request_start_time": "time", "input_tokens": "input_tokens", "output_tokens": "output_tokens",
         "cost": "cost", "latency_ms": "latency", "status": "status"}
_STATUS = {"SUCCESS": "ok", "WARNING": "ok", "ERROR": "error", "ok": "ok", "error": "error"}
_SAME = {"is": "=", "eq": "=", "is_not": "!=", "neq": "!=", "in": "in", "not_in": "not_in",
         "gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "before": "<", "after": ">",
         "contains": "~", "key_equals": "=", "key_not_equals": "!=", "key_contains": "~",
         "is_null": "missing", "is_empty": "missing", "is_not_null": "exists", "is_not_empty": "exists"}
_EQUALITY = ("is", "eq", "is_not", "neq", "in", "not_in")
_PRESENCE = ("is_null", "is_empty", "is_not_null", "is_not_empty")
_ORDER = ("gt", "gte", "lt", "lte", "between")
_OPS = {
    "id": ("is", "eq", "is_not", "neq", "in", "not_in"),
    "ref": _EQUALITY + _PRESENCE,
    "hex": _EQUALITY + _PRESENCE,
    "score": ("is", "eq", "is_not", "neq") + _PRESENCE + _ORDER,
    "str": _EQUALITY + _PRESENCE + ("contains", "not_contains"),
    "text": ("contains", "not_contains"),
    "num": _EQUALITY + _PRESENCE + _ORDER,
    "time": ("gt", "gte", "lt", "lte", "between", "before", "after"),
    "status": _EQUALITY,
    "tag": _EQUALITY + _PRESENCE + ("contains", "not_contains"),
    "keys": ("is", "eq", "contains", "in", "is_not", "neq", "not_contains", "not_in"),
    "keyed": _EQUALITY + _PRESENCE + ("contains", "not_contains", "key_equals", "key_not_equals", "key_contains"),
    "attr": _EQUALITY + _PRESENCE + _ORDER + ("contains", "not_contains"),
}
MAX_FILTERS = query.MAX_CONDS


def search_filter(body: dict[str, Any]) -> Node | None:
    """The body's `filter_group` and free text `q` (a text condition, AND-ed) as one filter."""
    counter = [0]
    group = body.get("filter_group")
    node = None if group is None else _group(group, "filter_group", 0, counter)
    q = body.get("q")
    if q is not None and not isinstance(q, str):
        raise InvalidInput("errors.compat_reads.q_text")
    text = query.check(Cond("text", None, "~", q), path="q") if q and q.strip() else None
    items = tuple(n for n in (node, text) if n is not None)
    return None if not items else items[0] if len(items) == 1 else And(items)


def _group(group: Any, path: str, depth: int, counter: list[int]) -> Node | None:
    if not isinstance(group, dict) or not isinstance(group.get("filters"), list):
        raise InvalidInput("errors.compat_reads.group_shape", path=path)
    if depth > query.MAX_DEPTH:
        raise InvalidInput("errors.compat_reads.too_deep", path=path, n=query.MAX_DEPTH)
    logic = str(group.get("logic") or "AND").upper()
    if logic not in ("AND", "OR"):
        raise InvalidInput("errors.compat_reads.logic", path=path, logic=str(group.get("logic"))[:40])
    items = []
    for i, item in enumerate(group["filters"]):
        where = f"{path}.filters[{i}]"
        if isinstance(item, dict) and "filters" in item:
            node = _group(item, where, depth + 1, counter)
        else:
            counter[0] += 1
            if counter[0] > MAX_FILTERS:
                raise InvalidInput("errors.compat_reads.too_many", n=MAX_FILTERS)
            node = _filter(item, where)
        if node is not None:
            items.append(node)
    if not items:
        return None
    return items[0] if len(items) == 1 else (And if logic == "AND" else Or)(tuple(items))


def _filter(f: Any, path: str) -> Node:
    if not isinstance(f, dict) or not isinstance(f.get("field"), str) or not isinstance(f.get("operator"), str):
        raise InvalidInput("errors.compat_reads.filter_shape", path=path)
    name, op = f["field"], f["operator"]
    if name in UNSUPPORTED or name not in FIELDS:
        raise InvalidInput("errors.compat_reads.field", path=path, field=name[:60],
                           fields=", ".join(FIELDS))
    ours, kind = FIELDS[name]
    if op not in _OPS[kind]:
        raise InvalidInput("errors.compat_reads.operator", path=path, field=name, operator=op[:40],
                           operators=", ".join(_OPS[kind]))
    key = f.get("nested_key")
    if name in KEYED and (not isinstance(key, str) or not key):
        raise InvalidInput("errors.compat_reads.nested_key", path=path, field=name)
    try:
        return _translated(ours, kind, key if name in KEYED else None, op, f.get("value"))
    except query.FilterSyntaxError as exc:  # a value of the wrong type, in our words
        raise InvalidInput("errors.compat_reads.value", path=path, field=name, operator=op,
                           problem=exc.message) from None


def _translated(field: str, kind: str, key: str | None, op: str, value: Any) -> Node:
    if kind == "keys":  # metadata_keys: the request has (or has not) these keys
        keys = value if isinstance(value, list) else [value]
        if not keys or not all(isinstance(k, str) and k for k in keys):
            raise query.FilterSyntaxError("errors.compat_reads.needs_metadata_keys")
        has = [query.check(Cond("metadata", k, "exists")) for k in keys]
        node = has[0] if len(has) == 1 else Or(tuple(has))
        return node if op in ("is", "eq", "contains", "in") else Not(node)
    convert = _converter(kind)
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise query.FilterSyntaxError("errors.compat_reads.between_two_values")
        low, high = (convert(v) for v in value)
        return And((query.check(Cond(field, key, ">=", low)), query.check(Cond(field, key, "<=", high))))
    if kind == "tag" and op in ("contains", "not_contains"):  # a tag list contains a tag: has it
        return query.check(Cond(field, key, "=" if op == "contains" else "!=", convert(value)))
    if op == "not_contains":
        return Not(query.check(Cond(field, key, "~", convert(value))))
    ours = _SAME[op]
    if ours in ("exists", "missing"):
        return query.check(Cond(field, key, ours))
    if ours in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise query.FilterSyntaxError("errors.compat_reads.needs_non_empty_list", op=op)
        values = tuple(convert(v) for v in value)
        if field in ("id", "status") and ours == "not_in":  # no `not in` of their own: NOT (in)
            return Not(query.check(Cond(field, key, "in", values)))
        return query.check(Cond(field, key, ours, values))
    if field in ("id", "status") and ours == "!=":
        return Not(query.check(Cond(field, key, "=", convert(value))))
    return query.check(Cond(field, key, ours, convert(value)))


def _converter(kind: str) -> Callable[[Any], Any]:
    """PromptLayer sends ids and numbers as JSON numbers or numeric strings, statuses in capitals."""
    if kind == "id":
        return lambda v: str(v) if isinstance(v, int) and not isinstance(v, bool) else v
    if kind in ("num", "ref", "score"):
        return _number
    if kind == "status":
        return lambda v: _STATUS.get(v, v) if isinstance(v, str) else v
    return lambda v: v


def _number(v: Any) -> Any:
    if isinstance(v, str) and re.fullmatch(r"-?\d+(\.\d+)?", v.strip()):
        return float(v) if "." in v else int(v)
    return v


def paging(body: dict[str, Any]) -> tuple[str, bool, int, int]:
    """(our sort key, descending, page, per_page) from the body, PromptLayer's defaults: newest
    first, page 1, 10 a page, at most 25."""
    sort_by = body.get("sort_by") or "request_start_time"
    if sort_by not in SORTS:
        raise InvalidInput("errors.compat_reads.sort_by", value=str(sort_by)[:40], sorts=", ".join(SORTS))
    order = str(body.get("sort_order") or "desc").lower()
    if order not in ("asc", "desc"):
        raise InvalidInput("errors.compat_reads.sort_order", value=order[:40])
    page, per_page = body.get("page", 1), body.get("per_page", 10)
    page, per_page = _number(page), _number(per_page)
    if isinstance(page, bool) or not isinstance(page, int) or not 1 <= page <= 1_000_000:
        raise InvalidInput("errors.compat_reads.page")
    if isinstance(per_page, bool) or not isinstance(per_page, int) or not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInput("errors.compat_reads.per_page", n=MAX_PER_PAGE)
    return SORTS[sort_by], order == "desc", page, per_page
