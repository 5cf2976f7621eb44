"""OTLP trace export requests (OTLP/HTTP) decoded into plain span records (domain/span_records.py),
and OTLP's answers (pure).

Protobuf bodies are read by `opentelemetry-proto`'s messages; JSON bodies by domain/otlp_json.py.
Attribute values become Python values (str, int, float, bool, bytes as hex, lists and dicts); text
that a database cannot store (NUL) and numbers that are not finite are refused here, as every other
ingest path refuses them."""

from __future__ import annotations

import binascii
import json
import math
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from promptyard.domain import otlp_json
from promptyard.domain.span_records import KINDS, MAX_VALUE_DEPTH, STATUSES, Budget, Span
from promptyard.errors import InvalidInput

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


def decode(body: bytes, media_type: str, *, max_values: int) -> list[Span]:
    """The spans of one export request; InvalidInput when the body is not one, TooLarge when it
    holds more than `max_values` attribute values (counted as the JSON body check counts them)."""
    budget = Budget(max_values)
    if media_type != PROTOBUF:
        return otlp_json.spans(body, budget)
    message = ExportTraceServiceRequest()
    try:
        message.ParseFromString(body)
    except (DecodeError, RecursionError, ValueError) as exc:
        raise InvalidInput("errors.traces.body_otlp_exporttraceservicerequest_protobuf", exc=exc) from None
    return [span for rs in message.resource_spans for span in _spans(rs, budget)]


def _spans(rs: Any, budget: Budget) -> list[Span]:
    resource = _attributes(rs.resource.attributes, budget)
    out = []
    for ss in rs.scope_spans:
        scope = _text(ss.scope.name, "scope.name")
        for s in ss.spans:
            trace_id, span_id = _hex(s.trace_id, 16, "traceId"), _hex(s.span_id, 8, "spanId")
            budget.take(1 + len(s.events))
            out.append(Span(
                trace_id=trace_id, span_id=span_id,
                parent_id=_hex(s.parent_span_id, 8, "parentSpanId") if s.parent_span_id else None,
                name=_text(s.name, "name"), kind=KINDS.get(s.kind, "unspecified"),
                start_ns=s.start_time_unix_nano, end_ns=s.end_time_unix_nano,
                attributes=_attributes(s.attributes, budget),
                events=[{"name": _text(e.name, "events.name"), "time_ns": e.time_unix_nano,
                         "attributes": _attributes(e.attributes, budget)} for e in s.events],
                status=STATUSES.get(s.status.code, "unset"), status_message=_text(s.status.message, "status.message"),
                resource=resource, scope=scope))
    return out


def _hex(raw: bytes, size: int, name: str) -> str:
    if len(raw) != size or not any(raw):
        raise InvalidInput("errors.traces.bytes_all_zero_got", name=name, size=size, n=len(raw))
    return binascii.hexlify(raw).decode()


def _text(value: str, name: str) -> str:
    if "\x00" in value:
        raise InvalidInput("errors.traces.text_may_contain_nul", name=name)
    return value


def _attributes(kvs: Any, budget: Budget) -> dict[str, Any]:
    budget.take(len(kvs))
    out = {}
    for kv in kvs:
        key, v = kv.key, kv.value
        if "\x00" in key:
            _text(key, "attributes.key")
        # Most values are text: read them here, naming the attribute only for an error (a third of
        # decoding went to building that name for every value).
        out[key] = text if v.WhichOneof("value") == "string_value" and "\x00" not in (text := v.string_value) \
            else _value(v, key, 0, budget)
    return out


def _value(v: AnyValue, key: str, depth: int, budget: Budget) -> Any:
    which = v.WhichOneof("value")
    if which == "string_value":
        return v.string_value if "\x00" not in v.string_value else _text(v.string_value, f"attributes.{key}")
    if which in ("int_value", "bool_value"):
        return getattr(v, which)
    if which == "double_value":
        if not math.isfinite(v.double_value):  # JSON columns cannot hold them (as on every ingest path)
            raise InvalidInput("errors.traces.attributes_numbers_finite_nan", key=key)
        return v.double_value
    if which is None:
        return None
    if depth >= MAX_VALUE_DEPTH:
        raise InvalidInput("errors.traces.attributes_nested_deeper_than", key=key, max_value_depth=MAX_VALUE_DEPTH)
    if which == "array_value":
        budget.take(len(v.array_value.values))
        return [_value(x, key, depth + 1, budget) for x in v.array_value.values]
    if which == "kvlist_value":
        budget.take(len(v.kvlist_value.values))
        return {_text(kv.key, f"attributes.{key}"): _value(kv.value, key, depth + 1, budget)
                for kv in v.kvlist_value.values}
    return binascii.hexlify(v.bytes_value).decode()  # bytes_value


def answer(media_type: str, rejected: int = 0, message: str = "") -> bytes:
    """ExportTraceServiceResponse in the request's encoding; partial_success names what was refused."""
    out = ExportTraceServiceResponse()
    if rejected or message:
        out.partial_success.rejected_spans = rejected
        out.partial_success.error_message = message
    return _encode(out, media_type)


def status(media_type: str, code: int, message: str) -> bytes:
    """google.rpc.Status, OTLP/HTTP's error body, in the request's encoding (JSON when unknown)."""
    return _encode(Status(code=code, message=message), media_type)


def _encode(message: Any, media_type: str) -> bytes:
    if media_type == PROTOBUF:
        return message.SerializeToString()
    return json.dumps(json_format.MessageToDict(message)).encode()
