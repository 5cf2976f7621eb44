"""OTLP's JSON encoding of a trace export request read into span records (pure; domain/otlp.py
holds the records and the protobuf form).

Read directly rather than through protobuf's JSON parser, which is pure Python and cost 618 ms per
512 spans against 49 ms for the protobuf body (docs/benchmarks.md). The rules are OTLP's JSON mapping:
lowerCamelCase names (the proto's snake_case names are accepted too, as protobuf's parser accepts
them), trace and span ids as hex, 64-bit integers as JSON numbers or decimal strings, enums as
numbers or their names, bytes as base64, unknown fields ignored. A value of the wrong type is a 400
that names its field."""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any

from promptyard.domain.span_records import KINDS, MAX_VALUE_DEPTH, STATUSES, Budget, Span
from promptyard.errors import InvalidInput

MAX_U64 = 2**64 - 1
_KINDS = {"SPAN_KIND_UNSPECIFIED": 0, "SPAN_KIND_INTERNAL": 1, "SPAN_KIND_SERVER": 2, "SPAN_KIND_CLIENT": 3,
          "SPAN_KIND_PRODUCER": 4, "SPAN_KIND_CONSUMER": 5}
_STATUS_CODES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}


def spans(body: bytes, budget: Budget) -> list[Span]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidInput("errors.traces.body_valid_json", exc=exc) from None
    out = []
    for rs in _list(_obj(data, "body"), "resourceSpans", "resource_spans"):
        resource = _attributes(_obj(_field(rs, "resource") or {}, "resource"), "resource.attributes", budget)
        for ss in _list(rs, "scopeSpans", "scope_spans"):
            scope = _text(_obj(_field(ss, "scope") or {}, "scope"), "name", "scope.name")
            for s in _list(ss, "spans"):
                events = _list(s, "events")
                budget.take(1 + len(events))
                status = _obj(_field(s, "status") or {}, "status")
                parent = _field(s, "parentSpanId", "parent_span_id")
                out.append(Span(
                    trace_id=_id(_field(s, "traceId", "trace_id"), 16, "traceId"),
                    span_id=_id(_field(s, "spanId", "span_id"), 8, "spanId"),
                    parent_id=_id(parent, 8, "parentSpanId") if parent else None,
                    name=_text(s, "name", "name"), kind=KINDS.get(_enum(_field(s, "kind"), _KINDS, "kind"),
                               "unspecified"),
                    start_ns=_u64(_field(s, "startTimeUnixNano", "start_time_unix_nano"), "startTimeUnixNano"),
                    end_ns=_u64(_field(s, "endTimeUnixNano", "end_time_unix_nano"), "endTimeUnixNano"),
                    attributes=_attributes(s, "attributes", budget),
                    events=[{"name": _text(e, "name", "events.name"),
                             "time_ns": _u64(_field(e, "timeUnixNano", "time_unix_nano"), "events.timeUnixNano"),
                             "attributes": _attributes(e, "events.attributes", budget)} for e in map(_event, events)],
                    status=STATUSES.get(_enum(_field(status, "code"), _STATUS_CODES, "status.code"), "unset"),
                    status_message=_text(status, "message", "status.message"), resource=resource, scope=scope))
    return out


def _field(obj: dict, camel: str, snake: str | None = None) -> Any:
    value = obj.get(camel)
    return obj.get(snake) if value is None and snake else value


def _obj(value: Any, name: str) -> dict:
    if not isinstance(value, dict):
        raise InvalidInput("errors.traces.json_object", name=name)
    return value


def _event(value: Any) -> dict:
    return _obj(value, "events[]")


def _list(obj: dict, camel: str, snake: str | None = None) -> list:
    value = _field(obj, camel, snake)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise InvalidInput("errors.traces.list_objects", camel=camel)
    return value


def _text(obj: dict, key: str, name: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput("errors.traces.name_string", name=name)
    if "\x00" in value:
        raise InvalidInput("errors.traces.text_may_contain_nul", name=name)
    return value


def _id(value: Any, size: int, name: str) -> str:
    if not isinstance(value, str) or len(value) != 2 * size:
        raise InvalidInput("errors.traces.hex_digits", name=name, size=2 * size)
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise InvalidInput("errors.traces.hex_digits_got", name=name, value=value[:40]) from None
    if not any(raw):
        raise InvalidInput("errors.traces.may_all_zero", name=name)
    return raw.hex()


def _int(value: Any, name: str) -> int:
    if isinstance(value, str):
        text = value[1:] if value[:1] == "-" else value
        if text.isascii() and text.isdigit() and len(text) <= 20:
            return int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        return value
    elif isinstance(value, float) and value.is_integer():
        return int(value)
    raise InvalidInput("errors.traces.whole_number_json_number", name=name)


def _u64(value: Any, name: str) -> int:
    if value is None:
        return 0
    number = _int(value, name)
    if not 0 <= number <= MAX_U64:
        raise InvalidInput("errors.traces.from_0_2_64", name=name)
    return number


def _enum(value: Any, names: dict[str, int], name: str) -> int:
    if value is None:
        return 0
    if isinstance(value, str) and value in names:
        return names[value]
    return _int(value, name)


def _attributes(obj: dict, name: str, budget: Budget) -> dict[str, Any]:
    items = _list(obj, "attributes")
    budget.take(len(items))
    return {_text(kv, "key", f"{name}.key"): _value(kv.get("value"), kv.get("key"), 0, budget) for kv in items}


def _value(v: Any, key: str, depth: int, budget: Budget) -> Any:
    """An AnyValue: {"stringValue": ...} | intValue | doubleValue | boolValue | arrayValue | kvlistValue | bytesValue."""
    if v is None or v == {}:
        return None
    name = f"attributes.{key}"
    v = _obj(v, name)
    for field, snake in (("stringValue", "string_value"), ("boolValue", "bool_value"), ("intValue", "int_value"),
                         ("doubleValue", "double_value"), ("arrayValue", "array_value"),
                         ("kvlistValue", "kvlist_value"), ("bytesValue", "bytes_value")):
        found = _field(v, field, snake)
        if found is not None:
            return _typed(field, found, name, key, depth, budget)
    return None


def _typed(field: str, found: Any, name: str, key: str, depth: int, budget: Budget) -> Any:
    if field == "stringValue":
        return _text({"v": found}, "v", name)
    if field == "boolValue":
        if not isinstance(found, bool):
            raise InvalidInput("errors.traces.boolvalue_true_false", name=name)
        return found
    if field == "intValue":
        number = _int(found, name)
        if not -(2**63) <= number < 2**63:
            raise InvalidInput("errors.traces.intvalue_out_64_bit", name=name)
        return number
    if field == "doubleValue":
        if isinstance(found, bool) or not isinstance(found, (int, float)) or not math.isfinite(found):
            raise InvalidInput("errors.traces.numbers_finite_nan_infinity", name=name)
        return float(found)
    if field == "bytesValue":
        try:
            return binascii.hexlify(base64.b64decode(found, validate=True)).decode()
        except (binascii.Error, TypeError, ValueError):
            raise InvalidInput("errors.traces.bytesvalue_base64", name=name) from None
    if depth >= MAX_VALUE_DEPTH:
        raise InvalidInput("errors.traces.nested_deeper_than_levels", name=name, max_value_depth=MAX_VALUE_DEPTH)
    values = _list(_obj(found, name), "values")
    budget.take(len(values))
    if field == "arrayValue":
        return [_value(x, key, depth + 1, budget) for x in values]
    return {_text(kv, "key", name): _value(kv.get("value"), key, depth + 1, budget) for kv in values}
